"""store_many: a batch of raw messages in one transaction, with store_raw's rules per message."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlmodel import select

import bot.intake
from bot.context import App
from bot.intake import RawMail, store_many, store_raw, store_spooled
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail


def _rows(app: App) -> list[models.InboundMessage]:
    with unit_of_work(app.engine) as session:
        query = select(models.InboundMessage).order_by(models.InboundMessage.id)
        return list(session.exec(query))


def _stored_audits(app: App) -> list[models.AuditLog]:
    with unit_of_work(app.engine) as session:
        query = select(models.AuditLog).where(models.AuditLog.action == "inbound.stored")
        return list(session.exec(query.order_by(models.AuditLog.id)))


def test_batch_is_stored_in_order_with_an_audit_entry_each(app: App) -> None:
    mails = [make_mail(f"message {n}", msgid=f"<batch-{n}@example.com>") for n in range(3)]
    results = store_many(app, "imap", [RawMail(raw, source_key=f"imap:k:1:{n}",
                                               sender="Jane@Example.com")
                                       for n, raw in enumerate(mails)])
    rows = _rows(app)
    assert results == [(row.id, True) for row in rows]
    assert [row.source_key for row in rows] == ["imap:k:1:0", "imap:k:1:1", "imap:k:1:2"]
    assert [row.raw for row in rows] == mails
    assert [row.message_id for row in rows] == [f"<batch-{n}@example.com>" for n in range(3)]
    assert [row.sha256 for row in rows] == [hashlib.sha256(raw).hexdigest() for raw in mails]
    assert {row.sender for row in rows} == {"jane@example.com"}
    assert {row.status for row in rows} == {"new"}
    audits = _stored_audits(app)
    assert [entry.inbound_id for entry in audits] == [row.id for row in rows]
    assert json.loads(audits[0].details) == {"channel": "imap", "size": len(mails[0]),
                                              "status": "new"}


def test_known_and_repeated_keys_are_not_stored_twice(app: App) -> None:
    first, created = store_raw(app, "imap", make_mail("old"), source_key="imap:k:1:1")
    assert created
    results = store_many(app, "imap", [
        RawMail(make_mail("again"), source_key="imap:k:1:1"),
        RawMail(make_mail("new"), source_key="imap:k:1:2"),
        RawMail(make_mail("new, fetched twice"), source_key="imap:k:1:2"),
    ])
    rows = _rows(app)
    assert len(rows) == 2
    assert results == [(first, False), (rows[1].id, True), (rows[1].id, False)]
    assert len(_stored_audits(app)) == 2
    assert store_many(app, "imap", []) == []


def test_large_mail_in_a_batch_goes_to_the_file_store(make_app: Any) -> None:
    app = make_app(spool_threshold_bytes=10_000)
    small = make_mail("small")
    large = make_mail("large " * 5_000, msgid="<large@example.com>")
    spooled = app.files.put_bytes(make_mail("streamed " * 5_000))
    store_many(app, "imap", [RawMail(small, source_key="imap:k:1:1"),
                             RawMail(large, source_key="imap:k:1:2"),
                             RawMail(spooled, source_key="imap:k:1:3")])
    rows = _rows(app)
    assert rows[0].raw == small and rows[0].raw_key is None
    assert rows[1].raw == b"" and rows[1].message_id == "<large@example.com>"
    assert rows[1].raw_key is not None and app.files.path(rows[1].raw_key).read_bytes() == large
    assert rows[1].sha256 == hashlib.sha256(large).hexdigest()
    assert (rows[2].raw, rows[2].raw_key, rows[2].sha256) == (b"", spooled.key, spooled.sha256)
    # the one-message wrapper for streamed mail still dedupes by key
    assert store_spooled(app, "imap", spooled, source_key="imap:k:1:3") == (rows[2].id, False)


def _blind_lookups(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """The next `times` key lookups miss everything, as when another process commits a key
    between the lookup and the INSERT."""
    real, calls = bot.intake._ids_by_key, iter(range(times))

    def blind(session: Any, keys: list[str]) -> dict[str, int]:
        return {} if next(calls, None) is not None else real(session, keys)

    monkeypatch.setattr(bot.intake, "_ids_by_key", blind)


def test_key_stored_by_another_process_midway_gives_way_only_for_that_key(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch hits the unique index and is retried one message at a time."""
    theirs, _ = store_raw(app, "imap", make_mail("theirs"), source_key="imap:k:1:1")
    _blind_lookups(monkeypatch, 2)  # the batch's lookup, then the retried first message's
    results = store_many(app, "imap", [RawMail(make_mail("ours"), source_key="imap:k:1:1"),
                                       RawMail(make_mail("next"), source_key="imap:k:1:2")])
    rows = _rows(app)
    assert [row.source_key for row in rows] == ["imap:k:1:1", "imap:k:1:2"]
    assert results == [(theirs, False), (rows[1].id, True)]
    assert len(_stored_audits(app)) == 2
    _blind_lookups(monkeypatch, 1)
    assert store_raw(app, "imap", make_mail("again"), source_key="imap:k:1:2") == (rows[1].id,
                                                                                 False)
