"""The legal clock on every open case: staff reminders, overdue alarms, extensions, the daily
digest, and cases waiting on the requester (one reminder, then closed when the window lapses).

Everything here is idempotent: each mail has a fixed outbox key (enqueue_email queues a key
once) and every state change checks the status first, so a job that runs twice, or is cut off
half-way and run again, sends nobody a second copy. Times come from `app.clock` only.

Keys:
    reminder:{case_id}:{point}:{due date}    staff reminder at `point` days left (the due date
                                             is in the key so an extension re-arms them)
    overdue:{case_id}:{date}                 on the due day and every day while overdue
    extension:{case_id}:{new due date}       the requester is told about an extension
    requester_reminder:{case_id}:{since}     once per waiting period
    requester_lapsed:{case_id}               the closing notice
    digest:{date}                            the staff digest
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.cases import days_left, set_status
from bot.context import App
from bot.outbox import Threading, case_threading, enqueue_email
from bot.replies import Rendered
from storage import models
from storage.db import audit, flush_audit, unit_of_work

log = logging.getLogger(__name__)

CLOSED = "closed"
AWAITING_REQUESTER = "awaiting_requester"
ACTOR = "scheduler"


class ExtensionError(ValueError):
    """The extension is not allowed (closed case, too late, or over the maximum)."""


@dataclass
class DeadlineReport:
    """What one deadline run queued or changed (counts only: no personal data)."""

    reminders: list[str] = field(default_factory=list)  # outbox keys queued this run
    requester_reminders: int = 0
    lapsed: int = 0


# --------------------------------------------------------------------------- the run


def run_deadlines(app: App) -> DeadlineReport:
    """Check every case that is not closed, in one transaction; if that fails, again case by
    case so one bad case cannot hold back the reminders of all the others."""
    case_ids = _active_case_ids(app)
    report = DeadlineReport()
    try:
        with app.write_lock, unit_of_work(app.engine) as session:
            query = select(models.Case).where(models.Case.status != CLOSED)
            for case in session.exec(query.order_by(col(models.Case.id))).all():
                _check_case(session, app, case, report)
    except Exception as exc:
        log.warning("deadline run failed (%s); retrying case by case", type(exc).__name__)
        report = DeadlineReport()
        for case_id in case_ids:
            try:
                with app.write_lock, unit_of_work(app.engine) as session:
                    _check_one(session, app, case_id, report)
            except Exception as exc_one:
                log.error("deadline check failed for case %s: %s", case_id,
                          type(exc_one).__name__)
    log.info("deadlines: %d staff mails, %d requester reminders, %d lapsed",
             len(report.reminders), report.requester_reminders, report.lapsed)
    return report


def _active_case_ids(app: App) -> list[int]:
    with unit_of_work(app.engine) as session:
        query = select(models.Case.id).where(models.Case.status != CLOSED)
        return [i for i in session.exec(query.order_by(col(models.Case.id))) if i is not None]


def _check_one(session: Session, app: App, case_id: int, report: DeadlineReport) -> None:
    case = session.get(models.Case, case_id)
    if case is not None and case.status != CLOSED:
        _check_case(session, app, case, report)


def _check_case(session: Session, app: App, case: models.Case, report: DeadlineReport) -> None:
    if case.status == AWAITING_REQUESTER and _check_requester(session, app, case, report):
        return  # closed: no staff reminder for a case that just ended
    alert = staff_alert(case, app.clock.now(), app.settings.reminder_days)
    if alert is not None:
        purpose, key = alert
        if _staff_mail(session, app, case, purpose, key):
            report.reminders.append(key)


def staff_alert(case: models.Case, now: datetime, points: list[int]) -> tuple[str, str] | None:
    """(purpose, key) of the staff mail this case calls for today, if any.

    On the due day and after: the daily overdue alarm. Before: the tightest reminder point
    reached, so a run missed on a point's day still sends that reminder (late, once), and
    points already passed by then are not sent at all.
    """
    left = days_left(case, now)
    if left <= 0:
        return "staff_overdue", f"overdue:{case.id}:{now.date().isoformat()}"
    reached = [p for p in points if left <= p]
    if not reached:
        return None
    return "staff_reminder", f"reminder:{case.id}:{min(reached)}:{case.due_at.date().isoformat()}"


def _staff_mail(session: Session, app: App, case: models.Case, purpose: str, key: str) -> bool:
    if _already_queued(session, key):
        return False  # the common case on an hourly check: skip the rendering
    rendered = app.renderer.render(
        purpose, "en", case=case, days_left=days_left(case, app.clock.now()),
        company=app.settings.company_name,
    )
    return _queue_once(session, app, to=app.settings.staff_address, rendered=rendered,
                       purpose=purpose, key=key, case=case, staff=True)


def _queue_once(session: Session, app: App, *, to: str, rendered: Rendered, purpose: str,
                key: str, case: models.Case, staff: bool,
                threading: Threading | None = None) -> bool:
    """Queue unless the key is already in the outbox; True if queued now."""
    if _already_queued(session, key):
        return False
    enqueue_email(session, app, to=to, rendered=rendered, purpose=purpose, idempotency_key=key,
                  case=case, client_id=None if staff else case.client_id,
                  threading=threading or Threading(),
                  auto_submitted="auto-generated")
    return True


def _already_queued(session: Session, key: str) -> bool:
    query = select(models.Outbox.id).where(models.Outbox.idempotency_key == key)
    return session.exec(query).first() is not None


# --------------------------------------------------------------------------- waiting on requester


def await_requester(session: Session, app: App, case: models.Case, *, reason: str,
                    actor: str = "bot") -> None:
    """Put a case on hold for the requester (e.g. an unconfirmed code); starts their clock."""
    case.waiting_since = app.clock.now()
    set_status(session, app, case, AWAITING_REQUESTER, actor=actor, reason=reason,
               waiting_since=case.waiting_since.isoformat())


def waiting_since(session: Session, case: models.Case) -> datetime:
    """When the current wait began: the later of the column and the last status change to
    awaiting_requester in the audit log (a status set without `await_requester` still counts),
    else the case's receipt."""
    candidates = [case.waiting_since] if case.waiting_since else []
    flush_audit(session)
    query = (select(models.AuditLog)
             .where(models.AuditLog.case_id == case.id, models.AuditLog.action == "case.status")
             .order_by(col(models.AuditLog.id).desc()))
    for entry in session.exec(query):
        if json.loads(entry.details or "{}").get("new") == AWAITING_REQUESTER:
            candidates.append(entry.at)
            break
    return max(candidates) if candidates else case.received_at


