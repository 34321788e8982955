"""Self-tests of the throw-away servers and their fixtures."""

from __future__ import annotations

import smtplib
import ssl
import sys
import threading
import time
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError
from sqlalchemy import create_engine, text

from tests.servers import ServerError, free_port, port_open
from tests.servers.capture_smtp import CaptureSMTP
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import require_dovecot
from tests.servers.postgres import PostgresServer

# tests/conftest.py normally star-imports the fixtures.  Import them here only when it does not,
# so that the session-scoped servers are not defined (and started) twice.
if not hasattr(sys.modules.get("tests.conftest"), "dovecot"):
    from tests.servers.fixtures import *  # noqa: F403


def _raw(subject: str = "Hello", to: str = "bot@example.test") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Client <client@example.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{time.monotonic_ns()}@example.test>"
    msg.set_content("Héllo, world\n")
    return msg.as_bytes()


def _email(to: str = "bot@example.test", subject: str = "Hi") -> EmailMessage:
    return _parse(_raw(subject, to))


def _parse(raw: bytes) -> EmailMessage:
    from email import message_from_bytes, policy

    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


# --------------------------------------------------------------------------- helpers


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    assert 1024 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# --------------------------------------------------------------------------- Dovecot


@pytest.mark.dovecot
def test_dovecot_deliver_and_fetch(dovecot: DovecotServer, imap_user: str) -> None:
    uid1 = dovecot.deliver(imap_user, _raw("first"))
    uid2 = dovecot.deliver(imap_user, _raw("second"))
    assert (uid1, uid2) == (1, 2)

    raws = dovecot.messages(imap_user)
    assert [_parse(r)["Subject"] for r in raws] == ["first", "second"]
    assert "Héllo" in _parse(raws[0]).get_content()
    # messages() peeks: nothing marked \Seen
    assert all(b"\\Seen" not in flags for flags in dovecot.flags(imap_user).values())

    # A real client sees the same mailbox with the advertised credentials.
    with IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10) as client:
        client.login(imap_user, dovecot.password)
        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == 2
        client.add_flags([uid1], [b"\\Seen"])
        client.create_folder("Processed")
        client.move([uid2], "Processed")

    assert b"\\Seen" in dovecot.flags(imap_user)[uid1]
    assert set(dovecot.folders(imap_user)) == {"INBOX", "Processed"}
    assert [_parse(r)["Subject"] for r in dovecot.messages(imap_user, "Processed")] == ["second"]
    assert len(dovecot.wait_for_messages(imap_user, 1, "Processed", timeout=1)) == 1


@pytest.mark.dovecot
def test_dovecot_deliver_creates_folder_with_flags(dovecot: DovecotServer, imap_user: str) -> None:
    dovecot.deliver(imap_user, "Subject: plain str\n\nbody\n", folder="Archive", flags=(b"\\Seen",))
    assert "Archive" in dovecot.folders(imap_user)
    [(_uid, flags)] = dovecot.flags(imap_user, "Archive").items()
    assert b"\\Seen" in flags
    assert dovecot.messages(imap_user, "Archive") == [b"Subject: plain str\r\n\r\nbody\r\n"]
    assert dovecot.messages(imap_user, "NoSuchFolder") == []
    assert dovecot.flags(imap_user, "NoSuchFolder") == {}


@pytest.mark.dovecot
def test_dovecot_users_are_isolated(dovecot: DovecotServer) -> None:
    alice, bob = dovecot.new_user("alice"), dovecot.new_user("bob")
    dovecot.deliver(alice, _raw("for alice"))
    assert len(dovecot.messages(alice)) == 1
    assert dovecot.messages(bob) == []


@pytest.mark.dovecot
def test_dovecot_wrong_password_rejected(dovecot: DovecotServer, imap_user: str) -> None:
    from imapclient.exceptions import LoginError

    with (
        IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10) as client,
        pytest.raises(LoginError),
    ):
        client.login(imap_user, "wrong")


