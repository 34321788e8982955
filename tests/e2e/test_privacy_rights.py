"""Each privacy right end to end through the real SMTP path: request mail -> code mail -> code
reply -> outcome mail, asserting the database and the file store afterwards; and the negative
paths (wrong, expired, replayed and foreign codes, look-alike senders, data sent elsewhere,
staff commands from strangers), each answered neutrally with nothing changed."""

from __future__ import annotations

import io
import json
import re
import smtplib
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
import pyzipper
from sqlmodel import select

from bot.clock import FrozenClock
from bot.context import App
from bot.demo import seed_demo
from bot.privacy import run_due_deletions
from storage import models
from storage.db import unit_of_work
from tests import dkimkeys
from tests.helpers import make_mail, outbox_messages, wait_until

CODE_RE = re.compile(r"^\s{4}([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.M)


class Mailbox:
    """A client talking to the running daemon over SMTP and reading what lands in the outbox."""

    def __init__(self, app: App, port: int) -> None:
        self.app, self.port, self.seen = app, port, 0

    def send(self, body: str, *, sender: str = "jane@example.com",
             subject: str = "Privacy request", reply_to: EmailMessage | None = None,
             wait: int = 1, signed_by: str | None = None) -> list[EmailMessage]:
        """Mail the bot (DKIM-signed by `signed_by` when given) and wait for `wait` replies."""
        headers = {}
        if reply_to is not None:
            headers = {"In-Reply-To": reply_to["Message-ID"],
                       "References": reply_to["Message-ID"]}
            subject = f"Re: {reply_to['Subject']}"
        raw = make_mail(body, sender=sender, subject=subject, headers=headers)
        raw = dkimkeys.sign(raw, signed_by) if signed_by else raw
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.sendmail(sender, ["info@stelloloxonpro.com"], raw)
        return self.new(wait)

    def new(self, count: int) -> list[EmailMessage]:
        """Wait for `count` more outbound messages and return them."""
        if count == 0:
            time.sleep(0.5)
            fresh = outbox_messages(self.app)[self.seen:]
            assert fresh == [], [m["Subject"] for m in fresh]
            return []
        fresh = wait_until(lambda: len(outbox_messages(self.app)) >= self.seen + count
                           and outbox_messages(self.app)[self.seen:])
        self.seen += len(fresh)
        return fresh


def _purpose(messages: list[EmailMessage], word: str) -> EmailMessage:
    [found] = [m for m in messages if word in m["Subject"]]
    return found


def _text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _code(message: EmailMessage) -> str:
    match = CODE_RE.search(_text(message))
    assert match, _text(message)
    return match.group(1)


@pytest.fixture
def world(app: App, run_daemon: Callable) -> Iterator[Mailbox]:
    seed_demo(app)
    _add_model_files(app)
    with run_daemon(app) as daemon:
        yield Mailbox(app, daemon.smtp_port)


def _add_model_files(app: App) -> None:
    with unit_of_work(app.engine) as session:
        for client_id, name, payload in ((1, "bracket.stl", b"solid jane\n"),
                                         (2, "secret-max.stl", b"solid max\n")):
            stored = app.files.put_bytes(payload)
            session.add(models.ModelFile(client_id=client_id, project_id=client_id,
                                         filename=name, size=stored.size,
                                         sha256=stored.sha256, storage_key=stored.key,
                                         uploaded_at=app.clock.now()))


def _get(app: App, model: type, ident: int) -> object:
    with unit_of_work(app.engine) as session:
        return session.get(model, ident)


def _all(app: App, model: type) -> list:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(model)))


def _actions(app: App) -> list[str]:
    return [a.action for a in _all(app, models.AuditLog)]


def _verify(mail: Mailbox, request: str, **kw: object) -> tuple[EmailMessage, str]:
    sent = mail.send(request, wait=2, **kw)  # type: ignore[arg-type]
    code_mail = _purpose(sent, "verification code")
    return code_mail, _code(code_mail)


# ------------------------------------------------------------------------------- the rights


