"""Escalations to the staff inbox: whatever the bot must not decide alone goes to a human."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from bot.cases import days_left, set_status
from bot.context import App
from bot.identity import staff_chat_address
from bot.outbox import FileAttachment, enqueue_email
from storage import models
from storage.db import audit


def original_of(inbound: models.InboundMessage) -> FileAttachment:
    """The message as it arrived; a spooled (large) one is named, not attached whole."""
    if inbound.raw_key:
        note = (f"The original message #{inbound.id} is {inbound.sha256[:12]}… in the file "
                f"store ({inbound.raw_key}); it was too large to forward.\n").encode()
        return FileAttachment(filename="original-too-large.txt", data=note,
                              content_type="text/plain")
    return FileAttachment(filename="original.eml", data=inbound.raw,
                          content_type="message/rfc822")


def escalate(
    session: Session,
    app: App,
    case: models.Case,
    *,
    reason: str,
    inbound: models.InboundMessage,
    summary: dict[str, Any] | None = None,
    hold: bool = True,
) -> None:
    """Send the case to staff with who, what was understood, the due date and the original.

    hold=False informs staff without taking the case out of the bot's hands (e.g. a
    complaint next to an access request that is already being verified).
    """
    if hold and case.status != "awaiting_staff":
        set_status(session, app, case, "awaiting_staff", reason=reason)
    case.escalated = True
    rendered = app.renderer.render(
        "staff_escalation", "en", case=case, reason=reason, sender=inbound.sender or "",
        evidence=json.loads(case.evidence or "{}"), summary=summary or {},
        days_left=days_left(case, app.clock.now()), company=app.settings.company_name,
    )
    enqueue_email(
        session, app, to=app.settings.staff_address, rendered=rendered,
        purpose="staff_escalation", idempotency_key=f"staff:{case.id}:{inbound.id}",
        case=case, attachments=[original_of(inbound)], auto_submitted="auto-generated",
    )
    if app.settings.telegram_staff_chat_id is not None:  # mirrored with Approve/Deny buttons
        enqueue_email(
            session, app, to=staff_chat_address(app.settings.telegram_staff_chat_id),
            rendered=rendered, purpose="staff_escalation",
            idempotency_key=f"staffchat:{case.id}:{inbound.id}", case=case,
            auto_submitted="auto-generated",
        )
    audit(session, "case.escalated", at=app.clock.now(), case_id=case.id,
          client_id=case.client_id, inbound_id=inbound.id, reason=reason)


def notify_quarantine(session: Session, app: App, inbound: models.InboundMessage) -> None:
    """Tell staff a message could not be handled; the original rides along."""
    rendered = app.renderer.render(
        "staff_quarantine", "en", inbound=inbound, company=app.settings.company_name,
    )
    enqueue_email(
        session, app, to=app.settings.staff_address, rendered=rendered,
        purpose="staff_quarantine", idempotency_key=f"quarantine:{inbound.id}",
        attachments=[original_of(inbound)], auto_submitted="auto-generated",
    )


def notify_backlog(session: Session, app: App, mailbox: str, count: int, key: str) -> None:
    """First start on a full mailbox: the backlog is filed, not answered, and staff are told."""
    rendered = app.renderer.render(
        "staff_backlog", "en", mailbox=mailbox, count=count, company=app.settings.company_name,
    )
    enqueue_email(
        session, app, to=app.settings.staff_address, rendered=rendered,
        purpose="staff_backlog", idempotency_key=f"backlog:{key}",
        auto_submitted="auto-generated",
    )
    audit(session, "inbound.backlog_filed", at=app.clock.now(), mailbox=mailbox, count=count)


def notify_spam_privacy(session: Session, app: App, inbound: models.InboundMessage,
                        intents: list[str]) -> None:
    """A message filed as spam reads like a privacy request: a person decides, the clock may
    be running; the original rides along."""
    rendered = app.renderer.render(
        "staff_spam_privacy", "en", inbound=inbound, intents=intents,
        company=app.settings.company_name,
    )
    enqueue_email(
        session, app, to=app.settings.staff_address, rendered=rendered,
        purpose="staff_spam_privacy", idempotency_key=f"spam-privacy:{inbound.id}",
        attachments=[original_of(inbound)], auto_submitted="auto-generated",
    )
    audit(session, "inbound.spam_privacy_to_staff", at=app.clock.now(), inbound_id=inbound.id,
          intents=intents)
