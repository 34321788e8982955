"""Issue 12: what a forged From can do, tried through the real SMTP listener.

Each attack mail arrives as it would from the Internet (raw bytes over SMTP, our MX's trace
fields on top where a deployment has one). After each, the test asserts what the attacker and
the client received and that no case, code or address row changed.
"""

from __future__ import annotations

import re
import smtplib
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from sqlmodel import select

from bot.context import App
from bot.demo import seed_demo
from storage import models
from storage.db import unit_of_work
from tests import dkimkeys
from tests.helpers import outbox_messages, wait_until

BOT = "info@stelloloxonpro.com"
STAFF = "staff@stelloloxonpro.com"
BOSS = "boss@stelloloxonpro.com"
EVIL = "evil@evil.net"
MX = "mx.stelloloxonpro.com"


def raw_mail(body: str, *, from_lines: tuple[str, ...] = ("Jane <jane@example.com>",),
             subject: str = "Privacy request", top: tuple[str, ...] = (),
             reply_to: EmailMessage | None = None) -> bytes:
    """A mail written byte by byte, so malformed headers reach the bot as sent."""
    n = time.monotonic_ns()
    lines = [*top, *(f"From: {value}" for value in from_lines), f"To: {BOT}",
             f"Subject: {subject}", f"Message-ID: <{n}@attack.example>",
             "Date: Wed, 25 Nov 2026 09:00:00 +0000"]
    if reply_to is not None:
        lines += [f"In-Reply-To: {reply_to['Message-ID']}",
                  f"References: {reply_to['Message-ID']}"]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode()


class Wire:
    """The Internet side: send raw mail to the listener, read what the bot sent to whom."""

    def __init__(self, app: App, port: int) -> None:
        self.app, self.port, self.seen = app, port, 0

    def send(self, raw: bytes, envelope: str = EVIL) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.sendmail(envelope, [BOT], raw)

    def exchange(self, raw: bytes, wait: int = 1, envelope: str = EVIL) -> list[EmailMessage]:
        """Send and return the next `wait` outbound messages (0: assert none within 0.6 s)."""
        before = _count(self.app, models.InboundMessage)
        self.send(raw, envelope)
        wait_until(lambda: _handled(self.app) and _count(self.app, models.InboundMessage)
                   > before)
        if wait == 0:
            time.sleep(0.6)
        else:
            wait_until(lambda: len(outbox_messages(self.app)) >= self.seen + wait)
        fresh = outbox_messages(self.app)[self.seen:]
        self.seen += len(fresh)
        return fresh


def _count(app: App, model: type) -> int:
    with unit_of_work(app.engine) as session:
        return len(session.exec(select(model)).all())


def _handled(app: App) -> bool:
    with unit_of_work(app.engine) as session:
        return not session.exec(select(models.InboundMessage).where(
            models.InboundMessage.status == "new")).first()


def snapshot(app: App) -> dict[str, list[tuple[object, ...]]]:
    """The rows an attack must not change."""
    with unit_of_work(app.engine) as session:
        return {
            "cases": [(c.id, c.status, c.pending_action, c.act_at, c.due_at, c.client_id)
                      for c in session.exec(select(models.Case))],
            "codes": [(v.id, v.status, v.attempts) for v in
                      session.exec(select(models.VerificationCode))],
            "emails": [(e.client_id, e.address, e.is_primary) for e in
                       session.exec(select(models.ClientEmail))],
        }


def _text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def _code(message: EmailMessage) -> str:
    found = re.search(r"^\s{4}([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", _text(message), re.M)
    assert found, _text(message)
    return found.group(1)


def _escalated_deletion(wire: Wire) -> EmailMessage:
    """Jane (active project) asks for deletion and proves it: staff get it for APPROVE."""
    sent = wire.exchange(raw_mail("Please delete all my personal data."), wait=2,
                         envelope="jane@example.com")
    [code_mail] = [m for m in sent if "verification code" in m["Subject"]]
    out = wire.exchange(raw_mail(_code(code_mail), reply_to=code_mail), wait=1,
                        envelope="jane@example.com")
    [escalation] = [m for m in out if "Needs staff" in m["Subject"]]
    return escalation


