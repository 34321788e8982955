"""Batched IMAP intake against a real Dovecot: a burst is stored once per message and flagged
(or moved) after commit, a crash between commit and flag stores nothing twice, large mail in a
burst still goes the ranged path, and a big backlog is filed in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlmodel import select

import bot.channels.imap as imap
from bot.channels.imap import PROCESSED_FLAG, ImapWatcher, connect
from bot.context import App
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail, wait_until
from tests.servers.dovecot import DovecotServer

Batch = list[tuple[int, int]]


def _imap_app(make_app: Callable[..., App], server: DovecotServer, user: str,
              **extra: object) -> App:
    return make_app(imap_host=server.host, imap_port=server.port, imap_ssl=False,
                    imap_user=user, imap_password=server.password, smtp_enabled=False, **extra)


def _mails(count: int, tag: str) -> list[bytes]:
    return [make_mail(f"{tag} {n}: please send me a copy of my data",
                      sender=f"client{n}@example.com", msgid=f"<{tag}-{n}@example.com>")
            .replace(b"\n", b"\r\n") for n in range(count)]


def _append(server: DovecotServer, user: str, mails: list[bytes],
            arrived: datetime | None = None) -> list[int]:
    """APPEND all mails in one MULTIAPPEND (with INTERNALDATE `arrived`, if given); returns
    every UID in the INBOX."""
    with server.client(user) as conn:
        conn.multiappend("INBOX", mails if arrived is None
                         else [{"msg": mail, "date": arrived} for mail in mails])
        conn.select_folder("INBOX", readonly=True)
        return sorted(conn.search("ALL"))


def _inbound(app: App) -> list[models.InboundMessage]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.InboundMessage).order_by(models.InboundMessage.id)))


def _last_uid(app: App) -> int:
    with unit_of_work(app.engine) as session:
        state = session.exec(select(models.MailboxState)).first()
        return state.last_uid if state else -1


@contextmanager
def _watching(watcher: ImapWatcher) -> Iterator[ImapWatcher]:
    watcher.start()
    try:
        yield watcher
    finally:
        watcher.stop()


def _initialise(app: App) -> None:
    """Let a watcher see the mailbox empty, so later mail is new mail, not backlog."""
    with _watching(ImapWatcher(app)):
        wait_until(lambda: _last_uid(app) == 0)


def _record_batches(monkeypatch: pytest.MonkeyPatch) -> list[Batch]:
    """Spy on the fetch batches the watcher forms."""
    seen: list[Batch] = []
    real = ImapWatcher._fetch_batch

    def spy(self: ImapWatcher, client: object, batch: Batch) -> object:
        seen.append(list(batch))
        return real(self, client, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(ImapWatcher, "_fetch_batch", spy)
    return seen


def _flagged(server: DovecotServer, user: str) -> dict[int, bool]:
    return {uid: PROCESSED_FLAG in flags and b"\\Seen" in flags
            for uid, flags in server.flags(user).items()}


def test_burst_is_stored_once_flagged_and_handed_on(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _imap_app(make_app, dovecot, imap_user)
    _initialise(app)
    uids = _append(dovecot, imap_user, _mails(300, "burst"))
    batches = _record_batches(monkeypatch)
    handed: list[int] = []
    with _watching(ImapWatcher(app, on_stored=handed.append)):
        wait_until(lambda: _last_uid(app) == uids[-1])
        # more mail while the watcher runs (announced by IDLE or during its own commands)
        uids = _append(dovecot, imap_user, _mails(40, "later"))
        wait_until(lambda: _last_uid(app) == uids[-1])
    rows = _inbound(app)
    assert len(rows) == 340 == len({row.source_key for row in rows})
    assert {row.message_id for row in rows} == {f"<burst-{n}@example.com>" for n in range(300)
                                                } | {f"<later-{n}@example.com>" for n in range(40)}
    assert {row.status for row in rows} == {"new"}  # processing is the on_stored side's job
    assert sorted(handed) == [row.id for row in rows]
    assert set(_flagged(dovecot, imap_user).values()) == {True}
    assert [len(b) for b in batches[:2]] == [200, 100]  # one FETCH per chunk, not per message


def test_crash_between_commit_and_flag_stores_nothing_twice(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _imap_app(make_app, dovecot, imap_user)
    _initialise(app)
    uids = _append(dovecot, imap_user, _mails(300, "crash"))
    crashed = ImapWatcher(app, on_stored=lambda _id: None)

    def crash(_client: object, _uids: list[int]) -> None:
        raise RuntimeError("killed after the commit, before the flags")

    monkeypatch.setattr(crashed, "_mark_handled", crash)
    client = connect(app)
    try:
        uidvalidity = int(client.select_folder("INBOX")[b"UIDVALIDITY"])
        with pytest.raises(RuntimeError):
            crashed.sync(client, uidvalidity)
    finally:
        client.logout()
    first = _inbound(app)
    assert len(first) == 200  # the first batch was committed ...
    assert not any(_flagged(dovecot, imap_user).values())  # ... but not flagged
    assert _last_uid(app) == 0
    handed: list[int] = []
    with _watching(ImapWatcher(app, on_stored=handed.append)):  # the restart
        wait_until(lambda: _last_uid(app) == uids[-1])
    rows = _inbound(app)
    assert len(rows) == 300 == len({row.source_key for row in rows})
    assert rows[:200] == first
    assert sorted(handed) == [row.id for row in rows[200:]]  # the re-fetched 200: no-ops
    assert set(_flagged(dovecot, imap_user).values()) == {True}


def test_connection_lost_while_flagging_is_retried_without_a_second_row(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _imap_app(make_app, dovecot, imap_user, imap_backoff_max_seconds=1)
    _initialise(app)
    uids = _append(dovecot, imap_user, _mails(30, "drop"))
    real, failures = ImapWatcher._mark_handled, iter([OSError("connection reset")])

    def flaky(self: ImapWatcher, client: object, marked: list[int]) -> None:
        if (error := next(failures, None)) is not None:
            raise error
        real(self, client, marked)  # type: ignore[arg-type]

    monkeypatch.setattr(ImapWatcher, "_mark_handled", flaky)
    handed: list[int] = []
    with _watching(ImapWatcher(app, on_stored=handed.append)):
        wait_until(lambda: _last_uid(app) == uids[-1])
    rows = _inbound(app)
    assert len(rows) == 30
    assert sorted(handed) == [row.id for row in rows]  # handed on once, despite the retry
    assert set(_flagged(dovecot, imap_user).values()) == {True}


def _large_mail() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "jane@example.com", "info@x.com", "Big"
    msg["Message-ID"] = "<big-batch@example.com>"
    msg.set_content("Please find my data request attached.")
    msg.add_attachment(bytes(range(256)) * 4_000, maintype="application",
                       subtype="octet-stream", filename="blob.bin")  # ~1.4 MB in the mailbox
    return msg.as_bytes().replace(b"\n", b"\r\n")


def test_large_mail_in_a_burst_goes_the_ranged_path(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _imap_app(make_app, dovecot, imap_user, spool_threshold_bytes=200_000)
    _initialise(app)
    small = _mails(4, "small")
    uids = _append(dovecot, imap_user, [*small[:2], _large_mail(), *small[2:]])
    large_uid = uids[2]
    batches = _record_batches(monkeypatch)
    ranged: list[int] = []
    real = imap._fetch_to_store

    def spy(app: App, client: object, uid: int, size: int) -> object:
        ranged.append(uid)
        return real(app, client, uid, size)  # type: ignore[arg-type]

    monkeypatch.setattr(imap, "_fetch_to_store", spy)
    handed: list[int] = []
    with _watching(ImapWatcher(app, on_stored=handed.append)):
        wait_until(lambda: _last_uid(app) == uids[-1])
    assert ranged == [large_uid]
    assert [[uid for uid, _ in b] for b in batches] == [uids[:2], [large_uid], uids[3:]]
    rows = _inbound(app)
    assert len(rows) == len(handed) == 5
    delivered = dovecot.messages_by_uid(imap_user)
    big = next(row for row in rows if row.message_id == "<big-batch@example.com>")
    assert big.raw == b"" and big.raw_key is not None
    assert app.files.path(big.raw_key).read_bytes() == delivered[large_uid]
    assert [row.raw for row in rows if row is not big] == [delivered[u] for u in uids
                                                           if u != large_uid]
    assert set(_flagged(dovecot, imap_user).values()) == {True}


def test_burst_is_moved_to_the_processed_folder(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: str
) -> None:
    app = _imap_app(make_app, dovecot, imap_user, imap_processed_folder="Processed")
    _initialise(app)
    uids = _append(dovecot, imap_user, _mails(250, "move"))
    handed: list[int] = []
    with _watching(ImapWatcher(app, on_stored=handed.append)):
        wait_until(lambda: _last_uid(app) == uids[-1])
    assert len(_inbound(app)) == len(handed) == 250
    assert dovecot.messages(imap_user) == []
    moved = dovecot.flags(imap_user, "Processed")
    assert len(moved) == 250
    assert all(PROCESSED_FLAG in flags for flags in moved.values())


def test_large_backlog_is_filed_in_batches_and_not_handed_on(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)  # before the first start
    uids = _append(dovecot, imap_user, _mails(250, "backlog"), arrived=an_hour_ago)
    app = _imap_app(make_app, dovecot, imap_user)
    batches = _record_batches(monkeypatch)
    handed: list[int] = []
    notices: list[None] = []
    watcher = ImapWatcher(app, on_stored=handed.append, on_processed=lambda: notices.append(None))
    with _watching(watcher):
        wait_until(lambda: _last_uid(app) == uids[-1])
    rows = _inbound(app)
    assert len(rows) == 250 == len({row.source_key for row in rows})
    assert {row.status for row in rows} == {"backlog"}
    assert handed == [] and len(notices) == 1
    assert [len(b) for b in batches] == [200, 50]
    assert not any(_flagged(dovecot, imap_user).values())  # backlog is filed, not marked