def _check_requester(session: Session, app: App, case: models.Case,
                     report: DeadlineReport) -> bool:
    """Remind once after requester_reminder_days, close after requester_window_days.

    Returns True when the case was closed. Both clocks count whole elapsed time from
    `waiting_since`, so neither ever fires early.
    """
    since = waiting_since(session, case)
    waited = app.clock.now() - since
    settings = app.settings
    if waited >= timedelta(days=settings.requester_window_days):
        _lapse(session, app, case, since)
        report.lapsed += 1
        return True
    if waited >= timedelta(days=settings.requester_reminder_days) and _remind_requester(
        session, app, case, since
    ):
        report.requester_reminders += 1
    return False


def _remind_requester(session: Session, app: App, case: models.Case, since: datetime) -> bool:
    if case.channel != "email":
        return False
    window_ends = since + timedelta(days=app.settings.requester_window_days)
    rendered = _client_render(app, "requester_reminder", case, window_ends=window_ends)
    queued = _queue_once(session, app, to=case.requester, rendered=rendered,
                         purpose="requester_reminder",
                         key=f"requester_reminder:{case.id}:{since.isoformat()}", case=case,
                         staff=False, threading=case_threading(session, case))
    if queued:
        audit(session, "case.requester_reminded", at=app.clock.now(), actor=ACTOR,
              case_id=case.id, client_id=case.client_id, waiting_since=since.isoformat(),
              window_ends=window_ends.isoformat())
    return queued


def _lapse(session: Session, app: App, case: models.Case, since: datetime) -> None:
    notified = False
    if case.channel == "email":
        rendered = _client_render(app, "requester_lapsed", case,
                                  window_days=app.settings.requester_window_days)
        notified = _queue_once(session, app, to=case.requester, rendered=rendered,
                               purpose="requester_lapsed", key=f"requester_lapsed:{case.id}",
                               case=case, staff=False, threading=case_threading(session, case))
    set_status(session, app, case, CLOSED, actor=ACTOR, reason="requester_window_lapsed")
    audit(session, "case.lapsed", at=app.clock.now(), actor=ACTOR, case_id=case.id,
          client_id=case.client_id, waiting_since=since.isoformat(),
          window_days=app.settings.requester_window_days,
          outcome="closed_with_notice" if notified else "closed_without_notice")


