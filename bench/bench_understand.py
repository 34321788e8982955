"""Time `understand()` per message over the shared letters and our labelled set.

Run by hand: ``.venv/bin/python bench/bench_understand.py [--repeat N]``. Prints median, p99
and max milliseconds per message for each set, measured on one core (a plain loop).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.understand import understand, warm_up  # noqa: E402
from bot.understand.evaluate import LabelledItem, load_labelled  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
LABELLED = ROOT / "tests" / "data" / "labelled"


def time_items(items: list[LabelledItem], repeat: int) -> list[float]:
    """Milliseconds per call, every item `repeat` times."""
    timings = []
    for _ in range(repeat):
        for item in items:
            start = time.perf_counter()
            understand(item.text, item.subject, has_attachments=item.has_attachments)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def summary(name: str, items: list[LabelledItem], timings: list[float]) -> str:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    chars = statistics.median(len(i.text) for i in items)
    return (
        f"{name:<10} n={len(items):>4} median chars={chars:>6.0f}  "
        f"median={statistics.median(ordered):6.2f} ms  p99={p99:6.2f} ms  "
        f"max={ordered[-1]:6.2f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    warm_up()
    sets = [("letters", CORPUS), ("labelled", LABELLED)]
    for name, path in sets:
        if not path.exists():
            print(f"{name:<10} skipped: {path} missing")
            continue
        items = load_labelled(path)
        print(summary(name, items, time_items(items, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
