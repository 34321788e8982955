"""Durable intake: store the raw bytes first, acknowledge after (Mailman's rule)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser

from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select, update

from bot.context import App
from storage import models
from storage.db import audit, unit_of_work
from storage.files import StoredFile

log = logging.getLogger(__name__)
HEAD_BYTES = 65536  # the headers are read from this much of the start


@dataclass(frozen=True)
class _Raw:
    """The raw message as it will be kept: bytes in the row, or a file in the store."""

    data: bytes  # b"" when spooled
    stored: StoredFile | None
    sha256: str
    size: int
    head: bytes  # enough of the start to read the headers


def store_raw(
    app: App,
    channel: str,
    raw: bytes,
    *,
    source_key: str | None = None,
    sender: str | None = None,
    status: str = "new",
) -> tuple[int, bool]:
    """Commit the raw message; returns (inbound id, created). A known key is not stored twice.

    Mail over the spool threshold goes to the file store, not the database column.
    """
    large = len(raw) > app.settings.spool_threshold_bytes
    stored = app.files.put_bytes(raw) if large else None
    kept = _Raw(data=b"" if large else raw, stored=stored, size=len(raw),
                sha256=hashlib.sha256(raw).hexdigest(), head=raw[:HEAD_BYTES])
    return _insert(app, channel, kept, source_key, sender, status)


def store_spooled(app: App, channel: str, stored: StoredFile, *,
                  source_key: str | None = None, sender: str | None = None,
                  status: str = "new") -> tuple[int, bool]:
    """Like store_raw for a message a channel already streamed into the file store."""
    with app.files.path(stored.key).open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    kept = _Raw(data=b"", stored=stored, sha256=stored.sha256, size=stored.size, head=head)
    return _insert(app, channel, kept, source_key, sender, status)


def _insert(app: App, channel: str, kept: _Raw, source_key: str | None, sender: str | None,
            status: str) -> tuple[int, bool]:
    key = source_key or f"{channel}:{uuid.uuid4().hex}"
    with app.write_lock:
        existing = _find_by_key(app, key)
        if existing is not None:
            return existing, False
        try:
            with unit_of_work(app.engine) as session:
                row = models.InboundMessage(
                    channel=channel, source_key=key, message_id=peek_message_id(kept.head),
                    sha256=kept.sha256, raw=kept.data,
                    raw_key=kept.stored.key if kept.stored else None,
                    received_at=app.clock.now(), status=status,
                    sender=sender.lower() if sender else None,
                )
                session.add(row)
                session.flush()
                audit(session, "inbound.stored", at=row.received_at, inbound_id=row.id,
                      channel=channel, size=kept.size, status=status)
                inbound_id = row.id
        except IntegrityError:  # a concurrent writer stored the same key
            found = _find_by_key(app, key)
            assert found is not None
            return found, False
    assert inbound_id is not None
    log.info("inbound %s stored from %s (%d bytes)", inbound_id, channel, kept.size)
    return inbound_id, True


def _find_by_key(app: App, key: str) -> int | None:
    with unit_of_work(app.engine) as session:
        query = select(models.InboundMessage.id).where(models.InboundMessage.source_key == key)
        return session.exec(query).first()


def peek_message_id(raw: bytes) -> str | None:
    """The Message-ID header, if it can be read at all; never raises."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:HEAD_BYTES])
        value = headers.get("Message-ID")
    except Exception:
        return None
    if not value:
        return None
    value = str(value).strip()
    return value[:998] or None


def forget_raw(session: Session, app: App, where: ColumnElement[bool], **values: object) -> int:
    """Empty the raw bytes of the matching inbound rows (erasure, retention), deleting the
    file of spooled large mail too; `values` sets further columns. Returns files deleted."""
    inbound = models.InboundMessage
    keys = session.exec(select(inbound.raw_key).where(
        where, col(inbound.raw_key).is_not(None))).all()
    deleted = sum(int(app.files.delete(key)) for key in keys if key)
    session.exec(update(inbound).where(where).values(raw=b"", raw_key=None, **values)
                 .execution_options(synchronize_session=False))
    return deleted

