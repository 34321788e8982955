"""Benchmark the retention sweep on SQLite: 100,000 clients and 1,000,000 communications.

Seeding runs in a child process so the figures are the sweep's own: wall time and peak RSS
(ru_maxrss) of the process that runs it. Targets: <= 60 s, <= 500 MB.

Data (clock frozen at 2026-11-25): every client has an address and one project; 60 % of the
clients went quiet in 2020 (contact due), their projects completed in 2020 (files and
communications due); 1 % have an open case and 1 % a legal hold (both protected). Ten
communications per client, half linked to the project; 200,000 website-usage rows.

Usage: .venv/bin/python bench/bench_retention.py [--clients 100000] [--per-client 10]
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from bot.clock import FrozenClock
from bot.config import Settings
from bot.context import App, bootstrap
from bot.retention import due_counts, sweep
from storage import models

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
OLD = datetime(2020, 3, 1, tzinfo=UTC)
CHUNK = 50_000


def _app(data_dir: Path) -> App:
    settings = Settings(_env_file=None, data_dir=data_dir, demo_data=False,  # type: ignore[call-arg]
                        log_level="WARNING")
    return bootstrap(settings, clock=FrozenClock(NOW))


def _insert(app: App, table: Any, rows: list[dict[str, Any]]) -> None:
    with app.engine.begin() as conn:
        for start in range(0, len(rows), CHUNK):
            conn.execute(insert(table), rows[start:start + CHUNK])


def seed(data_dir: Path, clients: int, per_client: int) -> None:
    app = _app(data_dir)
    rng = random.Random(5)
    due = [rng.random() < 0.6 for _ in range(clients)]
    _insert(app, models.Client.__table__, [
        {"id": i, "name": f"Client {i}", "phone": "+1 555 0100", "business_address": "1 Road",
         "created_at": OLD - timedelta(days=400),
         "last_active_at": OLD if due[i - 1] else NOW - timedelta(days=10)}
        for i in range(1, clients + 1)])
    _insert(app, models.ClientEmail.__table__, [
        {"client_id": i, "address": f"c{i}@example.com", "is_primary": True}
        for i in range(1, clients + 1)])
    _insert(app, models.Project.__table__, [
        {"id": i, "reference": f"SP-{i:07d}", "client_id": i, "title": "Bracket",
         "status": "completed", "created_at": OLD - timedelta(days=30),
         "updated_at": OLD if due[i - 1] else NOW - timedelta(days=5),
         "completed_at": OLD if due[i - 1] else NOW - timedelta(days=5)}
        for i in range(1, clients + 1)])
    _seed_protection(app, clients)
    _seed_communications(app, rng, due, per_client)
    _insert(app, models.WebsiteUsage.__table__, [
        {"client_id": rng.randint(1, clients), "path": rng.choice(("/", "/quote", "/pricing")),
         "occurred_at": NOW - timedelta(days=rng.randrange(1, 1500))}
        for _ in range(200_000)])
    app.engine.dispose()


def _seed_protection(app: App, clients: int) -> None:
    step = 100
    _insert(app, models.Case.__table__, [
        {"kind": "access", "requester": f"c{i}@example.com", "client_id": i, "status": "open",
         "received_at": NOW - timedelta(days=3), "due_at": NOW + timedelta(days=27),
         "intents": "access", "channel": "email", "language": "en", "subject": "",
         "escalated": False, "evidence": ""}
        for i in range(1, clients + 1, step)])
    _insert(app, models.LegalHold.__table__, [
        {"client_id": i, "reason": "audit", "created_at": NOW - timedelta(days=100)}
        for i in range(2, clients + 1, step)])


def _seed_communications(app: App, rng: random.Random, due: list[bool],
                         per_client: int) -> None:
    rows: list[dict[str, Any]] = []
    for i, old in enumerate(due, start=1):
        for n in range(per_client):
            occurred = (OLD - timedelta(days=rng.randrange(1, 300)) if old
                        else NOW - timedelta(days=rng.randrange(1, 2000)))
            rows.append({"client_id": i, "project_id": i if n % 2 else None, "channel": "email",
                         "direction": "in" if n % 2 else "out", "address": f"c{i}@example.com",
                         "subject": "About my model", "occurred_at": occurred})
        if len(rows) >= CHUNK * 4:
            _insert(app, models.Communication.__table__, rows)
            rows = []
    _insert(app, models.Communication.__table__, rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--seed-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_into:
        seed(args.seed_into, args.clients, args.per_client)
        return
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--clients", str(args.clients),
                        "--per-client", str(args.per_client), "--seed-into", str(data_dir)],
                       check=True)
        print(f"seeded {args.clients:,} clients, {args.clients * args.per_client:,} "
              f"communications in {time.perf_counter() - started:.1f} s")
        _measure(_app(data_dir))


def _measure(app: App) -> None:
    started = time.perf_counter()
    counts = due_counts(app)
    print(f"counted what is due in {time.perf_counter() - started:.1f} s: "
          + ", ".join(f"{s.rule}/{s.table}={n:,}" for s, n in counts))
    started = time.perf_counter()
    report = sweep(app)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"sweep: {report.total:,} rows in {elapsed:.1f} s "
          f"({report.total / elapsed:,.0f} rows/s), peak RSS {peak_mb:.0f} MB")
    for rule, tables in report.counts.items():
        print(f"  {rule:20s} " + ", ".join(f"{t}={n:,}" for t, n in tables.items()))
    verdict = "OK" if elapsed <= 60 and peak_mb <= 500 else "OVER TARGET"
    print(f"targets <= 60 s, <= 500 MB: {verdict}")


if __name__ == "__main__":
    main()