def _staff_reply(escalation: EmailMessage, body: str, *, sender: str = BOSS,
                 top: tuple[str, ...] = ()) -> bytes:
    return raw_mail(body, from_lines=(sender,), subject=f"Re: {escalation['Subject']}",
                    top=top, reply_to=escalation)


@pytest.fixture
def wire(app: App, run_daemon: Callable) -> Iterator[Wire]:
    seed_demo(app)
    with run_daemon(app) as daemon:
        yield Wire(app, daemon.smtp_port)


@pytest.fixture
def mx_wire(make_app: Callable[..., App], run_daemon: Callable) -> Iterator[Wire]:
    app = make_app(trusted_authserv_ids=[MX])
    seed_demo(app)
    with run_daemon(app) as daemon:
        yield Wire(app, daemon.smtp_port)


def _assert_refused_staff_command(wire: Wire, raw: bytes) -> None:
    before = snapshot(wire.app)
    out = wire.exchange(raw, wait=1)
    assert [(m["To"], "not obeyed" in m["Subject"]) for m in out] == [(STAFF, True)]
    assert snapshot(wire.app) == before


# --------------------------------------------------------------------------- acting as staff


def test_forged_staff_commands_change_nothing_without_a_trusted_mx(wire: Wire) -> None:
    escalation = _escalated_deletion(wire)
    attacks = [
        _staff_reply(escalation, "APPROVE"),  # the From alone
        _staff_reply(escalation, "DENY you owe us money, call +1 555 0100"),
        dkimkeys.sign(_staff_reply(escalation, "APPROVE"), "evil.net"),  # attacker's own DKIM
        dkimkeys.sign(_staff_reply(escalation, "APPROVE"), "stelloloxonpro.com",
                      length=True),  # l= lets anyone append text
        _staff_reply(escalation, "APPROVE", top=(
            f"Authentication-Results: {MX}; dmarc=pass header.from=stelloloxonpro.com",)),
    ]
    for raw in attacks:
        _assert_refused_staff_command(wire, raw)
    signed = dkimkeys.sign(_staff_reply(escalation, "APPROVE"), "stelloloxonpro.com")
    out = wire.exchange(signed, wait=2)  # the genuine one still works
    assert {m["To"] for m in out} == {BOSS, "jane@example.com"}
    assert snapshot(wire.app)["cases"][0][1] == "deletion_scheduled"


def test_forged_deny_mails_the_client_nothing(wire: Wire) -> None:
    escalation = _escalated_deletion(wire)
    _assert_refused_staff_command(wire, _staff_reply(escalation, "DENY pay us first"))
    assert not [m for m in outbox_messages(wire.app) if "pay us" in _text(m)]


def _our_mx(*results: str) -> str:
    return f"Authentication-Results: {MX}; " + "; ".join(results)


MX_ATTACKS = {
    "forged header with our authserv-id below our own": (
        _our_mx("dmarc=fail header.from=stelloloxonpro.com"),
        "Received: from evil.net by mx.evil.net",
        _our_mx("dmarc=pass header.from=stelloloxonpro.com")),
    "forged header below a foreign one": (
        "Authentication-Results: mx.evil.net; none",
        _our_mx("dmarc=pass header.from=stelloloxonpro.com")),
    "dmarc=pass inside another property": (
        _our_mx('spf=pass smtp.mailfrom="dmarc=pass dkim=pass"'),),
    "dkim=pass with no header.d": (_our_mx("dkim=pass"),),
    "dmarc=pass with no header.from": (_our_mx("dmarc=pass"),),
    "genuine pass for the attacker's own domain": (
        _our_mx("dmarc=pass header.from=evil.net", "dkim=pass header.d=evil.net"),),
    "dkim=pass for a look-alike domain": (
        _our_mx("dkim=pass header.d=stelloloxonpro.com.evil.net"),),
    "spf=pass only": (_our_mx("spf=pass smtp.mailfrom=stelloloxonpro.com"),),
    "our authserv-id as a prefix": (
        f"Authentication-Results: {MX}.evil.net; dmarc=pass header.from=stelloloxonpro.com",),
}


