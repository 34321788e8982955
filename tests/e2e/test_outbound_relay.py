"""Outbound through a real SMTP relay (aiosmtpd capture server): AUTH, retry with backoff on a
temporary failure, and no second copy once sent."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import select

from bot.channels.outbound import deliver_due, make_transport
from bot.clock import FrozenClock
from bot.context import App
from bot.outbox import enqueue_email
from bot.replies import Rendered
from storage import models
from storage.db import unit_of_work
from tests.servers.capture_smtp import CaptureSMTP


def _queue_one(app: App, key: str = "test:1") -> None:
    rendered = Rendered(subject="Re: hello", text="Hello Jane", html=None, language="en")
    with unit_of_work(app.engine) as session:
        enqueue_email(session, app, to="jane@example.com", rendered=rendered, purpose="ack",
                      idempotency_key=key)


def _outbox(app: App) -> list[models.Outbox]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.Outbox)))


def test_relay_with_auth_retries_after_temporary_failure(
    make_app: Callable[..., App], clock: FrozenClock
) -> None:
    with CaptureSMTP(user="bot", password="relay-pass") as relay:
        app = make_app(relay_host=relay.host, relay_port=relay.port, relay_security="none",
                       relay_user="bot", relay_password="relay-pass", outbox_backoff_seconds=60)
        _queue_one(app)
        transport = make_transport(app)
        relay.fail_next(1, code=451)
        assert deliver_due(app, transport) == 0
        [row] = _outbox(app)
        assert (row.status, row.attempts) == ("pending", 1)
        assert deliver_due(app, transport) == 0  # not due yet: backoff holds it
        clock.advance(seconds=61)
        assert deliver_due(app, transport) == 1
        assert deliver_due(app, transport) == 0
        [message] = relay.wait_for(1)
    assert message["To"] == "jane@example.com"
    assert message["Auto-Submitted"] == "auto-replied"
    [row] = _outbox(app)
    assert (row.status, row.attempts) == ("sent", 2)


def test_permanent_refusal_marks_dead_without_retry(
    make_app: Callable[..., App], clock: FrozenClock
) -> None:
    with CaptureSMTP() as relay:
        app = make_app(relay_host=relay.host, relay_port=relay.port, relay_security="none")
        _queue_one(app)
        relay.fail_next(1, code=554)
        deliver_due(app, make_transport(app))
        clock.advance(days=1)
        deliver_due(app, make_transport(app))
    [row] = _outbox(app)
    assert row.status == "dead"
    assert row.attempts == 1
    assert relay.messages == []
    assert clock.now() - row.created_at == timedelta(days=1)


def test_starttls_relay_verifies_the_certificate(make_app: Callable[..., App]) -> None:
    with CaptureSMTP(starttls=True, require_starttls=True, user="bot", password="pw") as relay:
        assert relay.cert_path is not None
        trusted = make_app(relay_host="localhost", relay_port=relay.port, relay_user="bot",
                           relay_password="pw", relay_ca_file=relay.cert_path)
        _queue_one(trusted)
        assert deliver_due(trusted, make_transport(trusted)) == 1
        [envelope] = relay.wait_for_envelopes(1)
    assert envelope.tls and envelope.auth_user == "bot"


def test_starttls_relay_with_untrusted_certificate_is_not_used(
    make_app: Callable[..., App]
) -> None:
    with CaptureSMTP(starttls=True, require_starttls=True) as relay:
        app = make_app(relay_host="localhost", relay_port=relay.port)
        _queue_one(app)
        assert deliver_due(app, make_transport(app)) == 0
        [row] = _outbox(app)
    assert row.status == "pending" and "SSL" in (row.last_error or "")
    assert relay.messages == []


def test_a_run_of_replies_shares_one_relay_session(make_app: Callable[..., App]) -> None:
    with CaptureSMTP(user="bot", password="pw") as relay:
        app = make_app(relay_host=relay.host, relay_port=relay.port, relay_security="none",
                       relay_user="bot", relay_password="pw")
        for n in range(3):
            _queue_one(app, key=f"run:{n}")
        transport = make_transport(app)
        assert deliver_due(app, transport) == 3
        first = relay.wait_for_envelopes(3)
        assert len({e.peer for e in first}) == 1  # one connection, one login
        assert {e.auth_user for e in first} == {"bot"}

        transport.mail._smtp.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]  # gone
        transport.mail.CHECK_AFTER_IDLE_SECONDS = 0  # type: ignore[attr-defined]
        _queue_one(app, key="after-drop")
        assert deliver_due(app, transport) == 1  # a fresh session, not a failure
        later = relay.wait_for_envelopes(4)[3]
        assert later.peer != first[0].peer

        assert deliver_due(app, transport) == 0  # nothing due: the session is closed
        assert transport.mail._smtp is None  # type: ignore[attr-defined]


def test_a_burst_goes_out_in_one_round_and_a_refused_one_waits_alone(
    make_app: Callable[..., App], clock: FrozenClock
) -> None:
    with CaptureSMTP() as relay:
        app = make_app(relay_host=relay.host, relay_port=relay.port, relay_security="none",
                       outbox_backoff_seconds=60)
        for n in range(5):
            _queue_one(app, key=f"burst:{n}")
        transport = make_transport(app)
        relay.fail_next(1, code=451)  # the first of the round is refused for now
        assert deliver_due(app, transport) == 4
        assert sorted(r.status for r in _outbox(app)) == ["pending"] + ["sent"] * 4
        clock.advance(seconds=61)
        assert deliver_due(app, transport) == 1
        assert deliver_due(app, transport) == 0
        messages = relay.wait_for(5)
    assert len({m["Message-ID"] for m in messages}) == 5  # each once
    with unit_of_work(app.engine) as session:
        sent = [a for a in session.exec(select(models.AuditLog))
                if a.action == "outbox.sent"]
    assert len(sent) == 5
