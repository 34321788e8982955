"""What the pages show, read from the database: case lists, one case, stored inbound mail.

Plain functions over a session, returning small dataclasses; no HTML here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from bot.cases import OPEN_STATUSES, days_left
from bot.downloads import PREFIX as DOWNLOAD_PREFIX
from bot.mime import MessageParseError, parse_message
from bot.verify import ALPHABET
from storage import models

# what a staff member must not be able to use from a page: live one-time codes and links
_CODE_CHARS = ALPHABET + ALPHABET.lower()
CODE_SHOWN_RE = re.compile(rf"(?<![A-Za-z0-9-])[{_CODE_CHARS}]{{4}}-[{_CODE_CHARS}]{{4}}"
                           r"(?![A-Za-z0-9-])")
DOWNLOAD_LINK_RE = re.compile(re.escape(DOWNLOAD_PREFIX) + r"[A-Za-z0-9_-]+")
VIEWS = ("open", "overdue", "waiting", "closed", "all")
INBOUND_QUEUES = ("quarantined", "robot", "spam", "backlog")
LIST_LIMIT = 500  # rows on one case list page
TEXT_LIMIT = 20_000  # characters of one message shown on a case page


@dataclass(frozen=True)
class CaseFilter:
    view: str = "open"
    right: str = ""
    channel: str = ""


@dataclass(frozen=True)
class CaseRow:
    ref: str
    kind: str
    intents: str
    status: str
    channel: str
    requester: str
    received_at: datetime
    due_at: datetime
    days_left: int

    @property
    def urgency(self) -> str:
        """CSS class: overdue, due within 5 days, within 10, or later (closed: none)."""
        if self.status == "closed":
            return "closed"
        if self.days_left < 0:
            return "overdue"
        return "urgent" if self.days_left <= 5 else "soon" if self.days_left <= 10 else "ok"


@dataclass(frozen=True)
class MessageView:
    direction: str  # in, out
    at: datetime
    subject: str
    text: str
    attachments: list[str]
    status: str  # inbound status or outbox status
    purpose: str = ""


@dataclass
class CaseDetail:
    row: CaseRow
    case: models.Case
    evidence: dict[str, Any]
    messages: list[MessageView]
    codes: list[models.VerificationCode]
    trail: list[models.AuditLog]
    details: dict[int, str] = field(default_factory=dict)


def list_cases(session: Session, flt: CaseFilter, now: datetime) -> list[CaseRow]:
    """Oldest due first, at most LIST_LIMIT rows (the most urgent ones)."""
    query = select(models.Case).order_by(col(models.Case.due_at))
    if flt.view in ("open", "overdue"):
        query = query.where(col(models.Case.status).in_(OPEN_STATUSES))
    if flt.view == "overdue":  # due on a day before today, as days_left counts
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        query = query.where(models.Case.due_at < today)
    elif flt.view == "waiting":
        query = query.where(models.Case.status == "awaiting_requester")
    elif flt.view == "closed":
        query = query.where(models.Case.status == "closed")
    if flt.right:
        query = query.where(or_(models.Case.kind == flt.right,
                                col(models.Case.intents).contains(flt.right)))
    if flt.channel:
        query = query.where(models.Case.channel == flt.channel)
    return [case_row(case, now) for case in session.exec(query.limit(LIST_LIMIT))]


def search_cases(session: Session, text: str, now: datetime) -> list[CaseRow]:
    """By reference (exact) or by address (the requester's, or any address on file)."""
    text = text.strip().lower()
    if not text:
        return []
    on_file = select(models.ClientEmail.client_id).where(
        col(models.ClientEmail.address).contains(text))
    query = select(models.Case).where(or_(
        models.Case.ref == text.upper(), col(models.Case.requester).contains(text),
        col(models.Case.client_id).in_(on_file)))
    return [case_row(c, now) for c in session.exec(query.order_by(col(models.Case.due_at)))]


def case_row(case: models.Case, now: datetime) -> CaseRow:
    return CaseRow(ref=case.ref or "", kind=case.kind, intents=case.intents, status=case.status,
                   channel=case.channel, requester=case.requester, received_at=case.received_at,
                   due_at=case.due_at, days_left=days_left(case, now))


def filter_choices(session: Session) -> tuple[list[str], list[str]]:
    """Rights (case kinds) and channels present in the database, for the filter menus."""
    kinds = session.exec(select(models.Case.kind).distinct().order_by(models.Case.kind)).all()
    channels = session.exec(select(models.Case.channel).distinct()
                            .order_by(models.Case.channel)).all()
    return list(kinds), list(channels)


def case_detail(session: Session, case: models.Case, now: datetime) -> CaseDetail:
    trail = list(session.exec(select(models.AuditLog).where(models.AuditLog.case_id == case.id)
                              .order_by(col(models.AuditLog.id))))
    codes = list(session.exec(select(models.VerificationCode)
                              .where(models.VerificationCode.case_id == case.id)
                              .order_by(col(models.VerificationCode.id))))
    return CaseDetail(row=case_row(case, now), case=case, evidence=_evidence(case),
                      messages=_messages(session, case), codes=codes, trail=trail,
                      details={e.id or 0: _details_text(e.details) for e in trail})


def _evidence(case: models.Case) -> dict[str, Any]:
    try:
        value = json.loads(case.evidence or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _details_text(details: str) -> str:
    try:
        value = json.loads(details or "{}")
    except ValueError:
        return details
    return ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else ""


def _messages(session: Session, case: models.Case) -> list[MessageView]:
    inbound = session.exec(select(models.InboundMessage)
                           .where(models.InboundMessage.case_id == case.id)).all()
    outbound = session.exec(select(models.Outbox).where(models.Outbox.case_id == case.id)).all()
    views = [_inbound_view(m) for m in inbound] + [_outbox_view(o) for o in outbound]
    return sorted(views, key=lambda v: v.at)


def _inbound_view(row: models.InboundMessage) -> MessageView:
    subject, text, names = "", "(kept as a file: too large to show here)", []
    if not row.raw_key:
        subject, text, names = _parse_inbound(row.raw)
    return MessageView("in", row.received_at, subject, masked(text)[:TEXT_LIMIT], names,
                       row.status)


def _parse_inbound(raw: bytes) -> tuple[str, str, list[str]]:
    if not raw:
        return "", "(erased)", []
    try:
        parsed = parse_message(raw)
    except MessageParseError as exc:
        return "", f"(cannot be shown: {exc.reason})", []
    return parsed.subject, parsed.text, [a.filename for a in parsed.attachments]


def _outbox_view(row: models.Outbox) -> MessageView:
    subject, text, names = "", "(erased)", []
    if row.raw:
        msg = BytesParser(policy=policy.default).parsebytes(row.raw)
        assert isinstance(msg, EmailMessage)
        subject, text, names = str(msg.get("Subject", "")), _plain_text(msg), [
            part.get_filename() or "" for part in msg.iter_attachments()]
    return MessageView("out", row.created_at, subject, masked(text)[:TEXT_LIMIT], names,
                       row.status, row.purpose)


def masked(text: str) -> str:
    """Verification codes and download tokens blanked out: staff read what was said, but
    cannot answer a code check or fetch a client's export from the page."""
    text = CODE_SHOWN_RE.sub("••••-••••", text)
    return DOWNLOAD_LINK_RE.sub(DOWNLOAD_PREFIX + "…", text)


def _plain_text(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    if body is None:
        return "(no text part)"
    content = body.get_content()
    return content if isinstance(content, str) else "(no text part)"


def inbound_queue(session: Session, status: str, limit: int = 200) -> list[models.InboundMessage]:
    query = select(models.InboundMessage).where(models.InboundMessage.status == status)
    return list(session.exec(query.order_by(col(models.InboundMessage.id).desc()).limit(limit)))


def inbound_counts(session: Session) -> dict[str, int]:
    query = (select(models.InboundMessage.status, func.count())
             .where(col(models.InboundMessage.status).in_(INBOUND_QUEUES))
             .group_by(models.InboundMessage.status))
    counts = dict(session.exec(query).all())
    return {status: int(counts.get(status, 0)) for status in INBOUND_QUEUES}


def identity_state(statuses: set[str]) -> str:
    """From the case's code statuses: verified, pending, failed (expired, locked, voided
    only) or none."""
    if "used" in statuses:
        return "verified"
    if "active" in statuses:
        return "pending"
    return "failed" if statuses else "none"