@pytest.mark.dovecot
def test_dovecot_idle_notifies_new_mail(dovecot: DovecotServer, imap_user: str) -> None:
    dovecot.deliver(imap_user, _raw("already there"))
    with IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10) as client:
        client.login(imap_user, dovecot.password)
        assert client.has_capability("IDLE")
        client.select_folder("INBOX")
        client.idle()
        try:
            assert client.idle_check(timeout=0.3) == []  # quiet before delivery
            delivered_at = time.monotonic()
            threading.Thread(target=dovecot.deliver, args=(imap_user, _raw("new"))).start()
            responses: list = []
            deadline = delivered_at + 5
            while not any(r[1] == b"EXISTS" for r in responses if len(r) > 1):
                assert time.monotonic() < deadline, f"no EXISTS via IDLE: {responses}"
                responses += client.idle_check(timeout=1)
            latency = time.monotonic() - delivered_at
        finally:
            client.idle_done()
    assert (2, b"EXISTS") in responses
    assert latency < 5


@pytest.mark.dovecot
def test_dovecot_noidle_does_not_advertise_idle(
    dovecot_noidle: DovecotServer, imap_user: str
) -> None:
    dovecot_noidle.deliver(imap_user, _raw("poll me"))
    with IMAPClient(dovecot_noidle.host, dovecot_noidle.port, ssl=False, timeout=10) as client:
        assert not client.has_capability("IDLE")  # pre-login CAPABILITY
        client.login(imap_user, dovecot_noidle.password)
        assert not client.has_capability("IDLE")  # post-login CAPABILITY
        assert client.has_capability("UIDPLUS") and client.has_capability("MOVE")
        client.select_folder("INBOX")
        with pytest.raises(CapabilityError):
            client.idle()
        assert len(client.search("ALL")) == 1  # polling works


@pytest.mark.dovecot
def test_dovecot_slash_separator_and_start_stop() -> None:
    require_dovecot()
    started = time.monotonic()
    with DovecotServer(separator="/") as server:
        start_time = time.monotonic() - started
        user = server.new_user()
        server.deliver(user, _raw(), folder="Clients/Done")
        assert {"INBOX", "Clients", "Clients/Done"} <= set(server.folders(user))
        port, directory = server.port, server.directory
        assert directory is not None and directory.exists()
        stopping = time.monotonic()
    stop_time = time.monotonic() - stopping
    assert not port_open("127.0.0.1", port)
    assert not directory.exists()
    assert start_time < 3 and stop_time < 3, (start_time, stop_time)


@pytest.mark.dovecot
def test_dovecot_stop_without_wait() -> None:
    require_dovecot()
    server = DovecotServer().start()
    port, directory = server.port, server.directory
    assert directory is not None
    started = time.monotonic()
    server.stop(wait=False)
    assert time.monotonic() - started < 0.2
    deadline = time.monotonic() + 5
    while directory.exists():  # removed by the background thread once the master exited
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not port_open("127.0.0.1", port)


