"""Service notices to every client, e.g. a privacy-policy change (`notify-policy-change`).

A policy-change notice is a service message: marketing opt-outs and restriction do not stop it
(essential=True). Every row goes through the outbox with the key `policy:{template}:{client}`,
so a run cut off by a crash is simply run again: clients already queued are skipped, nobody
gets a second copy. The rate limit is in the rows themselves: `notice_rate_per_minute` rows
share each minute's next_attempt_at, and the outbox worker sends nothing before its time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from jinja2 import TemplateNotFound
from sqlmodel import Session, col, func, select

from bot.context import App
from bot.outbox import enqueue_email
from storage import models
from storage.db import audit, unit_of_work

log = logging.getLogger(__name__)

BATCH = 200


class UnknownTemplate(ValueError):
    """No templates/email/<name>.txt.j2: nothing would be sent."""


@dataclass
class NoticeReport:
    template: str
    queued: int = 0
    already: int = 0  # queued by an earlier (interrupted) run
    first_at: datetime | None = None
    last_at: datetime | None = None


def notify_policy_change(app: App, template: str = "policy_change", *, batch_size: int = BATCH,
                         progress: Callable[[int], None] | None = None) -> NoticeReport:
    """Queue the notice for every client with an address on file, staggered by the cap."""
    _require_template(app, template)
    prefix = f"policy:{template}:"
    report = NoticeReport(template=template)
    start = _first_free_slot(app, prefix)
    per_minute = max(1, app.settings.notice_rate_per_minute)
    last_id = 0
    while True:
        with app.write_lock, unit_of_work(app.engine) as session:
            targets = _targets(session, last_id, batch_size)
            for client, address in targets:
                slot = start + timedelta(minutes=report.queued // per_minute)
                _queue_one(session, app, template, prefix, client, address, slot, report)
        if not targets:
            break
        last_id = targets[-1][0].id or last_id
        if progress is not None:
            progress(len(targets))
    _audit_run(app, report)
    return report


def count_recipients(app: App) -> int:
    """How many clients a notice would go to (not anonymised, with an address on file)."""
    cl = models.Client
    with unit_of_work(app.engine) as session:
        return int(session.exec(select(func.count()).select_from(cl).where(
            col(cl.anonymised_at).is_(None),
            col(cl.id).in_(select(models.ClientEmail.client_id)))).one())


def _require_template(app: App, template: str) -> None:
    try:
        app.renderer.env.get_template(f"email/{template}.txt.j2")
        app.renderer.env.get_template(f"email/{template}.subject.j2")
    except TemplateNotFound:
        raise UnknownTemplate(f"no template email/{template}.(subject|txt).j2") from None


def _first_free_slot(app: App, prefix: str) -> datetime:
    """Now, or (resuming) the minute after the last slot an earlier run used."""
    now = app.clock.now()
    with unit_of_work(app.engine) as session:
        latest = session.exec(select(func.max(models.Outbox.next_attempt_at)).where(
            col(models.Outbox.idempotency_key).startswith(prefix, autoescape=True))).one()
    if latest is None:
        return now
    return max(now, latest + timedelta(minutes=1))


def _targets(session: Session, after_id: int,
             limit: int) -> list[tuple[models.Client, str]]:
    """Next clients (by id) not anonymised with an address: the primary one, else the first."""
    ce, cl = models.ClientEmail, models.Client
    with_address = select(ce.client_id)
    clients = list(session.exec(
        select(cl).where(col(cl.id) > after_id, col(cl.anonymised_at).is_(None),
                         col(cl.id).in_(with_address))
        .order_by(col(cl.id)).limit(limit)))
    emails = session.exec(select(ce).where(col(ce.client_id).in_([c.id for c in clients]))
                          .order_by(col(ce.is_primary).desc(), col(ce.id)))
    address: dict[int, str] = {}
    for email in emails:
        address.setdefault(email.client_id, email.address)
    return [(c, address[c.id]) for c in clients if c.id in address]


def _queue_one(session: Session, app: App, template: str, prefix: str, client: models.Client,
               address: str, slot: datetime, report: NoticeReport) -> None:
    key = f"{prefix}{client.id}"
    exists = session.exec(select(models.Outbox.id)
                          .where(models.Outbox.idempotency_key == key)).first()
    if exists is not None:
        report.already += 1
        return
    rendered = app.renderer.render(template, client.language or "en", name=client.name,
                                   client=client, company=app.settings.company_name,
                                   bot_address=app.settings.bot_address)
    row = enqueue_email(session, app, to=address, rendered=rendered, purpose=template,
                        idempotency_key=key, client_id=client.id, essential=True,
                        auto_submitted="auto-generated")
    row.next_attempt_at = slot
    session.add(row)
    report.queued += 1
    report.first_at = report.first_at or slot
    report.last_at = slot


def _audit_run(app: App, report: NoticeReport) -> None:
    with app.write_lock, unit_of_work(app.engine) as session:
        audit(session, "notice.sent", at=app.clock.now(), actor="cli", template=report.template,
              queued=report.queued, already=report.already,
              last_slot=report.last_at.isoformat() if report.last_at else None)
    log.info("notice %s: %d queued, %d already queued", report.template, report.queued,
             report.already)
