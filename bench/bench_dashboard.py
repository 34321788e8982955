"""Benchmark the dashboard's pages on SQLite with many cases (server time, no browser).

Seeds N cases over 12 months (rights mixed, a third closed, some overdue, audit entries and
verification codes per case), logs in through the real login form, then times each page
with Starlette's TestClient (in-process ASGI: what the server spends, not the network).

Usage: .venv/bin/python bench/bench_dashboard.py [--cases 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from bot.clock import FrozenClock
from bot.config import Settings
from bot.context import App, bootstrap
from bot.dashboard.app import create_app
from bot.dashboard.auth import add_staff
from storage import models

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
KINDS = ("access", "deletion", "correction", "optout", "restriction", "usage_report", "other")
PAGES = ("/cases", "/cases?view=overdue", "/cases?view=all&right=access", "/cases/SP-REQ-000001",
         "/inbound", "/report", "/report.csv")


def seed(app: App, count: int) -> None:
    cases, audits, codes = [], [], []
    for n in range(1, count + 1):
        received = NOW - timedelta(days=n * 365 / count)
        closed = received + timedelta(days=n % 40) if n % 3 == 0 else None
        cases.append({"id": n, "ref": f"SP-REQ-{n:06d}", "kind": KINDS[n % len(KINDS)],
                      "intents": KINDS[n % len(KINDS)], "status": "closed" if closed else "open",
                      "requester": f"client{n}@example.com", "channel": "email",
                      "language": "en", "subject": "request", "received_at": received,
                      "due_at": received + timedelta(days=30), "closed_at": closed,
                      "escalated": False, "evidence": "{}"})
        audits += [{"at": received, "actor": "bot", "action": "case.opened", "case_id": n,
                    "details": json.dumps({"due_at": (received + timedelta(days=30)).isoformat()})}]
        if closed:
            audits.append({"at": closed, "actor": "bot", "action": "case.status", "case_id": n,
                           "details": '{"new": "closed", "outcome": "done"}'})
        codes.append({"case_id": n, "action": "access", "sent_to": "x", "salt": "00",
                      "code_hash": "00", "created_at": received, "status": "used",
                      "expires_at": received + timedelta(days=1), "channel": "email",
                      "attempts": 0})
    with app.engine.begin() as conn:
        conn.execute(insert(models.Case), cases)
        conn.execute(insert(models.AuditLog), audits)
        conn.execute(insert(models.VerificationCode), codes)


def time_pages(app: App, runs: int) -> dict[str, list[float]]:
    from starlette.testclient import TestClient

    add_staff(app, username="bench", display_name="Bench", password="bench password 1")
    web = TestClient(create_app(app), follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").text)
    assert token
    web.post("/login", data={"username": "bench", "password": "bench password 1",
                             "csrf": token.group(1)})
    timings: dict[str, list[float]] = {page: [] for page in PAGES}
    for _ in range(runs):
        for page in PAGES:
            start = time.perf_counter()
            response = web.get(page)
            timings[page].append(time.perf_counter() - start)
            assert response.status_code == 200, (page, response.status_code)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), demo_data=False)  # type: ignore[call-arg]
        app = bootstrap(settings, clock=FrozenClock(NOW))
        start = time.perf_counter()
        seed(app, args.cases)
        print(f"seeded {args.cases} cases in {time.perf_counter() - start:.1f} s")
        for page, values in time_pages(app, args.runs).items():
            print(f"{page:32} median {statistics.median(values) * 1000:7.1f} ms   "
                  f"max {max(values) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
