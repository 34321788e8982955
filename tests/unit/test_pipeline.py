"""Pipeline behaviour without sockets: rate limit, loops, duplicates, quarantine, escalation,
threading by subject tag, and crash recovery."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from sqlmodel import select

from bot.channels.outbound import DirectoryTransport, deliver_due
from bot.context import App
from bot.demo import seed_demo
from bot.intake import store_raw
from bot.outbox import reply_subject, tidy_subject
from bot.pipeline import process_inbound, process_pending
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail, mx_results


def _inject(app: App, raw: bytes) -> str:
    inbound_id, _ = store_raw(app, "inject", raw)
    return process_inbound(app, inbound_id)


def _outbox(app: App, purpose: str | None = None) -> list[models.Outbox]:
    with unit_of_work(app.engine) as session:
        query = select(models.Outbox).order_by(models.Outbox.id)
        if purpose:
            query = query.where(models.Outbox.purpose == purpose)
        return list(session.exec(query))


def _cases(app: App) -> list[models.Case]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.Case).order_by(models.Case.id)))


def test_per_sender_rate_limit_stops_reply_loops(make_app) -> None:
    app = make_app(reply_rate_limit=3)
    for n in range(6):
        assert _inject(app, make_mail(f"Please send me a copy of my data ({n})")) == "processed"
    to_jane = [r for r in _outbox(app) if r.to_addr == "jane@example.com"]
    assert len(to_jane) == 3
    with unit_of_work(app.engine) as session:
        limited = session.exec(select(models.AuditLog).where(
            models.AuditLog.action == "reply.rate_limited")).all()
    assert len(limited) == 3


def test_our_own_mail_coming_back_is_a_loop(app: App) -> None:
    looped = make_mail("Please send me a copy of my data",
                       headers={"X-Loop": "info@stelloloxonpro.com"})
    assert _inject(app, looped) == "robot"
    assert _inject(app, make_mail("hi", sender="info@stelloloxonpro.com")) == "robot"
    assert _outbox(app) == []


def test_same_message_id_twice_is_answered_once(app: App) -> None:
    raw = make_mail("Please delete my data", msgid="<same@example.com>")
    assert _inject(app, raw) == "processed"
    assert _inject(app, raw) == "duplicate"
    assert len(_outbox(app, "ack")) == 1
    assert len(_cases(app)) == 1


def test_unparseable_message_is_quarantined_and_staff_get_the_original(app: App) -> None:
    garbage = b"\x00\x01 this is not mail at all \xff"
    assert _inject(app, garbage) == "quarantined"
    [notice] = _outbox(app)
    assert notice.to_addr == "staff@stelloloxonpro.com"
    message = BytesParser(policy=policy.default).parsebytes(notice.raw)
    [original] = list(message.iter_attachments())
    assert original.get_filename() == "original.eml"
    assert message["Auto-Submitted"] == "auto-generated"


def test_unsure_or_staff_intent_is_escalated_with_summary(app: App) -> None:
    seed_demo(app)
    assert _inject(app, make_mail("I want to complain to the data protection authority about "
                                  "how you handled my request.", subject="Complaint")) \
        == "processed"
    rows = _outbox(app)
    staff = [r for r in rows if r.to_addr == "staff@stelloloxonpro.com"]
    assert len(staff) == 1
    message = BytesParser(policy=policy.default).parsebytes(staff[0].raw)
    assert message["Subject"].startswith("[SP-REQ-000001] Needs staff")
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "jane@example.com" in body and "complaint" in body
    [case] = _cases(app)
    assert (case.status, case.escalated) == ("awaiting_staff", True)


def test_reply_joins_case_by_subject_tag_without_threading_headers(app: App) -> None:
    _inject(app, make_mail("Please delete my data"))
    _inject(app, make_mail("any news?", subject="Re: Privacy request [SP-REQ-000001]"))
    assert len(_cases(app)) == 1
    assert [r.purpose for r in _outbox(app) if r.to_addr == "jane@example.com"] == [
        "ack", "follow_up_ack"]


def test_crash_before_processing_is_recovered_once(app: App) -> None:
    """Stored but not processed (daemon killed): start-up processing answers it exactly once."""
    store_raw(app, "smtp", make_mail("Please send me a copy of my data"))
    assert process_pending(app) == 1
    assert process_pending(app) == 0
    assert len(_outbox(app, "ack")) == 1


def test_crash_between_write_and_mark_does_not_send_twice(app: App) -> None:
    _inject(app, make_mail("Please send me a copy of my data"))
    transport = DirectoryTransport(app.settings.outbox_path)
    rows = _outbox(app)
    transport.send(rows[0])  # written, then "killed" before the row was marked sent
    assert deliver_due(app, transport) == len(rows)
    assert len(list(app.settings.outbox_path.glob("*.eml"))) == len(rows)


def test_reply_subject_does_not_stack_prefixes() -> None:
    assert reply_subject("Question") == "Re: Question"
    assert reply_subject("RE: Question") == "RE: Question"
    assert reply_subject("AW: Frage") == "AW: Frage"
    assert reply_subject("") == ""
    assert reply_subject("Re: Re: RE[2]: Question") == "Re: Question"
    assert reply_subject("AW: Re: Frage") == "AW: Frage"


def test_the_case_tag_appears_once_in_a_subject() -> None:
    ref = "SP-REQ-000005"
    assert tidy_subject(f"Re: [{ref}] [{ref}]: a copy of your data", ref) == (
        f"Re: [{ref}]: a copy of your data")
    assert tidy_subject(f"Re: Re: [{ref}] Code [{ref}]", ref) == f"Re: [{ref}] Code"
    assert tidy_subject(f"Your request [{ref}]", ref) == f"Your request [{ref}]"


def test_staff_command_needs_authentication_when_trusted_servers_are_set(make_app) -> None:
    app = make_app(trusted_authserv_ids=["mx.stelloloxonpro.com"])
    _inject(app, make_mail("I want to complain to the authority.", subject="Complaint"))
    forged = make_mail("EXTEND 20 waiting for accounting", sender="boss@stelloloxonpro.com",
                       subject="Re: [SP-REQ-000001] Needs staff")
    signed = make_mail("EXTEND 20 waiting for accounting", sender="boss@stelloloxonpro.com",
                       subject="Re: [SP-REQ-000001] Needs staff",
                       trace=mx_results("stelloloxonpro.com"))
    _inject(app, forged)
    assert [c.due_at.day for c in _cases(app)] == [25]
    _inject(app, signed)
    assert [c.due_at.day for c in _cases(app)] == [14]  # 2026-12-25 + 20 days


def test_codes_and_passwords_are_not_kept_once_delivered(app: App) -> None:
    seed_demo(app)
    _inject(app, make_mail("Please send me a copy of all my data."))
    [code_row] = _outbox(app, "verify_code")
    assert b"verification" in code_row.raw  # pending: needed for the (re)send
    deliver_due(app, DirectoryTransport(app.settings.outbox_path))
    [code_row] = _outbox(app, "verify_code")
    [ack] = _outbox(app, "ack")
    assert code_row.status == "sent" and code_row.raw == b""
    assert ack.raw != b""  # ordinary replies stay until retention
