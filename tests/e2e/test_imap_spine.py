"""The IMAP watcher against a real Dovecot: IDLE push, polling fallback, backlog on first start,
each message handled once (restart included), handled mail flagged or moved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.channels.imap import PROCESSED_FLAG, ImapWatcher, record_first_start
from bot.context import App
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail, outbox_messages, wait_until
from tests.servers.dovecot import DovecotServer


def _imap_app(make_app: Callable[..., App], server: DovecotServer, user: str,
              **extra: object) -> App:
    return make_app(imap_host=server.host, imap_port=server.port, imap_ssl=False,
                    imap_user=user, imap_password=server.password, smtp_enabled=False, **extra)


def _inbound(app: App) -> list[models.InboundMessage]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.InboundMessage).order_by(models.InboundMessage.id)))


def test_idle_delivery_is_answered_once_and_flagged(
    make_app: Callable[..., App], run_daemon: Callable, dovecot: DovecotServer, imap_user: str
) -> None:
    app = _imap_app(make_app, dovecot, imap_user)
    with run_daemon(app):
        wait_until(lambda: _state_exists(app))
        uid = dovecot.deliver(imap_user, make_mail("Please send me a copy of my data.",
                                                   msgid="<imap-1@example.com>"))
        reply = wait_until(lambda: outbox_messages(app))[0]
        wait_until(lambda: PROCESSED_FLAG in dovecot.flags(imap_user).get(uid, ()))
    assert reply["In-Reply-To"] == "<imap-1@example.com>"
    assert "[SP-REQ-000001]" in reply["Subject"]
    first_round = len(outbox_messages(app))
    # a restart sees nothing new: no second reply, no second case
    with run_daemon(app):
        dovecot.deliver(imap_user, make_mail("Stop all marketing emails please.",
                                             sender="bob@example.org"))
        wait_until(lambda: [m for m in outbox_messages(app) if m["To"] == "bob@example.org"])
        wait_until(lambda: [m.status for m in _inbound(app)] == ["processed", "processed"])
    # an opt-out is answered by its confirmation alone
    assert [m["Subject"].rsplit(": ", 1)[-1] for m in outbox_messages(app)[first_round:]] == [
        "unsubscribed"]


def test_backlog_on_first_start_is_filed_not_answered(
    make_app: Callable[..., App], run_daemon: Callable, dovecot: DovecotServer, imap_user: str
) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)  # before the daemon first started
    for n in range(3):
        dovecot.deliver(imap_user, make_mail(f"old message {n}: delete my data"),
                        msg_time=an_hour_ago)
    app = _imap_app(make_app, dovecot, imap_user)
    with run_daemon(app):
        wait_until(lambda: len(_inbound(app)) == 3)
        [notice] = wait_until(lambda: outbox_messages(app))
    assert notice["To"] == "staff@stelloloxonpro.com"
    assert "3 messages" in notice["Subject"]
    assert {m.status for m in _inbound(app)} == {"backlog"}


def test_mail_arriving_during_start_up_is_answered_not_filed_as_backlog(
    make_app: Callable[..., App], run_daemon: Callable, dovecot: DovecotServer, imap_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17: a client's mail that lands after the daemon started but before the watcher's
    first SELECT is new mail (INTERNALDATE after the recorded first start), not backlog."""
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    dovecot.deliver(imap_user, make_mail("old: delete my data", sender="old@example.org",
                                         msgid="<old@example.org>"), msg_time=an_hour_ago)
    real_start = ImapWatcher.start

    def start_after_a_client_wrote(watcher: ImapWatcher) -> None:
        dovecot.deliver(imap_user, make_mail("Please send me a copy of my data.",
                                             msgid="<during-start@example.com>"))
        real_start(watcher)

    monkeypatch.setattr(ImapWatcher, "start", start_after_a_client_wrote)
    app = _imap_app(make_app, dovecot, imap_user)
    with run_daemon(app):
        wait_until(lambda: [m for m in outbox_messages(app) if m["To"] == "jane@example.com"])
        wait_until(lambda: [m for m in outbox_messages(app)
                            if m["To"] == "staff@stelloloxonpro.com"
                            and "1 message" in m["Subject"]])
    statuses = {m.message_id: m.status for m in _inbound(app)}
    assert statuses == {"<old@example.org>": "backlog", "<during-start@example.com>": "processed"}
    replies = [m for m in outbox_messages(app) if m["To"] == "jane@example.com"]
    assert replies[0]["In-Reply-To"] == "<during-start@example.com>"
    assert not [m for m in outbox_messages(app) if m["To"] == "old@example.org"]


def test_first_start_is_recorded_once(make_app: Callable[..., App], dovecot: DovecotServer,
                                      imap_user: str) -> None:
    app = _imap_app(make_app, dovecot, imap_user)
    first = record_first_start(app)
    assert record_first_start(app) == first


def test_polling_fallback_and_move_to_processed_folder(
    make_app: Callable[..., App], run_daemon: Callable, dovecot_noidle: DovecotServer,
    imap_user: str,
) -> None:
    app = _imap_app(make_app, dovecot_noidle, imap_user, imap_processed_folder="Processed")
    with run_daemon(app):
        wait_until(lambda: _state_exists(app))
        dovecot_noidle.deliver(imap_user, make_mail("Where is my project SP-2025-0041?"))
        wait_until(lambda: outbox_messages(app))
        moved = wait_until(lambda: dovecot_noidle.messages(imap_user, "Processed"))
    assert len(moved) == 1
    assert dovecot_noidle.messages(imap_user) == []


def _state_exists(app: App) -> bool:
    with unit_of_work(app.engine) as session:
        return session.exec(select(models.MailboxState)).first() is not None


def test_large_mail_is_fetched_in_pieces_into_the_store(
    make_app: Callable[..., App], run_daemon: Callable, dovecot: DovecotServer, imap_user: str
) -> None:
    from email.message import EmailMessage

    app = _imap_app(make_app, dovecot, imap_user, spool_threshold_bytes=200_000)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "jane@example.com", "info@x.com", "Big"
    msg["Message-ID"] = "<big-imap@example.com>"
    msg.set_content("Please find my data request attached. Send me a copy of my data.")
    msg.add_attachment(bytes(range(256)) * 12_000, maintype="application",
                       subtype="octet-stream", filename="blob.bin")  # ~3 MB in the mailbox
    with run_daemon(app):
        wait_until(lambda: _state_exists(app))
        dovecot.deliver(imap_user, msg.as_bytes())
        [delivered] = dovecot.messages(imap_user)
        reply = wait_until(lambda: outbox_messages(app))[0]
    assert reply["In-Reply-To"] == "<big-imap@example.com>"
    [row] = _inbound(app)
    assert row.raw == b"" and row.raw_key is not None
    assert app.files.path(row.raw_key).read_bytes() == delivered
