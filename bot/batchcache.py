"""Lookups a handling batch does once instead of once per message (issue #18).

`process_batch` claims up to 50 messages; each used to look up, with a query of its own, the
client of its sender, the sender's open cases, whether its Message-ID or its bytes were
already handled, whether its Message-ID is already on a case, and how many replies its sender
got lately. `BatchCache.prefetch` answers those for every message of the batch with a few
IN queries; the answers then stay true for later messages of the batch because the cache
follows every flush of the session (`after_flush`): a case, client address, Message-ID,
outbox row or handled message written by an earlier message is added to what it knows.

A key the cache was not asked to prefetch is looked up with the old query and kept. A
message whose savepoint rolls back may have left entries for rows that no longer exist, so
`forget` (called then) drops everything and later lookups query again.

Lookups are answered from the session's state as flushed; a lookup whose answer may depend
on objects still pending in the session flushes first, as autoflush would have.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlmodel import Session, col, select

from storage import models
from storage.db import add_row

CACHE_KEY = "batch_cache"  # session.info key while a batch is being handled
HANDLED = ("processed", "robot", "duplicate", "spam")  # bot.duplicates.HANDLED
IN_CHUNK = 500  # keys per IN list


def batch_cache(session: Session) -> BatchCache | None:
    """The cache of the batch this session is handling, if any."""
    return session.info.get(CACHE_KEY)


def add_link(session: Session, case_id: int | None, message_id: str, direction: str) -> None:
    """Record a Message-ID on a case (storage.db.add_row), and tell the batch's cache."""
    assert case_id is not None
    add_row(session, models.CaseMessageId, case_id=case_id, message_id=message_id,
            direction=direction)
    cache = batch_cache(session)
    if cache is not None and message_id in cache.case_message_ids:
        cache.case_message_ids[message_id].add(case_id)


