"""The email spine end to end through real sockets: smtplib -> aiosmtpd listener -> pipeline
-> outbox folder, asserting the reply, the case row, and the audit trail."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from bot.context import App
from bot.demo import seed_demo
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail, outbox_messages, wait_until

BOT = "info@stelloloxonpro.com"


def _send(port: int, raw: bytes, sender: str = "jane@example.com", to: str = BOT) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail(sender, [to], raw)


def _rows(app: App, model: type, **where: object) -> list:
    with unit_of_work(app.engine) as session:
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return list(session.exec(query))


@pytest.fixture
def seeded(app: App) -> App:
    seed_demo(app)
    return app


def test_access_request_gets_threaded_templated_reply_with_due_date(
    seeded: App, run_daemon: Callable
) -> None:
    app = seeded
    raw = make_mail("Hello, please send me a copy of all personal data you hold about me.",
                    msgid="<req-1@example.com>")
    with run_daemon(app) as daemon:
        _send(daemon.smtp_port, raw)
        replies = wait_until(lambda: len(outbox_messages(app)) == 2 and outbox_messages(app))
    reply, code_mail = replies
    assert "verification code" in code_mail["Subject"]
    assert reply["To"] == "jane@example.com"
    assert reply["In-Reply-To"] == "<req-1@example.com>"
    assert "<req-1@example.com>" in reply["References"]
    assert reply["Subject"] == "Re: Privacy request [SP-REQ-000001]"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["Content-Language"] == "en"
    text = reply.get_body(preferencelist=("plain",)).get_content()
    assert "a request for a copy of your data" in text
    assert "December 25, 2026" in text  # received 2026-11-25 + 30 days
    assert reply.get_body(preferencelist=("html",)) is not None

    [case] = _rows(app, models.Case)
    assert case.ref == "SP-REQ-000001"
    assert case.kind == "access"
    assert case.client_id is not None
    assert case.due_at == datetime(2026, 12, 25, 9, 0, 0, tzinfo=UTC)
    actions = [a.action for a in _rows(app, models.AuditLog)]
    for expected in ("inbound.stored", "case.opened", "outbox.queued", "inbound.processed",
                     "outbox.sent"):
        assert expected in actions
    [inbound] = _rows(app, models.InboundMessage)
    assert inbound.raw == raw.replace(b"\n", b"\r\n") or inbound.raw.strip()


def test_bounce_and_out_of_office_get_no_reply(seeded: App, run_daemon: Callable) -> None:
    app = seeded
    ooo = make_mail("Ich bin bis zum 3. Dezember nicht im Büro. Ihre Nachricht wird nicht "
                    "weitergeleitet.", sender="max@example.de", subject="Abwesenheitsnotiz",
                    headers={"Auto-Submitted": "auto-replied"})
    bounce = make_mail("Delivery to the following recipient failed permanently: x@y.z",
                       sender="MAILER-DAEMON@mail.example.com",
                       subject="Undelivered Mail Returned to Sender")
    human = make_mail("Please delete all my data.", sender="camille@example.fr")
    with run_daemon(app) as daemon:
        _send(daemon.smtp_port, ooo, sender="max@example.de")
        _send(daemon.smtp_port, bounce, sender="")
        _send(daemon.smtp_port, human, sender="camille@example.fr")
        wait_until(lambda: len(_rows(app, models.InboundMessage, status="new")) == 0
                   and len(_rows(app, models.InboundMessage)) == 3)
        replies = wait_until(lambda: len(outbox_messages(app)) == 2 and outbox_messages(app))
    assert [r["To"] for r in replies] == ["camille@example.fr"] * 2
    statuses = sorted(r.status for r in _rows(app, models.InboundMessage))
    assert statuses == ["processed", "robot", "robot"]
    assert len(_rows(app, models.Case)) == 1


def test_bulk_mail_gets_no_reply_but_a_privacy_request_in_it_reaches_staff(
    seeded: App, run_daemon: Callable
) -> None:
    app = seeded
    sale = make_mail("Winter sale: 30% off all resin until Sunday.",
                     sender="news@resinshop.example", subject="Winter sale")
    request = make_mail("Please erase all personal data you keep about me.",
                        sender="newsletter@clientfirm.example", subject="My data")
    with run_daemon(app) as daemon:
        _send(daemon.smtp_port, sale, sender="news@resinshop.example")
        _send(daemon.smtp_port, request, sender="newsletter@clientfirm.example")
        [notice] = wait_until(lambda: len(outbox_messages(app)) == 1 and outbox_messages(app))
    assert notice["To"] == app.settings.staff_address
    assert "deletion" in notice.get_body(preferencelist=("plain",)).get_content()
    assert sorted(r.status for r in _rows(app, models.InboundMessage)) == ["robot", "robot"]
    assert _rows(app, models.Case) == []


def test_oversized_message_gets_552_and_foreign_recipient_550(
    make_app: Callable[..., App], run_daemon: Callable
) -> None:
    app = make_app(smtp_max_message_bytes=2000)
    big = make_mail("x" * 5000)
    with run_daemon(app) as daemon:
        with pytest.raises(smtplib.SMTPException) as too_big:
            _send(daemon.smtp_port, big)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as foreign:
            _send(daemon.smtp_port, make_mail("hi"), to="someone@elsewhere.example")
        _send(daemon.smtp_port, make_mail("Please send me my data"))  # still alive
        wait_until(lambda: outbox_messages(app))
    assert getattr(too_big.value, "smtp_code", None) == 552
    [(code, _)] = foreign.value.recipients.values()
    assert code == 550


def test_reply_joins_case_only_for_its_requester(seeded: App, run_daemon: Callable) -> None:
    app = seeded
    with run_daemon(app) as daemon:
        _send(daemon.smtp_port, make_mail("Please delete my account and data.",
                                          msgid="<first@example.com>"))
        ack, _code = wait_until(lambda: len(outbox_messages(app)) == 2 and outbox_messages(app))
        follow = make_mail("Also my old address max@example.de please.",
                           subject=ack["Subject"],
                           headers={"In-Reply-To": ack["Message-ID"],
                                    "References": f"<first@example.com> {ack['Message-ID']}"})
        _send(daemon.smtp_port, follow)
        wait_until(lambda: len(outbox_messages(app)) == 3)
        stranger = make_mail("Delete this person's data", sender="mallory@evil.example",
                             subject=ack["Subject"], headers={"In-Reply-To": ack["Message-ID"]})
        _send(daemon.smtp_port, stranger, sender="mallory@evil.example")
        wait_until(lambda: len(outbox_messages(app)) >= 4)  # the stranger's own answer
    cases = _rows(app, models.Case)
    assert [c.requester for c in cases] == ["jane@example.com", "mallory@evil.example"]
    inbound = _rows(app, models.InboundMessage)
    assert [m.case_id for m in inbound] == [cases[0].id, cases[0].id, cases[1].id]
    third = outbox_messages(app)[2]
    assert third["To"] == "jane@example.com"
    assert "[SP-REQ-000001]" in third["Subject"]
    assert "still waiting for the one-time code" in third.get_body(("plain",)).get_content()
    assert outbox_messages(app)[3]["To"] == "mallory@evil.example"


def test_people_with_machine_looking_marks_are_answered(seeded: App,
                                                        run_daemon: Callable) -> None:
    """A client's group post that greets us, The Bat!'s Precedence: bulk and a helpdesk
    agent's reply are answered; a body-only Czech auto-reply is not."""
    app = seeded
    mail = Path(__file__).resolve().parents[1] / "data" / "mail"
    people = ["group_post_greeting_us.eml", "precedence_bulk_personal_mailer.eml",
              "helpdesk_agent_reply.eml"]
    robot = "ooo_cs_body_only.eml"
    with run_daemon(app) as daemon:
        for path in [mail / "people" / n for n in people] + [mail / "robots" / robot]:
            _send(daemon.smtp_port, path.read_bytes().replace(b"\n", b"\r\n"))
        wait_until(lambda: len(_rows(app, models.InboundMessage)) == 4
                   and not _rows(app, models.InboundMessage, status="new"))
        replies = wait_until(lambda: len(outbox_messages(app)) >= 3 and outbox_messages(app))
    answered = {r["To"] for r in replies}
    # a group post is answered where it came from, so the client's team sees the answer
    assert {"werkstatt@holzmann-moebel.example", "h.brandt@brandt-modellbau.example",
            "support@ferro-werk.example"} <= answered
    statuses = {r.sender: r.status for r in _rows(app, models.InboundMessage)}
    assert statuses["petr.maly@strojirna-maly.example"] == "robot"
    assert "petr.maly@strojirna-maly.example" not in answered
