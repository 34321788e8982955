"""Duplicates a Message-ID does not reveal (issue 17).

- The same raw bytes (sha256) within `duplicate_window_hours` of a handled copy: a duplicate
  (a mailbox holding the message twice, a sender re-sending a file, mail without Message-ID).
- Mail without a Message-ID with the same sender, subject, text and attachments within
  `redelivery_window_minutes`: a re-delivery (a relay that retried after a lost "250", adding
  fresh Received lines). Mail with a Message-ID is a new send when the ID is new (a person
  typing the same code again, a staff command re-sent signed); chat messages are exempt too.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlmodel import Session, col, select

from bot.batchcache import HANDLED, batch_cache
from bot.context import App
from bot.mime import ParsedMessage
from storage import models

__all__ = ["HANDLED", "duplicate_reason", "fingerprint"]


def fingerprint(parsed: ParsedMessage) -> str:
    """sha256 over sender, subject, whitespace-normalised text and attachment digests."""
    digest = hashlib.sha256()
    for part in (parsed.from_addr, " ".join(parsed.subject.split()), " ".join(parsed.text.split())):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    for att in parsed.attachments:
        data_hash = att.stored.sha256 if att.stored else hashlib.sha256(att.data).hexdigest()
        digest.update(f"{att.filename}\0{att.size}\0{data_hash}\0".encode("utf-8", "replace"))
    return digest.hexdigest()


def _earlier(session: Session, row: models.InboundMessage, column: object, value: str,
             window: timedelta) -> bool:
    inbound = models.InboundMessage
    query = select(inbound.id).where(
        column == value, inbound.id != row.id, col(inbound.status).in_(HANDLED),
        inbound.received_at >= row.received_at - window)
    return session.exec(query).first() is not None


def _same_bytes(session: Session, row: models.InboundMessage, window: timedelta) -> bool:
    cache = batch_cache(session)
    known = cache.handled_same_bytes(row, row.received_at - window) if cache else None
    if known is not None:
        return known
    return _earlier(session, row, models.InboundMessage.sha256, row.sha256, window)


def duplicate_reason(session: Session, app: App, row: models.InboundMessage,
                     parsed: ParsedMessage) -> str | None:
    """Why this stored message is a copy of one already handled; None if it is not."""
    settings = app.settings
    inbound = models.InboundMessage
    if _same_bytes(session, row, timedelta(hours=settings.duplicate_window_hours)):
        return "same raw bytes already handled"
    if row.channel == "telegram" or parsed.message_id or not parsed.from_addr:
        return None  # a fresh Message-ID is a new send (a code typed again, a signed retry)
    row.fingerprint = fingerprint(parsed)
    if _earlier(session, row, inbound.fingerprint, row.fingerprint,
                timedelta(minutes=settings.redelivery_window_minutes)):
        return "re-delivery: same sender, subject and text"
    return None
