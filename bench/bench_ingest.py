"""Benchmark the email spine (run by hand; results go in the README).

1. Mailbox-to-acknowledgement latency: N messages APPENDed one at a time to a real Dovecot
   watched with IDLE; time from APPEND until the reply .eml is in the outbox folder.
2. Burst ingest: M messages sent through the SMTP listener over several connections; rates for
   acceptance (250 answered) and for full handling (reply written for every message).

   Beside it: the bare stdlib parse rate of the same messages (BytesParser with
   policy.default, body read), and the handling time per message over the first and the last
   1,000 handled (from processed_at).

Usage: .venv/bin/python bench/bench_ingest.py [--latency 200] [--burst 10000]
           [--postgres | --postgres-url URL] [--workers N]
--postgres starts a private PostgreSQL (tests/servers/postgres.py, data on /dev/shm) with
fsync and synchronous_commit switched back on.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from email import policy
from email.parser import BytesParser

from sqlmodel import col, select

from bot.config import Settings
from bot.context import App, bootstrap
from bot.daemon import Daemon
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail
from tests.servers.dovecot import DovecotServer
from tests.servers.postgres import PostgresServer


class Running:
    def __init__(self, app: App, workers: int = 1) -> None:
        self.daemon = Daemon(app, workers=workers)
        self.ready = threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        task = asyncio.create_task(self.daemon.serve())
        await self.daemon.ready.wait()
        self.ready.set()
        await task

    def __enter__(self) -> Daemon:
        self.thread.start()
        self.ready.wait(30)
        return self.daemon

    def __exit__(self, *exc: object) -> None:
        self.daemon.request_stop()
        self.thread.join(30)


def _settings(tmp: Path, **extra: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp / "var", demo_data=False, smtp_port=0,  # type: ignore[call-arg]
                    reply_rate_limit=10**9, outbox_poll_seconds=0.05, log_level="WARNING",
                    **extra)


def _outbox_count(app: App) -> int:
    return sum(1 for _ in app.settings.outbox_path.glob("*-ack.eml"))


def _wait_count(app: App, count: int, timeout: float = 3600, poll: float = 0.002) -> None:
    """Poll the outbox folder; bursts poll slowly, as listing thousands of files in the
    daemon's own process would take CPU from the daemon being measured."""
    deadline = time.monotonic() + timeout
    while _outbox_count(app) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {_outbox_count(app)} of {count} replies")
        time.sleep(poll)


