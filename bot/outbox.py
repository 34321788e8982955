"""Compose outbound mail and queue it in the outbox table, once per idempotency key.

Queuing happens in the same transaction as the state change that caused it, so a crash either
loses both or keeps both; `bot.channels.outbound` delivers the rows later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from sqlmodel import Session, func, select

from bot.context import App
from bot.identity import channel_of, is_chat_address
from bot.replies import Rendered
from storage import models
from storage.db import audit

MAX_REFERENCES = 20
# CPython folds some long headers by moving the whole value to a continuation line, which
# readers then show with a leading space; RFC 5322's hard limit (998) avoids that.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class FileAttachment:
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Threading:
    """Headers that thread a reply under the message it answers."""

    in_reply_to: str | None = None
    references: tuple[str, ...] = ()

    def reference_chain(self) -> list[str]:
        chain = [r for r in self.references if r]
        if self.in_reply_to and self.in_reply_to not in chain:
            chain.append(self.in_reply_to)
        return chain[-MAX_REFERENCES:]


def enqueue_email(
    session: Session,
    app: App,
    *,
    to: str,
    rendered: Rendered,
    purpose: str,
    idempotency_key: str,
    case: models.Case | None = None,
    client_id: int | None = None,
    threading: Threading = Threading(),
    essential: bool = True,
    attachments: Sequence[FileAttachment] = (),
    auto_submitted: str = "auto-replied",
    headers: Mapping[str, str] | None = None,
) -> models.Outbox:
    """Queue one message; a second call with the same key returns the first row unchanged."""
    existing = session.exec(
        select(models.Outbox).where(models.Outbox.idempotency_key == idempotency_key)
    ).first()
    if existing is not None:
        return existing
    now = app.clock.now()
    msg = compose(app, to=to, rendered=rendered, threading=threading, now=now,
                  attachments=attachments, auto_submitted=auto_submitted)
    for name, value in (headers or {}).items():
        msg[name] = value
    row = models.Outbox(
        idempotency_key=idempotency_key,
        case_id=case.id if case else None,
        purpose=purpose,
        to_addr=to,
        message_id=str(msg["Message-ID"]),
        raw=msg.as_bytes(policy=WIRE_POLICY),
        essential=essential,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _record_outbound(session, app, row, case, client_id, rendered.subject)
    return row


def compose(
    app: App,
    *,
    to: str,
    rendered: Rendered,
    threading: Threading,
    now: datetime,
    attachments: Sequence[FileAttachment] = (),
    auto_submitted: str = "auto-replied",
) -> EmailMessage:
    """Build the message with RFC 3834 and threading headers."""
    settings = app.settings
    msg = EmailMessage(policy=policy.default)
    msg["From"] = formataddr((settings.company_name, settings.bot_address))
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = make_msgid(idstring="sp", domain=settings.bot_domain)
    if threading.in_reply_to:
        msg["In-Reply-To"] = threading.in_reply_to
    if chain := threading.reference_chain():
        msg["References"] = " ".join(chain)
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = settings.bot_address
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    msg["Content-Language"] = rendered.language  # after set_content, which drops Content-*
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=item.filename)
    return msg


def _record_outbound(
    session: Session,
    app: App,
    row: models.Outbox,
    case: models.Case | None,
    client_id: int | None,
    subject: str,
) -> None:
    now = app.clock.now()
    if case is not None:
        session.add(models.CaseMessageId(case_id=case.id, message_id=row.message_id,
                                         direction="out"))
    if client_id is not None:
        session.add(models.Communication(
            client_id=client_id, case_id=case.id if case else None,
            channel=channel_of(row.to_addr),
            direction="out", address=row.to_addr, subject=subject,
            message_id=row.message_id, outbox_id=row.id, occurred_at=now,
        ))
    audit(session, "outbox.queued", at=now, case_id=case.id if case else None,
          client_id=client_id, outbox_id=row.id, purpose=row.purpose)


def replies_sent_recently(session: Session, app: App, address: str) -> int:
    """Automatic replies queued to an address inside the rate-limit window."""
    since = app.clock.now() - timedelta(minutes=app.settings.reply_rate_window_minutes)
    query = select(func.count()).select_from(models.Outbox).where(
        models.Outbox.to_addr == address, models.Outbox.created_at >= since
    )
    return int(session.exec(query).one())


def send_template(
    session: Session,
    app: App,
    *,
    case: models.Case,
    to: str,
    purpose: str,
    key: str,
    threading: Threading = Threading(),
    attachments: Sequence[FileAttachment] = (),
    essential: bool = True,
    subject: str = "",
    keep_record: bool = True,
    **ctx: object,
) -> models.Outbox:
    """Render a client-facing template in the case's language and queue it once per key.

    keep_record=False skips the client's communications log (e.g. a deletion certificate
    must not re-create personal data about the client it just erased).
    """
    rendered = app.renderer.render(
        purpose, case.language, medium="chat" if is_chat_address(to) else "email",
        case=case, company=app.settings.company_name,
        bot_address=app.settings.bot_address, response_days=app.settings.response_days,
        re_subject=subject or reply_subject(case.subject), **ctx,
    )
    return enqueue_email(
        session, app, to=to, rendered=rendered, purpose=purpose, idempotency_key=key,
        case=case, client_id=case.client_id if keep_record else None, threading=threading,
        attachments=attachments, essential=essential,
    )


def reply_subject(subject: str) -> str:
    """'Re: <subject>' without stacking prefixes."""
    subject = subject.strip()
    if not subject:
        return ""
    if subject.lower().startswith(("re:", "aw:", "sv:", "r:", "rif:", "antw:")):
        return subject
    return f"Re: {subject}"