def test_access_delivers_encrypted_export_with_only_own_files(world: Mailbox) -> None:
    code_mail, code = _verify(world, "Please send me a copy of all my personal data.")
    assert code_mail["To"] == "jane@example.com"
    out = world.send(f"Here is my code: {code}", reply_to=code_mail, wait=2)
    export, password_mail = _purpose(out, "a copy of your data"), _purpose(out, "Password")
    password = _text(password_mail).split("is:")[1].split()[0]
    [attachment] = list(export.iter_attachments())
    blob = attachment.get_content()
    with pyzipper.AESZipFile(io.BytesIO(blob)) as zf:
        with pytest.raises(RuntimeError):
            zf.read("data.json")
        zf.setpassword(password.encode())
        names = zf.namelist()
        data = json.loads(zf.read("data.json"))
        summary = zf.read("summary.html").decode()
        stl = [n for n in names if n.endswith(".stl")]
        assert [zf.read(n) for n in stl] == [b"solid jane\n"]
    assert "secret-max.stl" not in " ".join(names)
    assert "Jane Example" in json.dumps(data) and "Max Mustermann" not in json.dumps(data)
    assert "<script" not in summary and "https://" not in summary
    [case] = _all(world.app, models.Case)
    assert case.status == "closed"
    actions = _actions(world.app)
    assert {"verify.code_issued", "verify.ok", "export.built", "file.read"} <= set(actions)
    [code_row] = _all(world.app, models.VerificationCode)
    assert code not in code_row.code_hash and code_row.status == "used"


def test_deletion_with_active_project_needs_staff_approval_then_grace_then_certificate(
    world: Mailbox, clock: FrozenClock
) -> None:
    app = world.app
    code_mail, code = _verify(world, "Please delete all my personal data.")
    out = world.send(code, reply_to=code_mail, wait=2)
    escalation = _purpose(out, "Needs staff")
    assert escalation["To"] == "staff@stelloloxonpro.com"
    assert "needs approval" in _text(escalation)
    for command in ("APPROVE", "DENY <reason>", "EXTEND <days> <reason>", "NOTE <text>"):
        assert f"  {command} " in _text(escalation), command
    review = _purpose(out, "what happens next")  # the client is not left in silence
    assert review["To"] == "jane@example.com"
    told = " ".join(_text(review).split())
    assert "your project SP-2025-0041 is not finished yet" in told
    assert "Our team decides by December 25, 2026 at the latest." in told
    assert "Nothing has been deleted yet." in told and "CANCEL" in told
    out = world.send("APPROVE", sender="boss@stelloloxonpro.com", reply_to=escalation, wait=2,
                     signed_by="stelloloxonpro.com")
    notice = _purpose(out, "will be deleted on")
    assert notice["To"] == "jane@example.com"
    assert "CANCEL" in _text(notice)
    [model_file] = [f for f in _all(app, models.ModelFile) if f.client_id == 1]
    path = app.files.path(model_file.storage_key)
    clock.advance(days=6)
    with app.write_lock, unit_of_work(app.engine) as session:
        assert run_due_deletions(session, app) == 0  # not a day early
    assert path.exists()
    clock.advance(days=1, minutes=1)
    with app.write_lock, unit_of_work(app.engine) as session:
        assert run_due_deletions(session, app) == 1
    [certificate] = world.new(1)
    assert "Deletion certificate" in certificate["Subject"]
    assert "bracket.stl" in _text(certificate) and "invoice" in _text(certificate).lower()
    assert not path.exists()
    client = _get(app, models.Client, 1)
    assert client.name != "Jane Example" and client.anonymised_at is not None  # type: ignore[attr-defined]
    assert [e.address for e in _all(app, models.ClientEmail)] == ["max@example.de",
                                                                  "camille@example.fr"]
    assert [i.client_id for i in _all(app, models.Invoice)].count(1) == 1  # kept 7 years
    assert len(_all(app, models.Suppression)) == 1
    assert {m.raw for m in _all(app, models.InboundMessage)
            if m.sender == "jane@example.com"} == {b""}
    assert app.files.exists(next(f for f in _all(app, models.ModelFile)
                                 if f.client_id == 2).storage_key)