def bench_latency(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, DovecotServer() as dovecot:
        user = DovecotServer.new_user("bench")
        app = bootstrap(_settings(Path(tmp), imap_host=dovecot.host, imap_port=dovecot.port,
                                  imap_ssl=False, imap_user=user,
                                  imap_password=dovecot.password, smtp_enabled=False))
        samples = []
        with Running(app):
            time.sleep(1.0)  # the watcher records the empty mailbox first
            for i in range(n):
                raw = make_mail("Please send me a copy of my data.",
                                sender=f"lat{i}@example.com", msgid=f"<lat-{i}@example.com>")
                start = time.monotonic()
                dovecot.deliver(user, raw)
                _wait_count(app, i + 1, timeout=30)
                samples.append(time.monotonic() - start)
    samples.sort()
    return {"n": n, "median_s": statistics.median(samples),
            "p99_s": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
            "max_s": samples[-1]}


def bench_idle_floor(n: int) -> dict[str, float]:
    """The server's own share: APPEND until a bare IDLE client hears EXISTS (no bot)."""
    samples = []
    with DovecotServer() as dovecot:
        user = DovecotServer.new_user("floor")
        dovecot.deliver(user, make_mail("warm-up"))
        with dovecot.client(user) as client:
            client.select_folder("INBOX")
            for i in range(n):
                client.idle()
                start = time.monotonic()
                threading.Thread(target=dovecot.deliver,
                                 args=(user, make_mail(f"floor {i}"))).start()
                while not any(r[1] == b"EXISTS" for r in client.idle_check(timeout=5)
                              if len(r) > 1):
                    pass
                samples.append(time.monotonic() - start)
                client.idle_done()
    samples.sort()
    return {"n": n, "median_s": statistics.median(samples), "max_s": samples[-1]}


def bench_burst(m: int, connections: int = 4, database_url: str | None = None,
                workers: int = 1) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        extra = {"database_url": database_url} if database_url else {}
        app = bootstrap(_settings(Path(tmp), **extra))
        mails = [make_mail("Please delete my data.", sender=f"u{i}@example.com",
                           msgid=f"<burst-{i}@example.com>") for i in range(m)]
        parse_per_s = bare_parse_rate(mails)
        with Running(app, workers) as daemon:
            port = daemon.smtp_port
            assert port is not None
            start = time.monotonic()
            chunks = [mails[i::connections] for i in range(connections)]
            with ProcessPoolExecutor(connections) as pool:  # senders outside our GIL
                list(pool.map(_send_all, [port] * connections, chunks))
            accepted = time.monotonic() - start
            _wait_count(app, m, poll=0.25)
            handled = time.monotonic() - start
        first_ms, last_ms = _per_message_ms(app)
    return {"messages": m, "workers": workers, "accept_per_s": m / accepted,
            "handled_per_s": m / handled, "accept_s": accepted, "handled_s": handled,
            "bare_parse_per_s": parse_per_s, "handled_vs_parse": m / handled / parse_per_s,
            "first_1000_ms_per_msg": first_ms, "last_1000_ms_per_msg": last_ms}


def bare_parse_rate(mails: list[bytes]) -> float:
    """Messages/s for the stdlib alone: parse with policy.default and read the text body."""
    parser = BytesParser(policy=policy.default)
    start = time.perf_counter()
    for raw in mails:
        body = parser.parsebytes(raw).get_body(("plain",))
        if body is not None:
            body.get_content()
    return len(mails) / (time.perf_counter() - start)


def _per_message_ms(app: App, window: int = 1000) -> tuple[float, float]:
    """Mean time between handled messages over the first and the last `window` handled."""
    with unit_of_work(app.engine) as session:
        stamps = sorted(t for t in session.exec(
            select(models.InboundMessage.processed_at)
            .where(col(models.InboundMessage.processed_at).is_not(None))) if t)
    window = min(window, len(stamps) // 2)
    if window < 2:
        return float("nan"), float("nan")
    first = (stamps[window - 1] - stamps[0]).total_seconds() / (window - 1)
    last = (stamps[-1] - stamps[-window]).total_seconds() / (window - 1)
    return first * 1000, last * 1000


def _send_all(port: int, mails: list[bytes]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for raw in mails:
            smtp.sendmail("sender@example.com", ["info@stelloloxonpro.com"], raw)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--postgres", action="store_true",
                        help="start a private PostgreSQL (durable commits) for the burst")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--idle-floor", type=int, default=0,
                        help="also measure Dovecot's own APPEND-to-EXISTS delay")
    args = parser.parse_args()
    if args.idle_floor:
        print("Dovecot IDLE floor (no bot):", bench_idle_floor(args.idle_floor), flush=True)
    if args.latency:
        print("latency (Dovecot IDLE -> reply in outbox):", bench_latency(args.latency), flush=True)
    if args.burst:
        if args.postgres:
            with PostgresServer() as pg:
                url = pg.create_database("bench")
                _durable(pg)
                result = bench_burst(args.burst, database_url=url, workers=args.workers)
        else:
            result = bench_burst(args.burst, database_url=args.postgres_url,
                                 workers=args.workers)
        print("burst ingest (SMTP, 4 connections):",
              {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()},
              flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process (daemon in a thread) {peak:.0f} MB, "
          f"largest child process {children:.0f} MB")


def _durable(pg: PostgresServer) -> None:
    """The test server runs with fsync off; a benchmark commits the way production does."""
    import psycopg

    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = on")
        conn.execute("SELECT pg_reload_conf()")


if __name__ == "__main__":
    main()
