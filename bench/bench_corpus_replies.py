"""Replies to machines and to spam over the shared corpus: the whole pipeline, one tree's code.

Every corpus mail is stored and handled (as `inject` does, replies composed into the outbox
table, nothing sent) in a fresh SQLite database; then the replies that went to the sender
(staff notices not counted) are set against hand-made labels in bench/corpus_labels.tsv
(robot: machine-generated; spam: unsolicited bulk or fraud; unlisted: a person or a test mail
that stands for one).

Usage:
  .venv/bin/python bench/bench_corpus_replies.py                       # this tree
  .venv/bin/python bench/bench_corpus_replies.py --tree /tmp/main-tree # another checkout
  .venv/bin/python bench/bench_corpus_replies.py --corpus tests/data/heldout_mail \
      --labels tests/data/heldout_mail/LABELS.tsv                          # held-out mails
      [--spamd 127.0.0.1:783] [--corpus DIR] [--list]
Another tree is e.g. `git archive 7294f4f | tar -x -C /tmp/main-tree` (run with this venv).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parents[1] / "shared" / "corpus" / "emails"
LABELS = HERE / "corpus_labels.tsv"


def load_labels(path: Path = LABELS) -> dict[str, str]:
    labels: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rel, label, *_ = line.split("\t")
            labels[rel] = label
    return labels


def run(tree: Path, corpus: Path, spamd: str | None) -> dict[str, tuple[str, int]]:
    """{corpus path: (final status, mails sent to anyone but staff while handling it)}."""
    sys.path.insert(0, str(tree))
    from sqlmodel import select

    from bot.config import Settings
    from bot.context import bootstrap
    from bot.intake import store_raw
    from bot.pipeline import process_inbound
    from storage import models
    from storage.db import unit_of_work

    values: dict[str, Any] = {"demo_data": False, "download_enabled": False,
                              "scheduler_enabled": False, "smtp_enabled": False,
                              "templates_dir": tree / "templates"}
    if spamd:
        host, _, port = spamd.rpartition(":")
        values |= {"spamd_host": host, "spamd_port": int(port)}
    with tempfile.TemporaryDirectory(prefix="corpus-replies-") as tmp:
        app = bootstrap(Settings(_env_file=None, data_dir=Path(tmp), **values))  # type: ignore[call-arg]
        staff = app.settings.staff_address
        results: dict[str, tuple[str, int]] = {}
        for path in sorted(p for p in corpus.rglob("*")
                           if p.is_file() and p.suffix not in (".tsv", ".md")):
            inbound_id, _ = store_raw(app, "inject", path.read_bytes())
            with unit_of_work(app.engine) as session:
                before = max(session.exec(select(models.Outbox.id)).all() or [0])
            process_inbound(app, inbound_id)
            with unit_of_work(app.engine) as session:  # what handling this one mail sent out
                row = session.get(models.InboundMessage, inbound_id)
                sent = session.exec(select(models.Outbox).where(
                    models.Outbox.id > before, models.Outbox.to_addr != staff)).all()
                assert row is not None
                results[str(path.relative_to(corpus))] = (row.status, len(sent))
        app.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=HERE.parent)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--labels", type=Path, default=LABELS,
                        help="TSV: path, robot|spam|person, note (default: the shared corpus')")
    parser.add_argument("--spamd", help="host:port of a spamd to ask (this tree only)")
    parser.add_argument("--list", action="store_true", help="print labelled mails answered")
    args = parser.parse_args()
    labels = load_labels(args.labels)
    results = run(args.tree.resolve(), args.corpus, args.spamd)
    statuses = Counter(status for status, _ in results.values())
    code = Path(sys.modules["bot"].__file__ or "").parent.parent
    print(f"code from {code}: {len(results)} mails; statuses {dict(sorted(statuses.items()))}")
    for label in ("robot", "spam"):
        labelled = [rel for rel, lab in labels.items() if lab == label and rel in results]
        answered = [rel for rel in labelled if results[rel][1]]
        print(f"  {label}: {len(answered)} of {len(labelled)} answered")
        if args.list:
            for rel in answered:
                print(f"    {rel} ({results[rel][0]})")
    unlabelled = {rel: status for rel, (status, _) in results.items()
                  if labels.get(rel) not in ("robot", "spam")}
    answered = sum(1 for rel in unlabelled if results[rel][1])
    held = Counter(s for s in unlabelled.values() if s in ("robot", "spam", "duplicate"))
    print(f"  unlabelled (people and test mails): {answered} of {len(unlabelled)} answered; "
          f"filed without reply: {dict(sorted(held.items()))}")
    if args.list:
        for rel, status in unlabelled.items():
            if status in ("robot", "spam"):
                print(f"    {rel} ({status})")


if __name__ == "__main__":
    main()
