"""Deadlines driven by the frozen clock: staff reminders at each point, overdue alarms every
day, extensions, cases waiting on the requester, the digest, and a simulated year."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.cases import case_ref, days_left, due_date, set_status
from bot.channels.outbound import deliver_due, make_transport
from bot.clock import FrozenClock
from bot.context import App
from bot.deadlines import (
    ExtensionError,
    await_requester,
    extend_case,
    run_deadlines,
    send_digest,
)
from storage import models
from storage.db import unit_of_work
from tests.helpers import outbox_messages


def new_case(app: App, *, received: datetime | None = None, requester: str = "jane@example.com",
             kind: str = "access", status: str = "open") -> int:
    received = received or app.clock.now()
    with unit_of_work(app.engine) as session:
        case = models.Case(kind=kind, intents=kind, requester=requester, received_at=received,
                           due_at=due_date(app, received), status=status)
        session.add(case)
        session.flush()
        assert case.id is not None
        case.ref = case_ref(app.settings.case_prefix, case.id)
        return case.id


def outbox(app: App, purpose: str | None = None) -> list[models.Outbox]:
    with unit_of_work(app.engine) as session:
        query = select(models.Outbox).order_by(col(models.Outbox.id))
        if purpose:
            query = query.where(models.Outbox.purpose == purpose)
        return list(session.exec(query))


def run_days(app: App, clock: FrozenClock, days: int) -> None:
    for _ in range(days):
        clock.advance(days=1)
        run_deadlines(app)


def audit_actions(app: App, case_id: int) -> list[models.AuditLog]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.AuditLog)
                                 .where(models.AuditLog.case_id == case_id)
                                 .order_by(col(models.AuditLog.id))))


# --------------------------------------------------------------------------- staff reminders


def test_reminders_at_each_point_then_overdue_daily(app: App, clock: FrozenClock) -> None:
    start = clock.now()
    case_id = new_case(app)
    sent_on: dict[str, date] = {}
    for _ in range(33):
        clock.advance(days=1)
        before = {r.idempotency_key for r in outbox(app)}
        run_deadlines(app)
        run_deadlines(app)  # a second run the same day sends nothing more
        for row in outbox(app):
            if row.idempotency_key not in before:
                sent_on[row.idempotency_key] = clock.now().date()
    due = start.date() + timedelta(days=30)
    expected = {f"reminder:{case_id}:{p}:{due}": due - timedelta(days=p) for p in (10, 5, 2)}
    expected |= {f"overdue:{case_id}:{due + timedelta(days=d)}": due + timedelta(days=d)
                 for d in range(4)}
    assert sent_on == expected
    deliver_due(app, make_transport(app))
    subjects = [m["Subject"] for m in outbox_messages(app)]
    assert subjects[0].startswith("[SP-REQ-000001] Reminder: 10 days left")
    assert "DUE TODAY" in subjects[3] and "OVERDUE by 3 days" in subjects[-1]
    assert all(m["To"] == app.settings.staff_address for m in outbox_messages(app))


def test_missed_days_send_only_the_tightest_reminder_once(app: App, clock: FrozenClock) -> None:
    case_id = new_case(app)
    clock.advance(days=26)  # 4 days left: the 10- and 5-day points passed unseen
    run_deadlines(app)
    run_deadlines(app)
    [row] = outbox(app)
    assert row.idempotency_key.startswith(f"reminder:{case_id}:5:")


def test_closed_case_gets_no_more_reminders(app: App, clock: FrozenClock) -> None:
    case_id = new_case(app)
    clock.advance(days=21)
    run_deadlines(app)
    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, case_id)
        assert case is not None
        set_status(session, app, case, "closed", actor="staff:boss@stelloloxonpro.com")
    run_days(app, clock, 20)
    assert [r.purpose for r in outbox(app)] == ["staff_reminder"]


# --------------------------------------------------------------------------- extensions


def test_extension_moves_due_tells_requester_once_and_rearms(app: App,
                                                              clock: FrozenClock) -> None:
    case_id = new_case(app)
    clock.advance(days=21)
    run_deadlines(app)  # the 10-day reminder for the old date
    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, case_id)
        assert case is not None
        extend_case(session, app, case, 30, "the request covers eight years of projects",
                    actor="staff:boss@stelloloxonpro.com")
        extend_case_again = case.due_at
    assert extend_case_again.date() == date(2027, 1, 24)
    [notice] = outbox(app, "extension")
    assert notice.to_addr == "jane@example.com"
    body = notice.raw.decode()
    assert "eight years of projects" in body and "January 24, 2027" in body
    run_days(app, clock, 29)  # 10 days before the new date
    keys = [r.idempotency_key for r in outbox(app, "staff_reminder")]
    assert keys[-1] == f"reminder:{case_id}:10:2027-01-24"
    entry = next(a for a in audit_actions(app, case_id) if a.action == "case.extended")
    assert json.loads(entry.details)["days"] == 30
    assert entry.actor == "staff:boss@stelloloxonpro.com"


def test_extension_limits(app: App, clock: FrozenClock) -> None:
    case_id = new_case(app)
    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, case_id)
        assert case is not None
        extend_case(session, app, case, 40, "complex", actor="staff:a")
        with pytest.raises(ExtensionError, match="exceed 60 days"):
            extend_case(session, app, case, 21, "more", actor="staff:a")
        with pytest.raises(ExtensionError, match="reason"):
            extend_case(session, app, case, 5, "  ", actor="staff:a")
        extend_case(session, app, case, 20, "still complex", actor="staff:a")
    assert len(outbox(app, "extension")) == 2
    late = new_case(app)
    clock.advance(days=31)
    with unit_of_work(app.engine) as session, pytest.raises(ExtensionError, match="too late"):
        case = session.get(models.Case, late)
        assert case is not None
        extend_case(session, app, case, 10, "complex", actor="staff:a")


# --------------------------------------------------------------------------- waiting on requester


def put_on_hold(app: App, case_id: int) -> None:
    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, case_id)
        assert case is not None
        await_requester(session, app, case, reason="identity code not confirmed")


def test_requester_reminded_once_then_closed_when_window_lapses(app: App,
                                                                 clock: FrozenClock) -> None:
    case_id = new_case(app)
    clock.advance(hours=2)
    put_on_hold(app, case_id)
    events: dict[str, datetime] = {}
    for _ in range(15 * 24):  # the check runs hourly
        clock.advance(hours=1)
        run_deadlines(app)
        for row in outbox(app):
            events.setdefault(row.purpose, clock.now())
    since = datetime(2026, 11, 25, 11, 0, tzinfo=clock.now().tzinfo)
    assert events["requester_reminder"] == since + timedelta(days=3)
    assert events["requester_lapsed"] == since + timedelta(days=14)
    assert len(outbox(app, "requester_reminder")) == 1
    assert len(outbox(app, "requester_lapsed")) == 1
    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, case_id)
        assert case is not None and case.status == "closed"
    lapsed = [a for a in audit_actions(app, case_id) if a.action == "case.lapsed"]
    details = json.loads(lapsed[0].details)
    assert details["outcome"] == "closed_with_notice" and details["window_days"] == 14
    assert details["waiting_since"] == since.isoformat()
    assert any(a.action == "case.requester_reminded" for a in audit_actions(app, case_id))
    deliver_due(app, make_transport(app))
    lapsed_mail = [m for m in outbox_messages(app) if "closed" in m["Subject"]]
    assert lapsed_mail[0]["To"] == "jane@example.com"


def test_wait_clock_restarts_when_status_set_again(app: App, clock: FrozenClock) -> None:
    """A status set with set_status (no waiting_since) still restarts the requester clock."""
    case_id = new_case(app)
    put_on_hold(app, case_id)
    clock.advance(days=10)
    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, case_id)
        assert case is not None
        set_status(session, app, case, "open", reason="code confirmed")
        clock.advance(days=1)
        set_status(session, app, case, "awaiting_requester", reason="second code")
    run_days(app, clock, 13)  # 13 days into the new wait: not yet lapsed
    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, case_id)
        assert case is not None and case.status == "awaiting_requester"
    run_days(app, clock, 1)
    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, case_id)
        assert case is not None and case.status == "closed"


# --------------------------------------------------------------------------- digest


def test_digest_groups_open_cases_by_days_left_once_a_day(app: App, clock: FrozenClock) -> None:
    assert send_digest(app) is False  # nothing open: no mail
    start = clock.now()
    new_case(app, received=start - timedelta(days=35))  # overdue by 5
    new_case(app, received=start - timedelta(days=26))  # 4 days left
    new_case(app, received=start)  # 30 days left
    closed = new_case(app, received=start - timedelta(days=29), status="closed")
    assert send_digest(app) and send_digest(app)
    [row] = outbox(app, "staff_digest")
    text = row.raw.decode()
    assert "Open cases on 2026-11-25: 3, 1 overdue" in text
    assert text.index("Overdue (1)") < text.index("3-5 days left (1)") < text.index(
        "More than 10 days left (1)")
    assert case_ref("SP-REQ", closed) not in text


# --------------------------------------------------------------------------- simulated year


def test_simulated_year_every_reminder_on_its_day_no_silent_overdue(
    app: App, clock: FrozenClock
) -> None:
    rng = random.Random(20261125)
    start = clock.now().replace(hour=0)
    closes_on: dict[int, date] = {}
    for day in range(365):
        today = start + timedelta(days=day)
        for _ in range(rng.choice((0, 0, 0, 0, 1, 1, 2))):
            received = today + timedelta(minutes=rng.randrange(24 * 60))
            clock.set(received)
            case_id = new_case(app, received=received)
            closes_on[case_id] = received.date() + timedelta(days=rng.randrange(5, 36))
        clock.set(today + timedelta(hours=23, minutes=30))
        _close_due(app, closes_on)
        clock.set(today + timedelta(days=1, hours=6))  # the morning run
        run_deadlines(app)
    _assert_every_alert_on_its_day(app, closes_on, start.date() + timedelta(days=365))


def _close_due(app: App, closes_on: dict[int, date]) -> None:
    today = app.clock.now().date()
    with unit_of_work(app.engine) as session:
        for case_id in [c for c, when in closes_on.items() if when == today]:
            case = session.get(models.Case, case_id)
            if case is not None and case.status != "closed":
                set_status(session, app, case, "closed", actor="staff:sim")


def _assert_every_alert_on_its_day(app: App, closes_on: dict[int, date], end: date) -> None:
    sent: dict[int, dict[str, date]] = defaultdict(dict)
    for row in outbox(app):
        assert row.case_id is not None
        sent[row.case_id][row.idempotency_key] = row.created_at.date()
    with unit_of_work(app.engine) as session:
        cases = list(session.exec(select(models.Case)))
    assert len(cases) > 150
    overdue_days = 0
    for case in cases:
        expected: dict[str, date] = {}
        day = case.received_at.date() + timedelta(days=1)
        assert case.id is not None
        while day <= min(closes_on[case.id], end):  # the case was open at this morning's run
            left = days_left(case, datetime(day.year, day.month, day.day,
                                            tzinfo=case.due_at.tzinfo))
            if left <= 0:
                expected[f"overdue:{case.id}:{day}"] = day
                overdue_days += 1
            elif left in (10, 5, 2):
                expected[f"reminder:{case.id}:{left}:{case.due_at.date()}"] = day
            day += timedelta(days=1)
        assert sent.get(case.id, {}) == expected, case.ref
    assert overdue_days > 20  # the simulation did produce overdue cases
