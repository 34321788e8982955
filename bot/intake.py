"""Durable intake: store the raw bytes first, acknowledge after (Mailman's rule)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select, update

from bot.context import App
from storage import models
from storage.db import audit, unit_of_work
from storage.files import StoredFile

log = logging.getLogger(__name__)
HEAD_BYTES = 65536  # the headers are read from this much of the start
KEYS_PER_QUERY = 500  # source keys looked up per IN (...) (bound parameters stay few)


@dataclass(frozen=True)
class RawMail:
    """One message to store: its bytes, or a file a channel already streamed into the store."""

    content: bytes | StoredFile
    source_key: str | None = None  # idempotency key; None: a fresh one
    sender: str | None = None
    status: str = "new"


@dataclass(frozen=True)
class _Raw:
    """The raw message as it will be kept: bytes in the row, or a file in the store."""

    data: bytes  # b"" when spooled
    stored: StoredFile | None
    sha256: str
    size: int
    message_id: str | None


@dataclass(frozen=True)
class _Pending:
    key: str
    mail: RawMail
    kept: _Raw


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
    [result] = store_many(app, channel, [RawMail(raw, source_key, sender, status)])
    return result


def store_spooled(app: App, channel: str, stored: StoredFile, *,
                  source_key: str | None = None, sender: str | None = None,
                  status: str = "new") -> tuple[int, bool]:
    """Like store_raw for a message a channel already streamed into the file store."""
    [result] = store_many(app, channel, [RawMail(stored, source_key, sender, status)])
    return result


def store_many(app: App, channel: str, mails: Sequence[RawMail]) -> list[tuple[int, bool]]:
    """Commit a batch of raw messages in one transaction, with store_raw's rules for each;
    returns (inbound id, created) per message, in order. A key already stored (or repeated
    in the batch) gives the existing id and created=False."""
    pending = [_Pending(mail.source_key or f"{channel}:{uuid.uuid4().hex}", mail,
                        _keep(app, mail.content)) for mail in mails]
    with app.write_lock:
        if len(pending) == 1:
            return [_insert_or_find(app, channel, pending[0])]
        try:
            return _insert(app, channel, pending)
        except IntegrityError:  # another process stored one of the keys meanwhile
            return [_insert_or_find(app, channel, one) for one in pending]


def _insert_or_find(app: App, channel: str, one: _Pending) -> tuple[int, bool]:
    try:
        [result] = _insert(app, channel, [one])
    except IntegrityError:  # a concurrent writer stored the same key
        with unit_of_work(app.engine) as session:
            return _ids_by_key(session, [one.key])[one.key], False
    return result


def _keep(app: App, content: bytes | StoredFile) -> _Raw:
    """Spill large bytes to the file store, hash, read the Message-ID: all before the lock."""
    if isinstance(content, StoredFile):
        with app.files.path(content.key).open("rb") as handle:
            head = handle.read(HEAD_BYTES)
        return _Raw(data=b"", stored=content, sha256=content.sha256, size=content.size,
                    message_id=peek_message_id(head))
    large = len(content) > app.settings.spool_threshold_bytes
    stored = app.files.put_bytes(content) if large else None
    return _Raw(data=b"" if large else content, stored=stored, size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                message_id=peek_message_id(content))


def _insert(app: App, channel: str, pending: list[_Pending]) -> list[tuple[int, bool]]:
    """One transaction: a row and an `inbound.stored` audit entry per unknown key."""
    with unit_of_work(app.engine) as session:
        known = _ids_by_key(session, [p.key for p in pending])
        now = app.clock.now()
        fresh: dict[str, _Pending] = {}
        for p in pending:
            if p.key not in known:
                fresh.setdefault(p.key, p)  # a key repeated in the batch: the first one
        new_ids = _insert_rows(session, channel, list(fresh.values()), now)
        for p, inbound_id in zip(fresh.values(), new_ids, strict=True):
            audit(session, "inbound.stored", at=now, inbound_id=inbound_id, channel=channel,
                  size=p.kept.size, status=p.mail.status)
    created = dict(zip(fresh, new_ids, strict=True))
    for key, inbound_id in created.items():
        log.info("inbound %s stored from %s (%d bytes)", inbound_id, channel,
                 fresh[key].kept.size)
    ids = known | created
    # a key repeated in the batch counts as created for its first occurrence only
    return [(ids[p.key], created.pop(p.key, None) is not None) for p in pending]


def _insert_rows(session: Session, channel: str, pending: list[_Pending],
                 now: datetime) -> list[int]:
    """One bulk INSERT ... RETURNING id, ids in the order given (no ORM object per row, which
    is most of the cost of a batch)."""
    if not pending:
        return []
    table = models.InboundMessage
    statement = insert(table).returning(col(table.id), sort_by_parameter_order=True)
    rows = [_values(channel, p, now) for p in pending]
    return [int(inbound_id) for inbound_id in session.scalars(statement, rows)]


def _values(channel: str, p: _Pending, now: datetime) -> dict[str, object]:
    kept, sender = p.kept, p.mail.sender
    return {"channel": channel, "source_key": p.key, "message_id": kept.message_id,
            "sha256": kept.sha256, "raw": kept.data,
            "raw_key": kept.stored.key if kept.stored else None, "received_at": now,
            "status": p.mail.status, "sender": sender.lower() if sender else None}


def _ids_by_key(session: Session, keys: list[str]) -> dict[str, int]:
    """{source key: inbound id} for the keys already stored."""
    source_key = col(models.InboundMessage.source_key)
    found: dict[str, int] = {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        query = select(source_key, models.InboundMessage.id).where(
            source_key.in_(keys[start:start + KEYS_PER_QUERY]))
        found.update((key, inbound_id) for key, inbound_id in session.exec(query)
                     if inbound_id is not None)
    return found


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

