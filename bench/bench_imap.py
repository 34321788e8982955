"""Benchmark IMAP intake (run by hand): a burst of N messages already in the watched mailbox.

A private Dovecot gets N messages (MULTIAPPEND, 500 per command, one connection); the watcher
has seen the mailbox empty before, so they are new mail, not backlog. Then an ImapWatcher starts
and the clock runs until every message is stored and flagged on the server (the mailbox state
reaches the last UID; it is saved only after the flags).

  default    ImapWatcher(app, on_stored=<counter>): store only; the daemon's worker processes
  --inline   ImapWatcher(app): the watcher also runs the pipeline on each message (try -n 1000)

Usage: .venv/bin/python bench/bench_imap.py [-n 10000] [--inline] [--large 0]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func
from sqlmodel import select

from bot.channels.imap import PROCESSED_FLAG, ImapWatcher
from bot.config import Settings
from bot.context import App, bootstrap
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail
from tests.servers.dovecot import DovecotServer

APPEND_CHUNK = 500


def _settings(tmp: Path, server: DovecotServer, user: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp / "var", demo_data=False,  # type: ignore[call-arg]
                    smtp_enabled=False, reply_rate_limit=10**9, log_level="WARNING",
                    imap_host=server.host, imap_port=server.port, imap_ssl=False,
                    imap_user=user, imap_password=server.password,
                    spool_threshold_bytes=1024 * 1024)


def _mail(i: int, large: bool) -> bytes:
    body = "Please send me a copy of my data." + (" padding" * 250_000 if large else "")
    raw = make_mail(body, sender=f"client{i}@example.com", msgid=f"<bench-imap-{i}@example.com>")
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _deliver(server: DovecotServer, user: str, n: int, large_every: int) -> int:
    """APPEND n messages over one connection; returns the highest UID."""
    with server.client(user, timeout=300) as conn:
        for start in range(0, n, APPEND_CHUNK):
            batch = range(start, min(n, start + APPEND_CHUNK))
            conn.multiappend("INBOX", [_mail(i, bool(large_every) and i % large_every == 0)
                                       for i in batch])
        conn.select_folder("INBOX", readonly=True)
        return max(conn.search("ALL"))


def _last_uid(app: App) -> int:
    with unit_of_work(app.engine) as session:
        state = session.exec(select(models.MailboxState)).first()
        return state.last_uid if state else -1


def _rows(app: App) -> int:
    with unit_of_work(app.engine) as session:
        return session.exec(select(func.count()).select_from(models.InboundMessage)).one()


def _wait(predicate: Callable[[], bool], timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("watcher did not finish")
        time.sleep(0.02)


def _initialise(app: App) -> None:
    """One watcher run on the empty mailbox, so the burst is new mail rather than backlog."""
    watcher = ImapWatcher(app)
    watcher.start()
    _wait(lambda: _last_uid(app) >= 0, timeout=30)
    watcher.stop()


def bench(n: int, inline: bool, large_every: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, DovecotServer() as dovecot:
        user = DovecotServer.new_user("bench")
        app = bootstrap(_settings(Path(tmp), dovecot, user))
        _initialise(app)
        started = time.monotonic()
        last = _deliver(dovecot, user, n, large_every)
        appended = time.monotonic() - started
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        handed: list[int] = []
        lock = threading.Lock()

        def count(inbound_id: int) -> None:
            with lock:
                handed.append(inbound_id)

        watcher = ImapWatcher(app) if inline else ImapWatcher(app, on_stored=count)
        started = time.monotonic()
        watcher.start()
        _wait(lambda: _last_uid(app) >= last)
        elapsed = time.monotonic() - started
        watcher.stop()
        flags = dovecot.flags(user)
        flagged = sum(PROCESSED_FLAG in f for f in flags.values())
        result: dict[str, object] = {
            "mode": "inline (pipeline in the watcher)" if inline else "on_stored",
            "messages": n, "stored_rows": _rows(app), "flagged": flagged,
            "handed_on": len(handed) if not inline else "-",
            "ingest_s": round(elapsed, 2), "ingest_per_s": round(n / elapsed, 1),
            "append_per_s": round(n / appended, 1), "rss_before_mb": round(rss_before),
        }
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", "--messages", type=int, default=10_000)
    parser.add_argument("--inline", action="store_true",
                        help="no on_stored: the watcher runs the pipeline itself (old path)")
    parser.add_argument("--large", type=int, default=0, metavar="K",
                        help="make every K-th message ~2 MB (over the 1 MB spool threshold)")
    args = parser.parse_args()
    print(bench(args.messages, args.inline, args.large), flush=True)


if __name__ == "__main__":
    main()