def test_client_cancels_scheduled_deletion(world: Mailbox) -> None:
    with unit_of_work(world.app.engine) as session:
        project = session.get(models.Project, 1)
        invoice = session.exec(select(models.Invoice).where(models.Invoice.client_id == 1)).one()
        project.status, invoice.status = "completed", "paid"  # type: ignore[union-attr]
        session.add(project)
    code_mail, code = _verify(world, "I want you to erase my account and all data.")
    notice = _purpose(world.send(code, reply_to=code_mail), "will be deleted")
    done = world.send("CANCEL please, I changed my mind", reply_to=notice)
    assert "deletion cancelled" in done[0]["Subject"]
    [case] = _all(world.app, models.Case)
    assert case.status == "closed" and case.act_at is None
    assert _get(world.app, models.Client, 1).name == "Jane Example"  # type: ignore[attr-defined]


def test_correction_applies_and_confirms_old_to_new(world: Mailbox) -> None:
    code_mail, code = _verify(world, "Please correct my phone number: my new phone number "
                                     "is +1 941 555 0199.")
    [done] = world.send(code, reply_to=code_mail)
    assert "+1 941 555 0100 -> +1 941 555 0199" in _text(done)
    assert _get(world.app, models.Client, 1).phone == "+1 941 555 0199"  # type: ignore[attr-defined]


def test_restriction_marks_client_restricted(world: Mailbox) -> None:
    code_mail, code = _verify(world, "I request the restriction of processing of my "
                                     "personal data.")
    [done] = world.send(code, reply_to=code_mail)
    assert "restricted" in done["Subject"]
    assert _get(world.app, models.Client, 1).restricted is True  # type: ignore[attr-defined]


def test_optout_needs_no_verification(world: Mailbox) -> None:
    [done] = world.send("Please stop sending me newsletters and marketing emails.")
    world.new(0)  # one mail, not an acknowledgement and a confirmation
    assert done["Subject"].endswith(": unsubscribed")
    assert "Done: this address will no longer receive non-essential emails" in _text(done)
    assert _get(world.app, models.Client, 1).marketing_opt_out is True  # type: ignore[attr-defined]
    [case] = _all(world.app, models.Case)
    assert case.status == "closed"


def test_usage_report_lists_processors(world: Mailbox) -> None:
    code_mail, code = _verify(world, "Please tell me how my data was used and who you "
                                     "shared it with.")
    [report] = world.send(code, reply_to=code_mail)
    assert "Stripe" in _text(report)


def test_second_request_of_same_kind_joins_open_case(world: Mailbox) -> None:
    _verify(world, "Please send me a copy of my data.")
    world.send("Again: send me a copy of all my data!", subject="Data request")
    assert len(_all(world.app, models.Case)) == 1
    assert len(_all(world.app, models.VerificationCode)) == 1


# ------------------------------------------------------------------------------- negatives


def test_five_wrong_codes_lock_and_the_right_one_then_fails(world: Mailbox) -> None:
    code_mail, code = _verify(world, "Please send me a copy of my data.")
    for n in range(4):
        [answer] = world.send("ZZZZ-ZZZZ", reply_to=code_mail)
        assert f"{4 - n} more" in _text(answer)
    out = world.send("ZZZZ-ZZZZ", reply_to=code_mail, wait=2)
    assert _purpose(out, "Needs staff")["To"] == "staff@stelloloxonpro.com"
    world.send(code, reply_to=code_mail)
    assert "export.built" not in _actions(world.app)


def test_expired_code_gets_a_fresh_one_and_the_old_stops_working(
    world: Mailbox, clock: FrozenClock
) -> None:
    code_mail, code = _verify(world, "Please send me a copy of my data.")
    clock.advance(hours=25)
    [fresh] = world.send(code, reply_to=code_mail)
    new_code = _code(fresh)
    assert new_code != code
    [answer] = world.send(code, reply_to=fresh)
    assert "did not match" in _text(answer)
    assert "export.built" not in _actions(world.app)


def test_replayed_code_changes_nothing(world: Mailbox) -> None:
    code_mail, code = _verify(world, "Please tell me how my data was used and shared.")
    world.send(code, reply_to=code_mail)
    [answer] = world.send(code, reply_to=code_mail)
    assert "already been used" in _text(answer)
    assert _actions(world.app).count("usage_report.delivered") == 1