@pytest.mark.dovecot
def test_dovecot_start_failure_reports_log(monkeypatch: pytest.MonkeyPatch) -> None:
    require_dovecot()
    server = DovecotServer()
    original = server._write_config

    def broken_config() -> None:
        original()
        with server.config_path.open("a") as fh:
            fh.write("no_such_setting_xyz = 1\n")

    monkeypatch.setattr(server, "_write_config", broken_config)
    with pytest.raises(ServerError, match="no_such_setting_xyz"):
        server.start()
    assert server.pid is None and server.directory is None


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_roundtrip(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://test@127.0.0.1:")
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE ticket (id serial PRIMARY KEY, subject text)"))
            conn.execute(text("INSERT INTO ticket (subject) VALUES (:s)"), {"s": "Ünïcode ✓"})
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, subject FROM ticket")).all()
            version = conn.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()
    assert rows == [(1, "Ünïcode ✓")]
    assert int(version.split(".")[0]) >= 13


@pytest.mark.postgres
def test_postgres_databases_are_isolated(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    other = postgres_server.create_database("isolation_check")
    try:
        engines = [create_engine(postgres_url), create_engine(other)]
        try:
            with engines[0].begin() as conn:
                conn.execute(text("CREATE TABLE only_here (x int)"))
            with engines[1].connect() as conn:
                found = conn.execute(
                    text("SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'")
                ).scalar_one()
            assert found == 0
        finally:
            for engine in engines:
                engine.dispose()
    finally:
        postgres_server.drop_database("isolation_check")
    with pytest.raises(ValueError):
        postgres_server.create_database('bad"name')


# --------------------------------------------------------------------------- SMTP sink


def _smtp(server: CaptureSMTP) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, local_hostname="localhost", timeout=10)


def test_capture_smtp_receives(capture_smtp: CaptureSMTP) -> None:
    msg = _email(to="client@example.test", subject="Re: your ticket")
    with _smtp(capture_smtp) as client:
        client.send_message(msg, from_addr="bot@example.test", to_addrs=["client@example.test"])
    [received] = capture_smtp.wait_for(1)
    assert received["Subject"] == "Re: your ticket"
    assert "Héllo" in received.get_content()
    [env] = capture_smtp.envelopes
    assert env.mail_from == "bot@example.test"
    assert env.rcpt_tos == ("client@example.test",)
    assert env.auth_user is None and env.tls is False
    assert capture_smtp.messages[0]["Message-ID"] == msg["Message-ID"]
    capture_smtp.clear()
    assert capture_smtp.envelopes == []


def test_capture_smtp_wait_for_times_out(capture_smtp: CaptureSMTP) -> None:
    with pytest.raises(TimeoutError, match="got 0 message"):
        capture_smtp.wait_for(1, timeout=0.2)


def test_capture_smtp_wait_for_blocks_until_arrival(capture_smtp: CaptureSMTP) -> None:
    def send_later() -> None:
        time.sleep(0.3)
        with _smtp(capture_smtp) as client:
            client.sendmail("a@example.test", ["b@example.test"], _raw())

    thread = threading.Thread(target=send_later)
    thread.start()
    assert len(capture_smtp.wait_for(1, timeout=5)) == 1
    thread.join()


def test_capture_smtp_auth() -> None:
    with CaptureSMTP(user="bot", password="pw") as server:
        with _smtp(server) as client:
            client.ehlo()
            assert "auth" in client.esmtp_features
            # auth_required: sending without AUTH is refused
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("bot@example.test", ["c@example.test"], _raw())
            assert refused.value.smtp_code == 530
        with _smtp(server) as client, pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("bot", "wrong")
        for mechanism in ("PLAIN", "LOGIN"):
            with _smtp(server) as client:
                client.ehlo()
                client.user, client.password = "bot", "pw"  # read by the auth_* callbacks
                client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
                client.sendmail("bot@example.test", ["c@example.test"], _raw(mechanism))
        envs = server.wait_for_envelopes(2)
    assert [e.auth_user for e in envs] == ["bot", "bot"]


def test_capture_smtp_login_helper() -> None:
    with CaptureSMTP(user="bot", password="pw", auth_required=False) as server:
        with _smtp(server) as client:
            client.sendmail("anon@example.test", ["c@example.test"], _raw("anon"))
            client.login("bot", "pw")
            client.sendmail("bot@example.test", ["c@example.test"], _raw("authed"))
        envs = server.wait_for_envelopes(2)
    assert [e.auth_user for e in envs] == [None, "bot"]


def test_capture_smtp_fail_next(capture_smtp: CaptureSMTP) -> None:
    capture_smtp.fail_next(2)
    for _ in range(2):
        with _smtp(capture_smtp) as client, pytest.raises(smtplib.SMTPDataError) as err:
            client.sendmail("bot@example.test", ["c@example.test"], _raw())
        assert err.value.smtp_code == 451
    assert capture_smtp.failed_attempts == 2
    assert capture_smtp.envelopes == []
    with _smtp(capture_smtp) as client:
        client.sendmail("bot@example.test", ["c@example.test"], _raw("third time lucky"))
    assert [m["Subject"] for m in capture_smtp.wait_for(1)] == ["third time lucky"]

    capture_smtp.fail_next(1, code=554)
    with _smtp(capture_smtp) as client, pytest.raises(smtplib.SMTPResponseException) as err:
        client.sendmail("bot@example.test", ["c@example.test"], _raw())
    assert err.value.smtp_code == 554


def test_capture_smtp_starttls() -> None:
    pytest.importorskip("cryptography", reason="STARTTLS cert generation needs cryptography")
    with CaptureSMTP(starttls=True, require_starttls=True) as server:
        assert server.cert_path is not None
        context = ssl.create_default_context(cafile=str(server.cert_path))
        with _smtp(server) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=context)
            client.ehlo()
            client.sendmail("bot@example.test", ["c@example.test"], _raw("secret"))
        # require_starttls: MAIL without STARTTLS is refused
        with _smtp(server) as client, pytest.raises(smtplib.SMTPSenderRefused):
            client.sendmail("bot@example.test", ["c@example.test"], _raw())
        [env] = server.wait_for_envelopes(1)
    assert env.tls is True
    assert env.message["Subject"] == "secret"
