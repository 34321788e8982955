"""Cases: opening one with its legal clock, and the reference a requester quotes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlmodel import Session, select

from bot.batchcache import batch_cache
from bot.context import App
from bot.understand import Understanding
from storage import models
from storage.db import audit

OPEN_STATUSES = ("open", "awaiting_staff", "awaiting_requester", "awaiting_choice",
                 "deletion_scheduled")


def case_ref(prefix: str, case_id: int) -> str:
    return f"{prefix}-{case_id:06d}"


def due_date(app: App, received_at: datetime) -> datetime:
    return received_at + timedelta(days=app.settings.response_days)


def case_by_ref(session: Session, ref: str) -> models.Case | None:
    """The case with this reference (as clients and staff type it, any case)."""
    return session.exec(select(models.Case).where(models.Case.ref == ref.upper())).first()


def client_for_address(session: Session, address: str) -> models.Client | None:
    cache = batch_cache(session)
    if cache is not None:
        known, client = cache.client(address)
        if known:
            return client
    query = (
        select(models.Client)
        .join(models.ClientEmail, models.ClientEmail.client_id == models.Client.id)
        .where(models.ClientEmail.address == address.lower())
    )
    client = session.exec(query).first()
    if cache is not None:
        cache.remember_client(address, client)
    return client


def open_case(
    session: Session,
    app: App,
    *,
    requester: str,
    understanding: Understanding,
    received_at: datetime,
    subject: str,
    client: models.Client | None,
    channel: str = "email",
) -> models.Case:
    """Create the case with due = received + response_days and audit it."""
    case = models.Case(
        kind=understanding.primary,
        intents=",".join(i.name for i in understanding.intents),
        requester=requester,
        channel=channel,
        language=understanding.language,
        subject=subject[:500],
        client_id=client.id if client else None,
        received_at=received_at,
        due_at=due_date(app, received_at),
        evidence=evidence_json(understanding),
    )
    session.add(case)
    session.flush()
    assert case.id is not None
    case.ref = case_ref(app.settings.case_prefix, case.id)
    audit(session, "case.opened", at=app.clock.now(), case_id=case.id,
          client_id=case.client_id, kind=case.kind, intents=case.intents,
          due_at=case.due_at.isoformat())
    return case


def evidence_json(understanding: Understanding) -> str:
    """What fired and why, stored on the case and shown to staff (no message text)."""
    return json.dumps({
        "intents": [
            {"name": i.name, "confidence": round(i.confidence, 3), "evidence": list(i.evidence)}
            for i in understanding.intents
        ],
        "language": understanding.language,
        "unsure": understanding.unsure,
        "reasons": list(understanding.reasons),
        "entities": {
            "project_refs": list(understanding.entities.project_refs),
            "invoice_numbers": list(understanding.entities.invoice_numbers),
            "case_refs": list(understanding.entities.case_refs),
            "corrections": [list(c) for c in understanding.entities.corrections],
        },
    }, ensure_ascii=False)


def set_status(session: Session, app: App, case: models.Case, status: str, *,
               actor: str = "bot", **details: object) -> None:
    old = case.status
    case.status = status
    if status == "closed":
        case.closed_at = app.clock.now()
    session.add(case)
    audit(session, "case.status", at=app.clock.now(), actor=actor, case_id=case.id,
          client_id=case.client_id, old=old, new=status, **details)


def days_left(case: models.Case, now: datetime) -> int:
    """Whole days until due; negative when overdue."""
    return (case.due_at.date() - now.date()).days