def test_code_from_another_case_does_not_work(world: Mailbox) -> None:
    _mail_a, code_a = _verify(world, "Please send me a copy of my data.")
    mail_b, _ = _verify(world, "Please restrict the processing of my data.", subject="Other")
    [answer] = world.send(code_a, reply_to=mail_b)
    assert "did not match" in _text(answer)
    assert _get(world.app, models.Client, 1).restricted is False  # type: ignore[attr-defined]


def test_lookalike_domain_gets_neutral_answer_and_no_code(world: Mailbox) -> None:
    out = world.send("Please delete all my data. I am Jane Example.",
                     sender="jane@examp1e.com", wait=2)
    ack = next(m for m in out if m["To"] == "jane@examp1e.com")
    assert "If we hold data linked to this address" in _text(ack)
    assert not [m for m in out if "verification code" in m["Subject"]]
    assert _purpose(out, "Needs staff")["To"] == "staff@stelloloxonpro.com"
    assert _all(world.app, models.VerificationCode) == []


def test_request_to_send_data_elsewhere_is_escalated(world: Mailbox) -> None:
    out = world.send("Please send a copy of all my data to collector@evil.example, thanks.",
                     wait=2)
    assert _purpose(out, "Needs staff")
    assert not [m for m in out if "verification code" in m["Subject"]]
    assert _all(world.app, models.VerificationCode) == []


def test_staff_command_from_non_staff_address_changes_nothing(world: Mailbox) -> None:
    code_mail, code = _verify(world, "Please delete all my data.")
    out = world.send(code, reply_to=code_mail)
    escalation = _purpose(out, "Needs staff")
    world.send("APPROVE", sender="mallory@evil.example", reply_to=escalation)
    [case] = [c for c in _all(world.app, models.Case) if c.requester == "jane@example.com"]
    assert case.status == "awaiting_staff" and case.act_at is None
    with unit_of_work(world.app.engine) as session:
        assert run_due_deletions(session, world.app) == 0


def test_staff_extend_tells_requester_why(world: Mailbox) -> None:
    out = world.send("I want to complain about your service.", subject="Complaint", wait=2)
    escalation = _purpose(out, "Needs staff")
    out = world.send("EXTEND 30 we need the accounting team's records",
                     sender="boss@stelloloxonpro.com", reply_to=escalation, wait=2,
                     signed_by="stelloloxonpro.com")
    to_client = next(m for m in out if m["To"] == "jane@example.com")
    assert "accounting team" in _text(to_client)
    [case] = _all(world.app, models.Case)
    assert case.due_at - case.received_at == timedelta(days=60)


def test_large_export_goes_as_expiring_single_client_link(
    make_app: Callable[..., App], run_daemon: Callable, clock: FrozenClock
) -> None:
    from urllib.error import HTTPError
    from urllib.request import urlopen

    from bot.downloads import purge_expired
    from tests.servers import free_port

    app = make_app(export_attach_max_bytes=1, download_enabled=True,
                   download_port=free_port(), download_max_count=2)
    seed_demo(app)
    _add_model_files(app)
    with run_daemon(app) as daemon:
        mail = Mailbox(app, daemon.smtp_port)
        code_mail, code = _verify(mail, "Please send me a copy of all my data.")
        out = mail.send(code, reply_to=code_mail, wait=2)
        link_mail = _purpose(out, "a copy of your data")
        password = _text(_purpose(out, "Password")).split("is:")[1].split()[0]
        assert list(link_mail.iter_attachments()) == []
        url = re.search(r"http://\S+", _text(link_mail)).group(0)  # type: ignore[union-attr]
        blobs = [urlopen(url, timeout=10).read() for _ in range(2)]
        with pytest.raises(HTTPError) as used_up:
            urlopen(url, timeout=10)
        with pytest.raises(HTTPError) as forged:
            urlopen(url[:-4] + "AAAA", timeout=10)
    assert used_up.value.code == forged.value.code == 404
    assert blobs[0] == blobs[1]
    with pyzipper.AESZipFile(io.BytesIO(blobs[0])) as zf:
        zf.setpassword(password.encode())
        assert "Jane Example" in zf.read("data.json").decode()
    [token] = _all(app, models.DownloadToken)
    assert url.rsplit("/", 1)[1] not in token.token_hash
    exports = list((app.settings.data_dir / "exports").glob("*.zip"))
    assert len(exports) == 1
    assert purge_expired(app) == 1  # used up: the file goes
    assert not exports[0].exists()
    assert {"download.served", "download.refused", "download.purged"} <= set(_actions(app))


