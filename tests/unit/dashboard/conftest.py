"""A dashboard on a temp database: a staff account, a TestClient, cases to look at."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.context import App
from bot.dashboard.app import create_app
from bot.dashboard.auth import add_staff
from storage import models
from storage.db import audit, unit_of_work

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Woken:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def woken() -> Woken:
    return Woken()


@pytest.fixture
def web(app: App, woken: Woken) -> TestClient:
    add_staff(app, username="anna", display_name="Anna Berg", password=PASSWORD)
    return TestClient(create_app(app, woken), follow_redirects=False)


def log_in(web: TestClient, username: str = "anna", password: str = PASSWORD) -> Any:
    token = csrf_of(web.get("/login").text)
    return web.post("/login", data={"username": username, "password": password,
                                    "csrf": token})


@pytest.fixture
def staff(web: TestClient) -> TestClient:
    assert log_in(web).status_code == 303
    return web


def make_case(app: App, *, kind: str = "deletion", days_ago: int = 35, status: str = "open",
              channel: str = "email", address: str = "jane@example.com",
              pending: str | None = None, closed_after_days: float | None = None,
              evidence: str = "") -> models.Case:
    """A case received `days_ago` days ago (due after response_days), with a client on file."""
    now = app.clock.now()
    received = now - timedelta(days=days_ago)
    with unit_of_work(app.engine) as session:
        client = models.Client(name="Jane Doe", created_at=received, last_active_at=received)
        session.add(client)
        session.flush()
        session.add(models.ClientEmail(client_id=client.id, address=address, is_primary=True))
        case = models.Case(kind=kind, intents=kind, status=status, client_id=client.id,
                           requester=address, channel=channel, subject="About my data",
                           received_at=received,
                           due_at=received + timedelta(days=app.settings.response_days),
                           pending_action=pending, evidence=evidence)
        if closed_after_days is not None:
            case.status = "closed"
            case.closed_at = received + timedelta(days=closed_after_days)
        session.add(case)
        session.flush()
        case.ref = f"SP-REQ-{case.id:06d}"
        audit(session, "case.opened", at=received, case_id=case.id, client_id=client.id,
              kind=kind, due_at=case.due_at.isoformat())
    return case
