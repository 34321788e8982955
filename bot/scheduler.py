"""APScheduler: the deadline check (hourly), the staff digest and the retention sweep (daily).

Jobs live in the bot's own database (SQLAlchemyJobStore on app.engine), so they survive
restarts. A job stores only a function reference and a registry key, never the App: the job
functions below look the App up in `_APPS`, which `build_scheduler` fills in this process.

Restarts:
- coalesce=True and misfire_grace_time=None: runs missed while the daemon was down fire once
  on start-up, however long it was down, not once per missed time.
- The stored next_run_time is kept when the jobs are re-registered at start-up (fixed ids,
  replace_existing=True), otherwise replacing a job would silently drop the missed run.
- APScheduler advances next_run_time in the store as it submits a run, so a daemon killed
  mid-job does not start the same run again; the work itself is idempotent anyway (outbox
  keys, status checks, retention selects only what is still due).
- One worker thread: our jobs never overlap each other; max_instances=1 per job.
- APScheduler 3.11 wakes its loop once more on shutdown() and "runs" whatever is due with the
  executor already shut down: the run fails to submit but its next_run_time is advanced, so a
  run due at that moment (or a missed one, if we stop before resuming) would be lost.
  `_Scheduler` skips that last pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.config import Settings
from bot.context import App
from bot.deadlines import run_deadlines, send_digest
from bot.downloads import purge_expired
from bot.logsafe import log_failure
from bot.privacy import run_due_deletions
from bot.retention import sweep
from storage.db import unit_of_work

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
_APPS: dict[str, App] = {}


# --------------------------------------------------------------------------- job functions
# Module-level so APScheduler can store them by reference ("bot.scheduler:deadlines_job").


def deadlines_job(key: str) -> None:
    """Staff reminders, overdue alarms, requester reminders and lapses."""
    _guarded("deadlines", key, run_deadlines)


def digest_job(key: str) -> None:
    """The daily staff digest of open cases by days left."""
    _guarded("digest", key, send_digest)


def retention_job(key: str) -> None:
    """The daily retention sweep."""
    _guarded("retention", key, sweep)


def deletions_job(key: str) -> None:
    """Verified deletions whose grace period is over, and expired export links."""
    _guarded("deletions", key, _run_deletions)


def _run_deletions(app: App) -> None:
    with app.write_lock, unit_of_work(app.engine) as session:
        run_due_deletions(session, app)
    purge_expired(app)  # export files of expired download links


def registered_app(key: str) -> App:
    try:
        return _APPS[key]
    except KeyError:
        raise RuntimeError("no App registered for this job's database; call build_scheduler"
                           ) from None


def _guarded(name: str, key: str, work: Callable[[App], Any]) -> None:
    """Run a job; on failure log the exception type and place only (database errors carry
    row values, i.e. personal data, in their messages). The next run retries."""
    try:
        work(registered_app(key))
    except Exception as exc:
        log_failure(log, "job %s failed", exc, name)


# --------------------------------------------------------------------------- setup


class _Scheduler(BackgroundScheduler):
    """BackgroundScheduler that does not consume due runs while shutting down."""

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[str], None]
    trigger: BaseTrigger


def job_specs(settings: Settings) -> list[JobSpec]:
    return [
        JobSpec("deadlines", deadlines_job,
                CronTrigger(minute=settings.deadline_check_minute, timezone=UTC)),
        JobSpec("digest", digest_job,
                CronTrigger(hour=settings.digest_hour_utc, minute=0, timezone=UTC)),
        JobSpec("retention", retention_job,
                CronTrigger(hour=settings.retention_hour_utc, minute=30, timezone=UTC)),
        JobSpec("deletions", deletions_job,
                CronTrigger(minute=settings.deadline_check_minute + 1, timezone=UTC)),
    ]


def app_key(app: App) -> str:
    """The registry key: the database URL without password, so a job stored in a database
    always runs against the App on that database, even with several Apps in one process."""
    return app.engine.url.render_as_string(hide_password=True)


def build_scheduler(app: App, *, key: str | None = None) -> BackgroundScheduler:
    """A scheduler on the app's database with the jobs registered, started *paused*.

    Registering needs the stored jobs (to keep a missed next_run_time), hence the paused
    start; `resume()` lets due jobs run (missed ones once). `start_scheduler` does both.
    """
    key = key or app_key(app)
    _APPS[key] = app
    scheduler = _Scheduler(
        timezone=UTC,
        jobstores={"default": SQLAlchemyJobStore(engine=app.engine, tablename=JOB_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
    )
    scheduler.start(paused=True)
    register_jobs(scheduler, app.settings, key)
    return scheduler


def register_jobs(scheduler: BackgroundScheduler, settings: Settings, key: str) -> None:
    """Add or replace our jobs by fixed id, keeping each stored job's pending run time."""
    for spec in job_specs(settings):
        existing = scheduler.get_job(spec.id)
        extra: dict[str, Any] = {}
        if existing is not None and existing.next_run_time is not None:
            extra["next_run_time"] = existing.next_run_time
        scheduler.add_job(spec.func, spec.trigger, args=[key], id=spec.id, name=spec.id,
                          replace_existing=True, **extra)


def start_scheduler(app: App, *, key: str | None = None) -> BackgroundScheduler | None:
    """Build and resume; None when settings.scheduler_enabled is off."""
    if not app.settings.scheduler_enabled:
        return None
    scheduler = build_scheduler(app, key=key)
    scheduler.resume()
    log.info("scheduler started: %s", ", ".join(
        f"{job.id} next {job.next_run_time:%Y-%m-%d %H:%M}Z" for job in scheduler.get_jobs()))
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler | None, *, wait: bool = True) -> None:
    """Stop (waiting for a running job by default); safe with None or a stopped one."""
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=wait)