def test_new_login_email_is_used_only_after_it_proves_itself(world: Mailbox) -> None:
    code_mail, code = _verify(world, "Please change my email address to "
                                     "jane.new@example.org")
    out = world.send(code, reply_to=code_mail, wait=2)
    new_code_mail = next(m for m in out if m["To"] == "jane.new@example.org")
    assert [e.address for e in _all(world.app, models.ClientEmail)
            if e.client_id == 1] == ["jane@example.com"]  # not yet
    # a stranger replying with a code-like text: a case of their own; neither of Jane's
    # addresses hears of it (staff may)
    before = world.seen
    world.send("ZZZZ-ZZZZ", sender="mallory@evil.example", reply_to=new_code_mail)
    time.sleep(1)  # and whatever else that message causes
    world.seen = len(outbox_messages(world.app))
    told = {m["To"] for m in outbox_messages(world.app)[before:]}
    assert "mallory@evil.example" in told
    assert not told & {"jane@example.com", "jane.new@example.org"}
    assert [e.address for e in _all(world.app, models.ClientEmail)
            if e.client_id == 1] == ["jane@example.com"]
    done = world.send(_code(new_code_mail), sender="jane.new@example.org",
                      reply_to=new_code_mail, wait=2)
    assert {m["To"] for m in done} == {"jane@example.com", "jane.new@example.org"}
    assert [e.address for e in _all(world.app, models.ClientEmail)
            if e.client_id == 1] == ["jane.new@example.org"]


# ------------------------------------------------------------------------ threading, subjects


def _message_id(mail: Mailbox) -> str:
    """The Message-ID of the last mail the client sent (from the bot's inbound store)."""
    rows = [m for m in _all(mail.app, models.InboundMessage) if m.message_id]
    return max(rows, key=lambda m: m.id).message_id  # type: ignore[no-any-return]


def _assert_threaded_and_tagged_once(messages: list[EmailMessage], parent: str) -> None:
    for message in messages:
        subject = message["Subject"]
        assert message["In-Reply-To"] == parent, (subject, message["In-Reply-To"])
        assert parent in message["References"].split(), subject
        assert len(re.findall(r"\[SP-REQ-\d+\]", subject)) == 1, subject
        assert not re.search(r"(?i)\bre:\s*re:", subject), subject


def test_every_reply_threads_to_the_clients_last_message_tag_once(world: Mailbox) -> None:
    code_mail, _code_value = _verify(world, "Please send me a copy of all my personal data.")
    request = _message_id(world)
    _assert_threaded_and_tagged_once([code_mail], request)
    wrong = world.send("Code: ZZZZ-ZZZZ", reply_to=code_mail)  # Re: Re: … [tag] …
    _assert_threaded_and_tagged_once(wrong, _message_id(world))
    out = world.send(f"Here is my code: {_code(code_mail)}", reply_to=wrong[0], wait=2)
    code_reply = _message_id(world)
    assert any(m["Subject"].endswith(": a copy of your data") for m in out)
    _assert_threaded_and_tagged_once(out, code_reply)  # export and password mail
    assert all(request in m["References"].split() for m in out)


def test_a_tag_the_client_already_has_in_the_subject_is_not_repeated(world: Mailbox) -> None:
    [ack, _code_mail] = sorted(world.send("Please send me a copy of all my personal data.",
                                         wait=2), key=lambda m: m["Subject"])
    ref = re.search(r"\[(SP-REQ-\d+)\]", ack["Subject"]).group(1)  # type: ignore[union-attr]
    out = world.send("Is my request being handled?", subject=f"RE: Re: [{ref}] my request")
    assert [m["Subject"] for m in out] == [f"RE: [{ref}] my request"]
