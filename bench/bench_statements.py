"""Count SQL statements and ORM flushes per handled message (run by hand; deterministic).

Stores N varied messages (new requests of several kinds from known clients and strangers,
repeats from the same sender, follow-ups by case tag, Message-ID duplicates, robots, staff
mail, mail without Message-ID) and handles them with process_pending on SQLite, counting
every statement the engine executes (SQLAlchemy `before_cursor_execute`, executemany counts
once) and every Session flush while the pipeline runs.

Usage: .venv/bin/python bench/bench_statements.py [--messages 200] [--batch 50]

Issue #18 (on this mix, batch 50): 16.42 statements and 5.68 flushes per message before
the batch cache, 9.52 and 1.90 after.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event
from sqlmodel import Session, func, select

from bot import pipeline
from bot.clock import FrozenClock
from bot.config import Settings
from bot.context import App, bootstrap
from bot.demo import seed_demo
from bot.intake import store_raw
from storage import models
from storage.db import unit_of_work
from tests import dkimkeys
from tests.helpers import make_mail

START = datetime.fromisoformat("2026-11-25T09:00:00+00:00")
BODIES = (
    "Please send me a copy of my data.",
    "Please delete my data.",
    "Unsubscribe me from your newsletter.",
    "What is the status of project SP-2025-0041?",
    "I want to complain about the late delivery.",
    "Please correct my phone number to +1 941 555 0199.",
    "Hello, just saying hi.",
)
SENDERS = ("jane@example.com", "max@example.de", "camille@example.fr")


def varied_mails(n: int) -> Iterator[bytes]:
    """A deterministic mix; message i depends only on i."""
    for i in range(n):
        yield _mail(i)


def _mail(i: int) -> bytes:
    body = BODIES[i % len(BODIES)]
    kind = i % 10
    if kind in (0, 1, 2):  # a known client
        return make_mail(body, sender=SENDERS[i % 3], msgid=f"<c{i}@example.com>")
    if kind == 3:  # the same stranger again and again: repeats join the open case
        return make_mail(body, sender="repeat@example.org", msgid=f"<r{i}@example.org>")
    if kind == 4:  # a follow-up by case tag (the case exists once an earlier one opened it)
        return make_mail("Any news?", sender="repeat@example.org",
                         subject="Re: [SP-000001] Privacy request", msgid=f"<f{i}@example.org>")
    if kind == 5:  # the same Message-ID as message i - 5 (a second copy from the mailbox)
        return _mail(i - 5) if i >= 5 else make_mail(body, msgid=f"<d{i}@example.com>")
    if kind == 6:  # a robot
        return make_mail("Out of office", sender=f"bot{i}@example.net", msgid=f"<o{i}@x.net>",
                         headers={"Auto-Submitted": "auto-replied"})
    if kind == 7:  # staff mail
        return make_mail("help", sender="boss@stelloloxonpro.com", subject="help",
                         msgid=f"<s{i}@stelloloxonpro.com>")
    if kind == 8:  # no Message-ID header: the re-delivery fingerprint is checked
        raw = make_mail(body, sender=f"nomid{i % 20}@example.org", msgid="<x@x>")
        return b"\n".join(line for line in raw.split(b"\n")
                          if not line.startswith(b"Message-ID:"))
    return make_mail(body, sender=f"new{i}@example.org", msgid=f"<n{i}@example.org>")


@contextmanager
def counting(app: App) -> Iterator[Counter[str]]:
    """Count statements (by first word) and flushes while the block runs."""
    counts: Counter[str] = Counter()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        counts["statements"] += 1
        counts[statement.split(None, 1)[0].upper()] += 1

    def on_flush(*_args: Any) -> None:
        counts["flushes"] += 1

    event.listen(app.engine, "before_cursor_execute", on_execute)
    event.listen(Session, "after_flush", on_flush)
    try:
        yield counts
    finally:
        event.remove(app.engine, "before_cursor_execute", on_execute)
        event.remove(Session, "after_flush", on_flush)


def run(n: int, batch: int) -> tuple[Counter[str], Counter[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "var",  # type: ignore[call-arg]
                            demo_data=False, smtp_port=0, log_level="WARNING",
                            staff_senders=["boss@stelloloxonpro.com"], reply_rate_limit=10**9)
        app = bootstrap(settings, clock=FrozenClock(START))
        app.dns_txt = dkimkeys.dns_txt
        seed_demo(app)
        for raw in varied_mails(n):
            store_raw(app, "inject", raw)
        with counting(app) as counts:
            while pipeline.process_batch(app, batch):
                pass
        with unit_of_work(app.engine) as session:
            statuses = Counter(dict(session.exec(
                select(models.InboundMessage.status, func.count())
                .group_by(models.InboundMessage.status)).all()))
    return counts, statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    counts, statuses = run(args.messages, args.batch)
    n = args.messages
    print(f"messages: {n}  batch: {args.batch}  statuses: {dict(sorted(statuses.items()))}")
    print(f"statements/message: {counts['statements'] / n:.2f}  "
          f"flushes/message: {counts['flushes'] / n:.2f}")
    kinds = {k: v for k, v in counts.items() if k not in ("statements", "flushes")}
    print("by kind (per message):",
          {k: round(v / n, 2) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])})


if __name__ == "__main__":
    main()