def test_forged_staff_commands_change_nothing_behind_a_trusted_mx(mx_wire: Wire) -> None:
    escalation = _escalated_deletion(mx_wire)
    for top in MX_ATTACKS.values():
        _assert_refused_staff_command(mx_wire, _staff_reply(escalation, "APPROVE", top=top))
    genuine = _staff_reply(escalation, "APPROVE", top=(
        _our_mx("dmarc=pass header.from=stelloloxonpro.com"),))
    assert {m["To"] for m in mx_wire.exchange(genuine, wait=2)} == {BOSS, "jane@example.com"}


def test_from_read_as_staff_with_a_pass_for_the_attacker_is_quarantined(mx_wire: Wire) -> None:
    escalation = _escalated_deletion(mx_wire)
    before = snapshot(mx_wire.app)
    raw = raw_mail("APPROVE", from_lines=(f"{BOSS} <{EVIL}>",),
                   subject=f"Re: {escalation['Subject']}", reply_to=escalation,
                   top=(_our_mx("dmarc=pass header.from=evil.net"),))
    out = mx_wire.exchange(raw, wait=1)
    assert [(m["To"], "Quarantined" in m["Subject"]) for m in out] == [(STAFF, True)]
    assert snapshot(mx_wire.app) == before


# --------------------------------------------------------------------------- read as someone else


FROM_ATTACKS = {
    "address as display name": ("jane@example.com <evil@evil.net>",),
    "comment trick": ("jane@example.com(<evil@evil.net>",),
    "two From headers": ("jane@example.com", EVIL),
    "comma list": ("jane@example.com, evil@evil.net",),
    "encoded CR/LF in the display name":
        ("=?utf-8?q?jane=40example=2Ecom=0D=0AReply-To=3A_evil=40evil=2Enet?= <evil@evil.net>",),
    "encoded address in the display name": ("=?utf-8?q?jane=40example.com?= <evil@evil.net>",),
    "quoted address in the display name": ('"jane@example.com" <evil@evil.net>',),
    "group syntax": ("clients: jane@example.com;",),
    "quoted local part": ('Jane <"jane@example.com"@evil.net>',),
    "a chat identity by mail": ("1234567@telegram.invalid",),
}


@pytest.mark.parametrize("from_lines", FROM_ATTACKS.values(), ids=FROM_ATTACKS.keys())
def test_ambiguous_from_reaches_nobody_but_staff(wire: Wire, from_lines: tuple[str, ...]) -> None:
    before = snapshot(wire.app)
    out = wire.exchange(raw_mail("Please send me a copy of all my data.",
                                 from_lines=from_lines), wait=1)
    assert [(m["To"], "Quarantined" in m["Subject"]) for m in out] == [(STAFF, True)]
    assert "From refused" in _text(out[0])
    assert snapshot(wire.app) == before
    time.sleep(0.3)
    assert len(outbox_messages(wire.app)) == wire.seen  # nothing to jane, nothing to evil


def test_second_subject_cannot_retarget_a_signed_staff_mail(wire: Wire) -> None:
    escalation = _escalated_deletion(wire)
    signed = dkimkeys.sign(_staff_reply(escalation, "APPROVE"), "stelloloxonpro.com")
    before = snapshot(wire.app)
    replayed = b"Subject: Re: [SP-REQ-000002] Needs staff\r\n" + signed  # RFC 6376 §8.15
    out = wire.exchange(replayed, wait=1)
    assert [m["To"] for m in out] == [STAFF]
    assert snapshot(wire.app) == before


