"""The real APScheduler with the SQLAlchemy job store, on SQLite and on PostgreSQL: jobs survive
a restart, a run missed while the daemon was down fires once on start-up (not once per missed
time), and a daemon killed mid-job does not run that job again when it comes back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlmodel import select

from bot import scheduler as sched
from bot.cases import case_ref, due_date
from bot.context import App
from bot.scheduler import build_scheduler, start_scheduler, stop_scheduler
from storage import models
from storage.db import unit_of_work
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def restartable(request: pytest.FixtureRequest,
                make_app: Callable[..., App]) -> Iterator[Callable[[], App]]:
    """Builds a fresh App (new engine: a restarted daemon) on the same database each call."""
    overrides: dict[str, object] = {"scheduler_enabled": True}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    apps: list[App] = []

    def boot() -> App:
        apps.append(make_app(**overrides))
        return apps[-1]

    yield boot
    for app in apps:
        app.engine.dispose()


def executions(scheduler: object) -> list[str]:
    seen: list[str] = []

    def listener(event: JobExecutionEvent) -> None:
        seen.append(event.job_id)

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)  # type: ignore[attr-defined]
    return seen


def add_case(app: App, days_ago: int) -> int:
    received = app.clock.now() - timedelta(days=days_ago)
    with unit_of_work(app.engine) as session:
        case = models.Case(kind="access", requester="jane@example.com", received_at=received,
                           due_at=due_date(app, received))
        session.add(case)
        session.flush()
        assert case.id is not None
        case.ref = case_ref("SP-REQ", case.id)
        return case.id


def reminders(app: App) -> list[str]:
    with unit_of_work(app.engine) as session:
        query = select(models.Outbox.idempotency_key).where(
            models.Outbox.purpose == "staff_reminder")
        return list(session.exec(query))


def test_jobs_survive_restart_and_a_missed_run_fires_once(
    restartable: Callable[[], App]
) -> None:
    first = restartable()
    s1 = build_scheduler(first, key="e2e")
    assert {j.id for j in s1.get_jobs()} == {"deadlines", "digest", "retention", "deletions"}
    down_since = datetime.now(UTC) - timedelta(days=3)  # 72 hourly runs missed
    s1.modify_job("deadlines", next_run_time=down_since)
    stop_scheduler(s1)
    case_id = add_case(first, days_ago=20)  # its 10-day reminder is due

    second = restartable()
    s2 = build_scheduler(second, key="e2e")
    try:
        seen = executions(s2)
        assert len(s2.get_jobs()) == 4  # replaced by id, not duplicated
        kept = s2.get_job("deadlines").next_run_time
        assert abs(kept - down_since) < timedelta(seconds=1)  # the missed run is kept
        s2.resume()
        wait_until(lambda: seen, timeout=10)
        time.sleep(0.5)
        assert seen == ["deadlines"]
        assert s2.get_job("deadlines").next_run_time > datetime.now(UTC)
    finally:
        stop_scheduler(s2)
    assert reminders(second) == [f"reminder:{case_id}:10:2026-12-05"]


def test_restart_mid_job_does_not_run_it_again(
    restartable: Callable[[], App], monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow(app: App) -> None:
        calls.append(1)
        started.set()
        release.wait(10)

    monkeypatch.setattr(sched, "run_deadlines", slow)
    first = restartable()
    s1 = build_scheduler(first, key="e2e-mid")
    s1.modify_job("deadlines", next_run_time=datetime.now(UTC))
    s1.resume()
    assert started.wait(10)
    s1.shutdown(wait=False)  # the daemon dies while the job runs

    second = restartable()
    s2 = build_scheduler(second, key="e2e-mid")
    try:
        seen = executions(s2)
        s2.resume()
        time.sleep(1.0)
        assert calls == [1] and seen == []
        assert s2.get_job("deadlines").next_run_time > datetime.now(UTC)
    finally:
        release.set()
        stop_scheduler(s2)


def test_job_functions_run_the_work_idempotently(restartable: Callable[[], App]) -> None:
    app = restartable()
    scheduler = start_scheduler(app)  # registered under its database URL
    key = sched.app_key(app)
    assert scheduler is not None and scheduler.get_job("deadlines").args == (key,)
    try:
        case_id = add_case(app, days_ago=25)  # 5 days left
        sched.deadlines_job(key)
        sched.deadlines_job(key)  # a repeated run sends nothing more
        sched.digest_job(key)
        sched.retention_job(key)
        sched.deletions_job(key)
    finally:
        stop_scheduler(scheduler)
    assert reminders(app) == [f"reminder:{case_id}:5:2026-11-30"]
    with unit_of_work(app.engine) as session:
        purposes = sorted(r.purpose for r in session.exec(select(models.Outbox)))
    assert purposes == ["staff_digest", "staff_reminder"]


def test_scheduler_can_be_disabled(make_app: Callable[..., App]) -> None:
    assert start_scheduler(make_app(scheduler_enabled=False)) is None
    stop_scheduler(None)


def test_retention_job_applies_every_rule(restartable: Callable[[], App]) -> None:
    """The sweep's set-based SQL (NOT IN unions, concatenation, bulk inserts) on each backend."""
    from tests.unit.test_retention import at, client, comm, model_file, project

    app = restartable()
    _register = build_scheduler(app, key="e2e-retention")
    stop_scheduler(_register)
    owner = client(app, last_active=at(2020, 1, 1), email="old@example.com")
    done = project(app, owner, completed=at(2020, 1, 1))
    file_id = model_file(app, owner, done, b"old model")
    comm_id = comm(app, owner, at(2019, 12, 1), project_id=done)
    with unit_of_work(app.engine) as session:
        invoice = models.Invoice(number="9", client_id=owner, amount_cents=1,
                                 issued_at=at(2018, 1, 1))
        session.add(invoice)
        session.add(models.WebsiteUsage(path="/quote", occurred_at=at(2020, 1, 1)))
    sched.retention_job("e2e-retention")
    with unit_of_work(app.engine) as session:
        assert session.get(models.ModelFile, file_id) is None
        assert session.get(models.Communication, comm_id) is None
        assert session.exec(select(models.Invoice)).all() == []
        assert session.exec(select(models.WebsiteUsage)).all() == []
        [aggregate] = session.exec(select(models.UsageAggregate)).all()
        gone = session.get(models.Client, owner)
    assert (aggregate.month, aggregate.hits) == ("2020-01", 1)
    assert gone is not None and gone.name == f"deleted client #{owner}"