class BatchCache:
    """Per-batch answers, keyed by what the handlers look up."""

    def __init__(self, session: Session, window_start: datetime) -> None:
        self.session = session
        self.window_start = window_start  # outbox rows older than this never count again
        self.forget()
        event.listen(session, "after_flush", self._after_flush)

    def close(self) -> None:
        event.remove(self.session, "after_flush", self._after_flush)
        self.session.info.pop(CACHE_KEY, None)

    def forget(self) -> None:
        """Drop every answer; the next lookups query (after a savepoint rolled back)."""
        self.clients: dict[str, models.Client | None] = {}
        self.cases: dict[str, list[models.Case]] = {}
        self.by_message_id: dict[str, set[int]] = {}
        self.by_sha256: dict[str, dict[int, datetime]] = {}
        self.case_message_ids: dict[str, set[int]] = {}
        self.sent_at: dict[str, dict[str, datetime]] = {}  # address: {outbox key: created}

    # ------------------------------------------------------------------ prefetch

    def prefetch(self, rows: Sequence[models.InboundMessage], senders: Iterable[str]) -> None:
        """Load the answers for these messages and their senders in a few queries."""
        addresses = sorted({s for s in senders if s})
        message_ids = sorted({r.message_id for r in rows if r.message_id})
        self._load_clients(addresses)
        self._load_cases(addresses)
        self._load_handled(message_ids, sorted({r.sha256 for r in rows}))
        self._load_case_message_ids(message_ids)
        self._load_sent(addresses)

    def _load_clients(self, addresses: list[str]) -> None:
        lowered = sorted({a.lower() for a in addresses})
        for chunk in _chunks(lowered):
            query = (select(models.ClientEmail.address, models.Client)
                     .join(models.Client, models.ClientEmail.client_id == models.Client.id)
                     .where(col(models.ClientEmail.address).in_(chunk)))
            found = {address: client for address, client in self.session.exec(query)}
            for address in chunk:
                self.clients[address] = found.get(address)

    def _load_cases(self, addresses: list[str]) -> None:
        for chunk in _chunks(addresses):
            query = (select(models.Case)
                     .where(col(models.Case.requester).in_(chunk), models.Case.status != "closed")
                     .order_by(col(models.Case.id)))
            found: dict[str, list[models.Case]] = defaultdict(list)
            for case in self.session.exec(query):
                found[case.requester].append(case)
            for address in chunk:
                self.cases[address] = found.get(address, [])

    def _load_handled(self, message_ids: list[str], digests: list[str]) -> None:
        inbound = models.InboundMessage
        handled = col(inbound.status).in_(HANDLED)
        for chunk in _chunks(message_ids):
            self.by_message_id.update((m, set()) for m in chunk)
            query = select(inbound.id, inbound.message_id).where(
                col(inbound.message_id).in_(chunk), handled)
            for inbound_id, message_id in self.session.exec(query):
                self.by_message_id[message_id].add(inbound_id)  # type: ignore[index,arg-type]
        for chunk in _chunks(digests):
            self.by_sha256.update((d, {}) for d in chunk)
            query2 = select(inbound.id, inbound.sha256, inbound.received_at).where(
                col(inbound.sha256).in_(chunk), handled)
            for inbound_id, digest, received_at in self.session.exec(query2):
                self.by_sha256[digest][inbound_id] = received_at  # type: ignore[index]

    def _load_case_message_ids(self, message_ids: list[str]) -> None:
        link = models.CaseMessageId
        for chunk in _chunks(message_ids):
            self.case_message_ids.update((m, set()) for m in chunk)
            query = select(link.message_id, link.case_id).where(col(link.message_id).in_(chunk))
            for message_id, case_id in self.session.exec(query):
                self.case_message_ids[message_id].add(case_id)

    def _load_sent(self, addresses: list[str]) -> None:
        outbox = models.Outbox
        for chunk in _chunks(addresses):
            self.sent_at.update((a, {}) for a in chunk)
            query = select(outbox.to_addr, outbox.idempotency_key, outbox.created_at).where(
                col(outbox.to_addr).in_(chunk), outbox.created_at >= self.window_start)
            for address, key, created_at in self.session.exec(query):
                self.sent_at[address][key] = created_at

    # ------------------------------------------------------------------ lookups

    def client(self, address: str) -> tuple[bool, models.Client | None]:
        """(known, client) for an address; known=False: the caller queries."""
        self._settle((models.ClientEmail, models.Client))
        key = address.lower()
        return key in self.clients, self.clients.get(key)

    def remember_client(self, address: str, client: models.Client | None) -> None:
        self.clients[address.lower()] = client

    def open_cases(self, requester: str) -> list[models.Case] | None:
        """The requester's cases that are not closed, oldest first; None: not known."""
        self._settle((models.Case,))
        cases = self.cases.get(requester)
        if cases is None:
            return None
        return [c for c in cases if c.requester == requester and c.status != "closed"]

    def remember_cases(self, requester: str, cases: list[models.Case]) -> None:
        self.cases[requester] = sorted(cases, key=lambda c: c.id or 0)

    def handled_message_id(self, row: models.InboundMessage) -> bool | None:
        """Another handled message has this row's Message-ID; None: not known."""
        assert row.message_id is not None
        self._settle((models.InboundMessage,), but=row)
        ids = self.by_message_id.get(row.message_id)
        return None if ids is None else bool(ids - {row.id})

    def handled_same_bytes(self, row: models.InboundMessage, since: datetime) -> bool | None:
        """Another message with these bytes was handled since then; None: not known."""
        self._settle((models.InboundMessage,), but=row)
        seen = self.by_sha256.get(row.sha256)
        if seen is None:
            return None
        return any(i != row.id and _aware(at) >= _aware(since) for i, at in seen.items())

    def on_case(self, case_id: int | None, message_id: str) -> bool | None:
        """The Message-ID is already recorded on the case; None: not known."""
        self._settle((models.CaseMessageId,))
        cases = self.case_message_ids.get(message_id)
        return None if cases is None else case_id in cases

    def replies_since(self, address: str, since: datetime) -> int | None:
        """Outbox rows to the address created since then; None: not known. Rows queued
        but not flushed yet count too (note_outbox)."""
        times = self.sent_at.get(address) if since >= self.window_start else None
        if times is None:
            return None
        return sum(1 for at in times.values() if _aware(at) >= _aware(since))

    def note_outbox(self, row: models.Outbox) -> None:
        """An Outbox row queued in the session (flushed later)."""
        if row.to_addr in self.sent_at:
            self.sent_at[row.to_addr][row.idempotency_key] = row.created_at

    # ------------------------------------------------------------------ keeping up

    def _settle(self, types: tuple[type, ...], but: object = None) -> None:
        """Flush first if objects of these types are pending (what autoflush did)."""
        session = self.session
        pending = (*session.new, *session.dirty, *session.deleted)
        if any(isinstance(o, types) and o is not but for o in pending):
            session.flush()

    def _after_flush(self, session: Session, _context: Any) -> None:
        for obj in session.new:
            self._added(obj)
        for obj in session.dirty:
            self._changed(obj)
        if any(isinstance(o, _TRACKED) for o in session.deleted):
            self.forget()  # rare in handling (nothing deletes there today): start over

    def _added(self, obj: object) -> None:
        if isinstance(obj, models.ClientEmail):
            self.clients.clear()  # a new address of a client: ask again
        elif isinstance(obj, models.Case):
            self._track_case(obj)
        elif isinstance(obj, models.CaseMessageId):
            if obj.message_id in self.case_message_ids:
                self.case_message_ids[obj.message_id].add(obj.case_id)
        elif isinstance(obj, models.Outbox):
            self.note_outbox(obj)
        elif isinstance(obj, models.InboundMessage):
            self._track_inbound(obj)

    def _changed(self, obj: object) -> None:
        if isinstance(obj, models.ClientEmail):
            self.clients.clear()
        elif isinstance(obj, models.Case):
            self._track_case(obj)
        elif isinstance(obj, models.InboundMessage):
            self._track_inbound(obj)
        elif isinstance(obj, models.CaseMessageId | models.Outbox) and _modified(obj):
            self.forget()  # handling never edits these; if it starts to, stay correct

    def _track_case(self, case: models.Case) -> None:
        cases = self.cases.get(case.requester)
        if cases is not None and all(c is not case for c in cases):
            cases.append(case)
            cases.sort(key=lambda c: c.id or 0)

    def _track_inbound(self, row: models.InboundMessage) -> None:
        """Keep the handled sets exact for a row whose status (or keys) may have changed."""
        for ids in self.by_message_id.values():
            ids.discard(row.id)  # type: ignore[arg-type]
        for seen in self.by_sha256.values():
            seen.pop(row.id, None)  # type: ignore[arg-type]
        if row.status not in HANDLED or row.id is None:
            return
        if row.message_id in self.by_message_id:
            self.by_message_id[row.message_id].add(row.id)
        if row.sha256 in self.by_sha256:
            self.by_sha256[row.sha256][row.id] = row.received_at


_TRACKED = (models.Client, models.ClientEmail, models.Case, models.CaseMessageId,
            models.Outbox, models.InboundMessage)


def _modified(obj: object) -> bool:
    return bool(inspect(obj).modified)


def _chunks(keys: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(keys), IN_CHUNK):
        yield keys[start:start + IN_CHUNK]


def _aware(moment: datetime) -> datetime:
    """Timestamps are aware UTC (storage.models); a naive one is read as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