def test_verdict_is_stored_with_the_message(wire: Wire) -> None:
    wire.exchange(dkimkeys.sign(raw_mail("Where is my project SP-2025-0041?",
                                         subject="Project"), "example.com"), wait=1)
    with unit_of_work(wire.app.engine) as session:
        [row] = session.exec(select(models.InboundMessage)).all()
    assert (row.auth_result, row.auth_via, row.sender) == ("pass", "own-dkim",
                                                            "jane@example.com")


# --------------------------------------------------------------------------- email of record


def test_forged_email_change_is_spelled_out_and_the_new_address_waits(wire: Wire) -> None:
    forged = raw_mail("Please change my email address to eve@evil.net")
    sent = wire.exchange(forged, wait=2)
    assert {m["To"] for m in sent} == {"jane@example.com"}  # nothing reaches eve
    [code_mail] = [m for m in sent if "verification code" in m["Subject"]]
    text = _text(code_mail)
    assert "changes to e**@evil.net" in text and "eve@evil.net" not in text
    assert "NOT ME" in text and "7 days" in text
    # Jane is fooled and answers; eve proves her address; both are told
    out = wire.exchange(raw_mail(_code(code_mail), reply_to=code_mail), wait=2,
                        envelope="jane@example.com")
    [eve_code] = [m for m in out if m["To"] == "eve@evil.net"]
    done = wire.exchange(raw_mail(_code(eve_code), from_lines=("eve@evil.net",),
                                  reply_to=eve_code), wait=2)
    assert {m["To"] for m in done} == {"jane@example.com", "eve@evil.net"}
    # eve asks for the export at once: it is held for the cool-off, staff decide
    before = _count(wire.app, models.Outbox)
    sent = wire.exchange(raw_mail("Please send me a copy of all my data.",
                                  from_lines=("eve@evil.net",)), wait=2)
    [code_mail] = [m for m in sent if "verification code" in m["Subject"]]
    out = wire.exchange(raw_mail(_code(code_mail), from_lines=("eve@evil.net",),
                                 reply_to=code_mail), wait=1)
    assert [m["To"] for m in out] == [STAFF]
    with unit_of_work(wire.app.engine) as session:
        actions = [a.action for a in session.exec(select(models.AuditLog))]
        purposes = [o.purpose for o in session.exec(select(models.Outbox))][before:]
    assert not {"export_ready", "export_link", "export_password"} & set(purposes)
    assert "access.held_cooloff" in actions and "access.delivered" not in actions


# --------------------------------------------------------------------------- flood and lock-out


def _code_mails(app: App, to: str = "jane@example.com") -> list[EmailMessage]:
    return [m for m in outbox_messages(app)
            if m["To"] == to and "verification code" in m["Subject"]]


def _wait_idle(wire: Wire, inbound: int) -> None:
    wait_until(lambda: _count(wire.app, models.InboundMessage) == inbound
               and _handled(wire.app))
    time.sleep(0.5)  # the outbox round writes what was queued


def test_repeated_forged_status_requests_give_one_code_mail(wire: Wire) -> None:
    for n in range(25):
        wire.send(raw_mail(f"Where is my project SP-2025-0041? ({n})", subject="Project"))
    _wait_idle(wire, 25)
    assert len(_code_mails(wire.app)) == 1
    assert _count(wire.app, models.Case) == 1
    assert not [m for m in outbox_messages(wire.app) if m["To"] == EVIL]
    to_jane = [m for m in outbox_messages(wire.app) if m["To"] == "jane@example.com"]
    assert len(to_jane) == wire.app.settings.reply_rate_limit  # ack, code, then rate-limited


def test_code_mails_per_client_are_capped_across_cases(wire: Wire) -> None:
    asks = ["Please send me a copy of all my data.", "Please delete all my data.",
            "Please restrict the processing of my data.",
            "How was my data used and who did you share it with?",
            "Where is my project SP-2025-0041?", "Please resend invoice 1187.",
            "Please change my phone number to +49 30 1234567"]
    for ask in asks:
        wire.send(raw_mail(ask, subject="Request"))
    _wait_idle(wire, len(asks))
    assert len(_code_mails(wire.app)) == wire.app.settings.code_mails_per_day == 5
    with unit_of_work(wire.app.engine) as session:
        actions = [a.action for a in session.exec(select(models.AuditLog))]
    assert actions.count("verify.code_mail_capped") >= 1  # the rest went to staff, not jane


