"""The dashboard's queries on a real PostgreSQL server: login, lists, search, case, report."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from bot.context import App
from bot.dashboard.app import create_app
from bot.dashboard.auth import add_staff
from bot.intake import store_raw
from bot.pipeline import process_inbound
from tests.helpers import make_mail

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_dashboard_pages_on_postgres(make_app: Callable[..., App], postgres_url: str) -> None:
    app = make_app(database_url=postgres_url)
    assert app.engine.dialect.name == "postgresql"
    add_staff(app, username="anna", display_name="Anna Berg", password=PASSWORD)
    inbound_id, _ = store_raw(app, "inject", make_mail("Please delete all my data"))
    process_inbound(app, inbound_id)
    web = TestClient(create_app(app), follow_redirects=False)
    login = web.post("/login", data={"username": "anna", "password": PASSWORD,
                                     "csrf": _csrf(web.get("/login").text)})
    assert login.status_code == 303
    cases = web.get("/cases?right=deletion&channel=email")
    assert "SP-REQ-000001" in cases.text
    found = web.post("/cases/search", data={"q": "jane@", "csrf": _csrf(cases.text)})
    assert "SP-REQ-000001" in found.text
    assert "Please delete all my data" in web.get("/cases/SP-REQ-000001").text
    assert "robot (0)" in web.get("/inbound").text
    assert "<svg" in web.get("/report").text
    assert web.get("/report.csv").text.splitlines()[1].startswith("SP-REQ-000001,")
