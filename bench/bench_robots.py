"""How many mails of a corpus each robot rule catches (parse + rule chain only, no database).

Usage: .venv/bin/python bench/bench_robots.py [CORPUS_DIR] [--list]
Default corpus: ../shared/corpus/emails (read in place, never copied into the package).
Prints, per rule, the mails it fires on and those it alone catches, then the mails that at
least one rule calls a robot;
--list also prints each robot mail with its rules.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.mime import MessageParseError, parse_message  # noqa: E402
from bot.robots import RULES, robot_verdict  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "emails"


def verdicts(corpus: Path) -> dict[str, list[str]]:
    """{relative path: rules fired} for every mail that parses."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        try:
            parsed = parse_message(path.read_bytes(), max_attachment_bytes=5_000_000)
        except MessageParseError:
            continue
        found[str(path.relative_to(corpus))] = robot_verdict(parsed)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--list", action="store_true", help="print every robot mail")
    args = parser.parse_args()
    found = verdicts(args.corpus)
    per_rule = Counter(name for fired in found.values() for name in fired)
    robots = {path: fired for path, fired in found.items() if fired}
    alone = Counter(fired[0] for fired in found.values() if len(fired) == 1)
    print(f"{len(found)} mails parsed in {args.corpus}")
    print(f"  {'rule':28} {'fires':>5} {'alone':>5}")
    for rule in RULES:
        print(f"  {rule.name:28} {per_rule[rule.name]:5} {alone[rule.name]:5}")
    print(f"robots (any rule): {len(robots)}")
    if args.list:
        for path, fired in robots.items():
            print(f"  {path}: {', '.join(fired)}")


if __name__ == "__main__":
    main()
