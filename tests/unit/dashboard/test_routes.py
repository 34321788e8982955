"""Each dashboard route as a staff member sees it (and as someone without a login does not)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.context import App
from bot.intake import store_raw
from bot.pipeline import process_inbound
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail
from tests.unit.dashboard.conftest import Woken, csrf_of, log_in, make_case

PAGES = ["/", "/cases", "/cases?view=overdue", "/cases/SP-REQ-000001", "/inbound",
         "/inbound?status=robot", "/report", "/report.csv"]


@pytest.mark.parametrize("path", PAGES)
def test_nothing_is_visible_without_login(app: App, web: TestClient, path: str) -> None:
    make_case(app)
    response = web.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert "jane@example.com" not in response.text


@pytest.mark.parametrize("path", ["/cases/search", "/cases/SP-REQ-000001/action",
                                  "/inbound/1/process", "/inbound/1/release", "/logout"])
def test_forms_without_login_are_refused(app: App, web: TestClient, path: str) -> None:
    make_case(app)
    response = web.post(path, data={"action": "approve"})
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_login_sets_a_strict_httponly_cookie_and_is_audited(app: App, web: TestClient) -> None:
    response = log_in(web)
    assert response.status_code == 303 and response.headers["location"] == "/cases"
    cookie = response.headers["set-cookie"]
    assert "dash_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # no TLS in front by default
    with unit_of_work(app.engine) as session:
        actions = [a.actor for a in session.exec(select(models.AuditLog).where(
            models.AuditLog.action == "dashboard.login"))]
    assert actions == ["dashboard:anna"]


def test_secure_cookie_behind_tls(make_app: object) -> None:
    from bot.dashboard.app import create_app
    from bot.dashboard.auth import add_staff

    app = make_app(dashboard_secure_cookies=True)  # type: ignore[operator]
    add_staff(app, username="anna", display_name="", password="correct horse battery")
    web = TestClient(create_app(app), base_url="https://testserver", follow_redirects=False)
    assert "Secure" in log_in(web).headers["set-cookie"]


def test_wrong_password_says_so(web: TestClient) -> None:
    response = log_in(web, password="not the password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    assert "dash_session" not in response.headers.get("set-cookie", "")


def test_login_is_rate_limited(app: App, web: TestClient) -> None:
    for _ in range(app.settings.dashboard_login_attempts):
        assert log_in(web, password="not the password").status_code == 401
    blocked = log_in(web)  # even the right password, until the window passes
    assert blocked.status_code == 429
    assert "Too many failed logins" in blocked.text
    with unit_of_work(app.engine) as session:
        entry = session.exec(select(models.AuditLog).where(
            models.AuditLog.action == "dashboard.login_blocked")).one()
    assert entry.actor == "dashboard:anna"


def test_login_without_csrf_token_is_refused(web: TestClient) -> None:
    web.get("/login")
    response = web.post("/login", data={"username": "anna", "password": "x" * 12})
    assert response.status_code == 403


def test_logout_ends_the_session(staff: TestClient) -> None:
    page = staff.get("/cases")
    assert staff.post("/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    assert staff.get("/cases").headers["location"] == "/login"


def test_every_page_sends_strict_security_headers(staff: TestClient) -> None:
    response = staff.get("/cases")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"


def test_case_list_colours_days_left_and_filters(app: App, staff: TestClient) -> None:
    overdue = make_case(app, days_ago=35)
    make_case(app, kind="access", days_ago=27, address="max@example.de")
    make_case(app, kind="correction", days_ago=1, status="awaiting_requester",
              channel="telegram", address="123@telegram.invalid")
    closed = make_case(app, kind="access", days_ago=20, closed_after_days=3,
                       address="camille@example.fr")
    page = staff.get("/cases").text
    assert '<span class="days overdue">-5</span>' in page
    assert '<span class="days urgent">3</span>' in page
    assert '<span class="days ok">29</span>' in page
    assert closed.ref not in page
    overdue_only = staff.get("/cases?view=overdue").text
    assert overdue.ref in overdue_only and "max@example.de" not in overdue_only
    waiting = staff.get("/cases?view=waiting").text
    assert "123@telegram.invalid" in waiting and overdue.ref not in waiting
    assert "max@example.de" in staff.get("/cases?right=access").text
    assert "jane@example.com" not in staff.get("/cases?right=access").text
    assert "jane@example.com" not in staff.get("/cases?channel=telegram").text
    assert closed.ref in staff.get("/cases?view=closed").text


def test_search_by_address_or_reference_is_a_post(app: App, staff: TestClient) -> None:
    case = make_case(app)
    other = make_case(app, address="max@example.de")
    token = csrf_of(staff.get("/cases").text)
    found = staff.post("/cases/search", data={"q": "JANE@example", "csrf": token}).text
    assert case.ref in found and other.ref not in found
    by_ref = staff.post("/cases/search", data={"q": other.ref.lower(), "csrf": token}).text
    assert other.ref in by_ref and case.ref not in by_ref
    assert staff.post("/cases/search", data={"q": "jane"}).status_code == 403


def test_case_page_shows_intents_rules_messages_verification_and_trail(
        app: App, staff: TestClient) -> None:
    inbound_id, _ = store_raw(app, "inject", make_mail("Please delete all my data",
                                                       sender="jane@example.com"))
    process_inbound(app, inbound_id)
    page = staff.get("/cases/SP-REQ-000001")
    assert page.status_code == 200
    html = page.text
    assert "Please delete all my data" in html  # the message in, as text
    assert "Sent" in html and "ack" in html  # the acknowledgement out
    assert "deletion" in html
    evidence = json.loads(_case(app).evidence)
    for rule in evidence["intents"][0]["evidence"]:
        assert rule in html
    assert "case.opened" in html
    assert "Verification: none" in html or "Verification: pending" in html


def test_unknown_case_is_a_404(staff: TestClient) -> None:
    assert staff.get("/cases/SP-REQ-999999").status_code == 404


def test_approve_goes_through_the_staff_command_and_names_the_staff_member(
        app: App, staff: TestClient, woken: Woken) -> None:
    case = make_case(app, status="awaiting_staff", pending="deletion")
    token = csrf_of(staff.get(f"/cases/{case.ref}").text)
    response = staff.post(f"/cases/{case.ref}/action", data={"action": "approve", "csrf": token})
    assert response.status_code == 303
    page = staff.get(f"/cases/{case.ref}").text
    assert "deletion approved; it runs on" in page
    assert _case(app).status == "deletion_scheduled"
    assert woken.count == 1
    with unit_of_work(app.engine) as session:
        purposes = [o.purpose for o in session.exec(select(models.Outbox))]
        commands = session.exec(select(models.AuditLog).where(
            models.AuditLog.action == "staff.command")).all()
    assert purposes == ["deletion_scheduled"]
    assert [(c.actor, json.loads(c.details)["command"]) for c in commands] == [
        ("dashboard:anna", "APPROVE")]


def test_deny_extend_note_take(app: App, staff: TestClient) -> None:
    case = make_case(app, kind="access", days_ago=10)
    token = csrf_of(staff.get(f"/cases/{case.ref}").text)

    def act(**data: str) -> str:
        staff.post(f"/cases/{case.ref}/action", data={"csrf": token, **data})
        return staff.get(f"/cases/{case.ref}").text

    assert "extended; now due" in act(action="extend", days="14", text="complex request")
    assert "note added to the case" in act(action="note", text="called the client")
    assert "taken by Anna Berg" in act(action="take")
    assert "not done: deny needs a text" in act(action="deny", text="  ")
    assert "request denied" in act(action="deny", text="we hold no data about you")
    assert _case(app).status == "closed"
    with unit_of_work(app.engine) as session:
        purposes = sorted(o.purpose for o in session.exec(select(models.Outbox)))
    assert "request_denied" in purposes and len(purposes) == 2  # the extension notice too


def test_action_without_csrf_token_changes_nothing(app: App, staff: TestClient) -> None:
    case = make_case(app, status="awaiting_staff", pending="deletion")
    response = staff.post(f"/cases/{case.ref}/action", data={"action": "approve",
                                                              "csrf": "forged"})
    assert response.status_code == 403
    assert _case(app).status == "awaiting_staff"


def test_inbound_lists_and_process_now(app: App, staff: TestClient) -> None:
    robot = _stored(app, make_mail("I am out of office", headers={"Auto-Submitted":
                                                                  "auto-replied"}))
    process_inbound(app, robot)
    backlog = _stored(app, make_mail("Please send me a copy of my data"), status="backlog")
    assert f"<td>{robot}</td>" in staff.get("/inbound?status=robot").text
    page = staff.get("/inbound?status=backlog").text
    assert f"<td>{backlog}</td>" in page and "backlog (1)" in page
    staff.post(f"/inbound/{backlog}/process", data={"csrf": csrf_of(page), "back": "backlog"})
    after = staff.get("/inbound?status=backlog").text
    assert f"message #{backlog} processed: processed" in after
    assert f"<td>{backlog}</td>" not in after
    with unit_of_work(app.engine) as session:
        assert session.get(models.InboundMessage, backlog).case_id is not None  # type: ignore[union-attr]


def test_release_takes_a_message_off_the_list(app: App, staff: TestClient) -> None:
    robot = _stored(app, make_mail("auto", headers={"Auto-Submitted": "auto-replied"}))
    process_inbound(app, robot)
    page = staff.get("/inbound?status=robot").text
    staff.post(f"/inbound/{robot}/release", data={"csrf": csrf_of(page), "back": "robot"})
    after = staff.get("/inbound?status=robot").text
    assert f"message #{robot} released" in after and f"<td>{robot}</td>" not in after
    with unit_of_work(app.engine) as session:
        entry = session.exec(select(models.AuditLog).where(
            models.AuditLog.action == "inbound.released")).one()
    assert entry.actor == "dashboard:anna"


def test_report_page_has_svg_charts_and_figures(app: App, staff: TestClient) -> None:
    make_case(app, kind="access", days_ago=40, closed_after_days=10)
    make_case(app, kind="access", days_ago=40, closed_after_days=20, address="max@example.de")
    make_case(app, kind="deletion", days_ago=35, address="c@example.fr")  # overdue
    html = staff.get("/report").text
    assert html.count("<svg") == 2 and "Requests per month by right" in html
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert "median days to close<b>15.0</b>" in html
    assert "95th percentile days<b>20.0</b>" in html
    assert "overdue now<b>1</b>" in html


def test_report_csv_is_the_register_without_addresses(app: App, staff: TestClient) -> None:
    make_case(app, kind="access", days_ago=40, closed_after_days=10)
    response = staff.get("/report.csv")
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0].startswith("reference,received,right,intents,channel,identity,status")
    assert lines[1].startswith("SP-REQ-000001,2026-10-16,access,access,email,none,closed")
    assert "jane@example.com" not in response.text


def _case(app: App) -> models.Case:
    with unit_of_work(app.engine) as session:
        return session.exec(select(models.Case)).first()  # type: ignore[return-value]


def _stored(app: App, raw: bytes, status: str | None = None) -> int:
    inbound_id, _ = store_raw(app, "inject", raw)
    if status:
        with unit_of_work(app.engine) as session:
            row = session.get(models.InboundMessage, inbound_id)
            assert row is not None
            row.status = status
            session.add(row)
    return inbound_id


def test_what_clients_wrote_is_escaped_not_run(app: App, staff: TestClient) -> None:
    inbound_id, _ = store_raw(app, "inject", make_mail(
        "<script>alert(1)</script> please delete my data",
        subject="<img src=x onerror=alert(1)>"))
    process_inbound(app, inbound_id)
    html = staff.get("/cases/SP-REQ-000001").text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html


def test_logs_carry_no_address_or_search_text(app: App, staff: TestClient,
                                              caplog: pytest.LogCaptureFixture) -> None:
    case = make_case(app, status="awaiting_staff", pending="deletion")
    caplog.set_level("DEBUG")
    token = csrf_of(staff.get("/cases").text)
    staff.post("/cases/search", data={"q": "jane@example.com", "csrf": token})
    staff.post(f"/cases/{case.ref}/action", data={"action": "approve", "csrf": token})
    assert "approve" in caplog.text.lower()
    assert "jane@example.com" not in caplog.text and "jane" not in caplog.text.lower()


def test_case_page_hides_live_codes_and_download_links() -> None:
    from bot.dashboard.queries import masked

    text = ("Your code is\n    7KQM-3TWX\nDownload: http://h:8025/download/abc_DEF-123 "
            "project SP-2025-0041, date 2026-11-25, typed zf2y-mgsz")
    shown = masked(text)
    assert "7KQM-3TWX" not in shown and "zf2y-mgsz" not in shown and "abc_DEF" not in shown
    assert "SP-2025-0041" in shown and "2026-11-25" in shown
    assert "/download/…" in shown


def test_overdue_case_says_how_many_days_overdue(app: App, staff: TestClient) -> None:
    case = make_case(app, days_ago=32)
    assert "2 days overdue" in staff.get(f"/cases/{case.ref}").text
