"""Durable intake: store the raw bytes first, acknowledge after (Mailman's rule)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from email import policy
from email.parser import BytesHeaderParser

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.context import App
from storage import models
from storage.db import audit, unit_of_work

log = logging.getLogger(__name__)


def store_raw(
    app: App,
    channel: str,
    raw: bytes,
    *,
    source_key: str | None = None,
    sender: str | None = None,
    status: str = "new",
) -> tuple[int, bool]:
    """Commit the raw message; returns (inbound id, created). A known key is not stored twice."""
    key = source_key or f"{channel}:{uuid.uuid4().hex}"
    with app.write_lock:
        existing = _find_by_key(app, key)
        if existing is not None:
            return existing, False
        try:
            with unit_of_work(app.engine) as session:
                row = models.InboundMessage(
                    channel=channel, source_key=key, message_id=peek_message_id(raw),
                    sha256=hashlib.sha256(raw).hexdigest(), raw=raw,
                    received_at=app.clock.now(), status=status,
                    sender=sender.lower() if sender else None,
                )
                session.add(row)
                session.flush()
                audit(session, "inbound.stored", at=row.received_at, inbound_id=row.id,
                      channel=channel, size=len(raw), status=status)
                inbound_id = row.id
        except IntegrityError:  # a concurrent writer stored the same key
            found = _find_by_key(app, key)
            assert found is not None
            return found, False
    assert inbound_id is not None
    log.info("inbound %s stored from %s (%d bytes)", inbound_id, channel, len(raw))
    return inbound_id, True


def _find_by_key(app: App, key: str) -> int | None:
    with unit_of_work(app.engine) as session:
        query = select(models.InboundMessage.id).where(models.InboundMessage.source_key == key)
        return session.exec(query).first()


def peek_message_id(raw: bytes) -> str | None:
    """The Message-ID header, if it can be read at all; never raises."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:65536])
        value = headers.get("Message-ID")
    except Exception:
        return None
    if not value:
        return None
    value = str(value).strip()
    return value[:998] or None
