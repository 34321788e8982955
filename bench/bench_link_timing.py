"""Does the time of a Telegram `/link` (and of a typed code) tell who is a client? (issue 12)

Three kinds of /link, interleaved, each from a fresh chat: an address on file (a code is
hashed, rendered and queued), a stranger's address (no code), and an address on file whose
daily cap is used up (no code). Then one wrong code typed in each of those chats.

Usage: .venv/bin/python bench/bench_link_timing.py [--runs 60]
Prints the median and p90 in ms per kind.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.channels import telegram_link as link
from bot.config import Settings
from bot.context import bootstrap
from bot.demo import seed_demo


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=60)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), demo_data=False,  # type: ignore[call-arg]
                            telegram_link_codes_per_day=10**6, code_mails_per_day=10**6)
        app = bootstrap(settings)
        seed_demo(app)
        kinds = {"client": "jane@example.com", "stranger": "nobody@example.org",
                 "capped client": "max@example.de"}
        link_ms: dict[str, list[float]] = {k: [] for k in kinds}
        code_ms: dict[str, list[float]] = {k: [] for k in kinds}
        user = 10_000
        for _ in range(runs):
            for kind, email in kinds.items():
                user += 1
                # max@ is past his daily /link cap; jane@ is not
                app.settings.telegram_link_codes_per_day = 0 if kind == "capped client" else 10**6
                link_ms[kind].append(_timed(lambda u=user, e=email: link.start_link(app, u, e)))
                code_ms[kind].append(_timed(lambda u=user: link.on_text(app, u, "ABCD-EFGH")))
    for title, table in (("/link", link_ms), ("typed wrong code", code_ms)):
        for kind, values in table.items():
            values.sort()
            print(f"{title:17} {kind:14} median {statistics.median(values):6.1f} ms  "
                  f"p90 {values[int(len(values) * 0.9)]:6.1f} ms  (n={len(values)})")


if __name__ == "__main__":
    main()