def _client_render(app: App, purpose: str, case: models.Case, **ctx: object) -> Rendered:
    return app.renderer.render(purpose, case.language, case=case,
                               company=app.settings.company_name,
                               bot_address=app.settings.bot_address, **ctx)


# --------------------------------------------------------------------------- extensions


def extend_case(session: Session, app: App, case: models.Case, days: int, reason: str,
                actor: str) -> models.Outbox:
    """Move the due date by `days` and tell the requester why (once per extension).

    GDPR art. 12(3): at most two further months in total (settings.max_extension_days), and
    the requester must be told within the first month, so no extension after the original
    due date has passed.
    """
    now = app.clock.now()
    original_due = case.received_at + timedelta(days=app.settings.response_days)
    already = max(case.due_at - original_due, timedelta(0))
    _check_extension(app, case, days, reason, now, original_due, already)
    old_due = case.due_at
    case.due_at = old_due + timedelta(days=days)
    session.add(case)
    audit(session, "case.extended", at=now, actor=actor, case_id=case.id,
          client_id=case.client_id, days=days, reason=reason, old_due=old_due.isoformat(),
          new_due=case.due_at.isoformat(), total_days=(already + timedelta(days=days)).days)
    rendered = _client_render(app, "extension", case, reason=reason, old_due=old_due,
                              days=days)
    return enqueue_email(session, app, to=case.requester, rendered=rendered,
                         purpose="extension",
                         idempotency_key=f"extension:{case.id}:{case.due_at.date().isoformat()}",
                         case=case, client_id=case.client_id,
                         threading=case_threading(session, case))


def _check_extension(app: App, case: models.Case, days: int, reason: str, now: datetime,
                     original_due: datetime, already: timedelta) -> None:
    if case.status == CLOSED:
        raise ExtensionError("the case is closed")
    if days <= 0:
        raise ExtensionError("an extension must be at least one day")
    if not reason.strip():
        raise ExtensionError("the requester must be told why: give a reason")
    if now > original_due:
        raise ExtensionError("too late: an extension must be announced within the first "
                             f"{app.settings.response_days} days")
    limit = app.settings.max_extension_days
    if (already + timedelta(days=days)).days > limit:
        raise ExtensionError(f"the total extension would exceed {limit} days "
                             f"({already.days} already used)")


# --------------------------------------------------------------------------- digest


def digest_groups(cases: list[models.Case], now: datetime,
                  points: list[int]) -> list[tuple[str, list[models.Case]]]:
    """Open cases bucketed by days left: overdue, due today, then up to each reminder point."""
    bounds = sorted({p for p in points if p > 0})
    labels: list[tuple[str, int, int]] = [("overdue", -10**6, -1), ("due today", 0, 0)]
    low = 1
    for bound in bounds:
        labels.append((f"{low}-{bound} days left" if low < bound else f"{bound} days left",
                       low, bound))
        low = bound + 1
    labels.append((f"more than {low - 1} days left", low, 10**6))
    groups = []
    for label, lo, hi in labels:
        members = [c for c in cases if lo <= days_left(c, now) <= hi]
        if members:
            groups.append((label, sorted(members, key=lambda c: c.due_at)))
    return groups


def send_digest(app: App) -> bool:
    """Queue today's staff digest of open cases; False when there is nothing open."""
    now = app.clock.now()
    with app.write_lock, unit_of_work(app.engine) as session:
        cases = list(session.exec(select(models.Case).where(models.Case.status != CLOSED)))
        if not cases:
            return False
        groups = digest_groups(cases, now, app.settings.reminder_days)
        rendered = app.renderer.render(
            "staff_digest", "en", groups=groups, total=len(cases), today=now,
            days_left=lambda c: days_left(c, now), company=app.settings.company_name,
        )
        enqueue_email(session, app, to=app.settings.staff_address, rendered=rendered,
                      purpose="staff_digest", idempotency_key=f"digest:{now.date().isoformat()}",
                      auto_submitted="auto-generated")
    log.info("digest queued: %d open cases", len(cases))
    return True