def _code_case(wire: Wire) -> tuple[EmailMessage, str]:
    sent = wire.exchange(raw_mail("Please send me a copy of all my data."), wait=2,
                         envelope="jane@example.com")
    [code_mail] = [m for m in sent if "verification code" in m["Subject"]]
    return code_mail, _code(code_mail)


def test_forged_wrong_codes_never_lock_the_client_out(wire: Wire) -> None:
    code_mail, code = _code_case(wire)
    for guess in ("ABCD-EFGH", "HJKM-NPQR", "STUV-WXYZ", "2345-6789", "AAAA-BBBB",
                  "CCCC-DDDD", "EEEE-FFFF"):  # the case tag is guessable, the Message-ID not
        wire.send(raw_mail(guess, subject=f"Re: {code_mail['Subject']}"))
    _wait_idle(wire, 8)
    with unit_of_work(wire.app.engine) as session:
        [row] = session.exec(select(models.VerificationCode)).all()
    assert (row.status, row.attempts) == ("active", 0)
    done = wire.exchange(raw_mail(code, reply_to=code_mail), wait=2,
                         envelope="jane@example.com")
    assert any("copy of your data" in m["Subject"].lower() or m.get_content_type() ==
               "multipart/mixed" for m in done)
    with unit_of_work(wire.app.engine) as session:
        assert [a.action for a in session.exec(select(models.AuditLog))].count(
            "access.delivered") == 1


def test_ordinary_words_are_not_code_attempts(wire: Wire) -> None:
    code_mail, _ = _code_case(wire)
    out = wire.exchange(raw_mail("I attached the requests you wanted, thanks",
                                 reply_to=code_mail), wait=1, envelope="jane@example.com")
    assert "still waiting for the one-time code" in _text(out[0])
    wire.exchange(raw_mail("Hello\n\nmy code is below\nABCD-EFGH", reply_to=code_mail),
                  wait=1, envelope="jane@example.com")
    with unit_of_work(wire.app.engine) as session:
        [row] = session.exec(select(models.VerificationCode)).all()
        actions = [a.action for a in session.exec(select(models.AuditLog))]
    assert row.attempts == 0 and "verify.wrong" not in actions


def test_forged_not_me_does_not_cancel(wire: Wire) -> None:
    code_mail, _ = _code_case(wire)
    before = snapshot(wire.app)
    out = wire.exchange(raw_mail("NOT ME", subject=f"Re: {code_mail['Subject']}"), wait=1)
    assert [m["To"] for m in out] == ["jane@example.com"]
    assert "cancel" not in out[0]["Subject"].lower()
    assert snapshot(wire.app) == before
    out = wire.exchange(raw_mail("NOT ME", reply_to=code_mail), wait=2,
                        envelope="jane@example.com")  # the real recipient can
    assert snapshot(wire.app)["cases"][0][1] == "closed"


def test_forged_cancel_does_not_stop_a_scheduled_deletion(wire: Wire) -> None:
    escalation = _escalated_deletion(wire)
    signed = dkimkeys.sign(_staff_reply(escalation, "APPROVE"), "stelloloxonpro.com")
    out = wire.exchange(signed, wait=2)
    [notice] = [m for m in out if m["To"] == "jane@example.com"]
    before = snapshot(wire.app)
    wire.exchange(raw_mail("CANCEL", subject=f"Re: {notice['Subject']}"), wait=1)
    assert snapshot(wire.app) == before and before["cases"][0][1] == "deletion_scheduled"
    out = wire.exchange(raw_mail("CANCEL", reply_to=notice), wait=1,
                        envelope="jane@example.com")
    assert "deletion cancelled" in out[0]["Subject"]
