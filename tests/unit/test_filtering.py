"""What the pipeline lets through (issue 17): machines, spam and re-deliveries get no reply,
open no case and are kept for staff with their status; people are still answered."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.context import App
from bot.intake import store_raw
from bot.pipeline import process_inbound
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail

ROBOTS = Path(__file__).resolve().parents[1] / "data" / "mail" / "robots"


def _inject(app: App, raw: bytes) -> str:
    inbound_id, _ = store_raw(app, "inject", raw)
    return process_inbound(app, inbound_id)


def _rows(app: App, model: type) -> list:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(model)))


def _replies_to(app: App, address: str) -> list[models.Outbox]:
    return [r for r in _rows(app, models.Outbox) if r.to_addr == address]


@pytest.mark.parametrize("path", sorted(ROBOTS.glob("*.eml")), ids=lambda p: p.stem)
def test_robot_mail_gets_no_reply_and_no_case(app: App, path: Path) -> None:
    assert _inject(app, path.read_bytes()) == "robot"
    assert _rows(app, models.Outbox) == []
    assert _rows(app, models.Case) == []


def test_bounce_carrying_a_project_request_opens_no_project(app: App) -> None:
    raw = (ROBOTS / "dsn_with_project_request.eml").read_bytes()
    assert _inject(app, raw) == "robot"
    assert _rows(app, models.Project) == [] and _rows(app, models.ModelFile) == []
    assert _replies_to(app, "jane@example.com") == []


def test_a_person_is_still_answered(app: App) -> None:
    assert _inject(app, make_mail("Please send me a copy of my data")) == "processed"
    assert len(_replies_to(app, "jane@example.com")) >= 1


def test_bulk_looking_privacy_request_goes_to_staff(app: App) -> None:
    """A soft rule (no machine marker) may catch a person: their request reaches staff."""
    raw = make_mail("Please delete all personal data you hold about me.",
                    sender="newsletter@clientfirm.example")
    assert _inject(app, raw) == "robot"
    assert _replies_to(app, "newsletter@clientfirm.example") == []
    [notice] = _replies_to(app, "staff@stelloloxonpro.com")
    assert notice.purpose == "staff_spam_privacy" and b"deletion" in notice.raw
    assert b"filed as machine-generated bulk mail" in notice.raw
    assert b"inbound --status robot" in notice.raw


def test_bounce_quoting_a_privacy_request_does_not_bother_staff(app: App) -> None:
    raw = make_mail("Please delete all personal data you hold about me.",
                    sender="MAILER-DAEMON@mx.example.com", subject="Undelivered Mail")
    assert _inject(app, raw) == "robot"
    assert _rows(app, models.Outbox) == []


def test_bulk_mail_without_a_privacy_request_stays_quiet(app: App) -> None:
    assert _inject(app, (ROBOTS / "bulk_role_sender.eml").read_bytes()) == "robot"
    assert _rows(app, models.Outbox) == []


def test_staff_can_release_robot_mail_a_person_wrote(app: App, monkeypatch) -> None:
    from typer.testing import CliRunner

    from bot.cli import cli

    raw = make_mail("Please delete all personal data you hold about me.",
                    sender="news@clientfirm.example")
    assert _inject(app, raw) == "robot"
    [row] = _rows(app, models.InboundMessage)
    monkeypatch.setenv("STELLOLOXON_DATA_DIR", str(app.settings.data_dir))
    monkeypatch.setenv("STELLOLOXON_DEMO_DATA", "false")
    result = CliRunner().invoke(cli, ["process", str(row.id), "--not-spam"])
    assert result.exit_code == 0, result.output
    assert f"inbound #{row.id} processed" in result.output
    assert _replies_to(app, "news@clientfirm.example")


# --------------------------------------------------------------------------------- spam

OUR_MX = "mx.stelloloxonpro.com"
MX_SAYS_SPAM = (f"X-Spam-Flag: YES\nX-Spam-Status: Yes, score=14.2 required=5.0\n"
                f"Authentication-Results: {OUR_MX}; spf=softfail smtp.mailfrom=example.com\n"
                "Received: from unknown (HELO x) by mx.stelloloxonpro.com\n").encode()


def _spam(body: str, sender: str = "win@prizes.example") -> bytes:
    return MX_SAYS_SPAM + make_mail(body, sender=sender, subject="Hello")


def test_spam_marked_by_our_mx_gets_no_reply_and_no_case(make_app) -> None:
    app = make_app(trusted_authserv_ids=[OUR_MX])
    assert _inject(app, _spam("Cheap watches, best prices, click here today")) == "spam"
    [row] = _rows(app, models.InboundMessage)
    assert row.reason.startswith("x-spam-flag")
    assert _rows(app, models.Outbox) == [] and _rows(app, models.Case) == []


def test_spam_asking_for_details_never_reaches_the_spammer(make_app) -> None:
    """"send your bank details" reads as a copy request at 0.75 (the concept block's DATA):
    staff may get a notice, the sender never gets a word."""
    app = make_app(trusted_authserv_ids=[OUR_MX])
    assert _inject(app, _spam("You have won a prize, send your bank details")) == "spam"
    assert _replies_to(app, "win@prizes.example") == [] and _rows(app, models.Case) == []
    assert {o.purpose for o in _rows(app, models.Outbox)} <= {"staff_spam_privacy"}


def test_spam_headers_are_ignored_without_a_trusted_mx(app: App) -> None:
    assert _inject(app, _spam("Please send me a copy of my data")) == "processed"
    assert _replies_to(app, "win@prizes.example")


def test_spam_header_forged_below_our_results_is_ignored(make_app) -> None:
    app = make_app(trusted_authserv_ids=[OUR_MX])
    forged = (f"Authentication-Results: {OUR_MX}; spf=pass\n"
              "X-Spam-Flag: YES\n").encode() + make_mail("Please send me a copy of my data")
    assert _inject(app, forged) == "processed"


def test_privacy_request_marked_as_spam_goes_to_staff(make_app) -> None:
    app = make_app(trusted_authserv_ids=[OUR_MX])
    raw = _spam("Please delete all my personal data.", sender="jane@example.com")
    assert _inject(app, raw) == "spam"
    assert _replies_to(app, "jane@example.com") == [] and _rows(app, models.Case) == []
    [notice] = _replies_to(app, "staff@stelloloxonpro.com")
    assert notice.purpose == "staff_spam_privacy"
    assert b"deletion" in notice.raw


def test_staff_can_release_a_message_that_is_not_spam(make_app, monkeypatch,
                                                      tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import cli

    app = make_app(trusted_authserv_ids=[OUR_MX])
    assert _inject(app, _spam("Please delete all my personal data.",
                              sender="jane@example.com")) == "spam"
    [row] = _rows(app, models.InboundMessage)
    monkeypatch.setenv("STELLOLOXON_DATA_DIR", str(app.settings.data_dir))
    monkeypatch.setenv("STELLOLOXON_DEMO_DATA", "false")
    monkeypatch.setenv("STELLOLOXON_TRUSTED_AUTHSERV_IDS", f'["{OUR_MX}"]')
    result = CliRunner().invoke(cli, ["process", str(row.id), "--not-spam"])
    assert result.exit_code == 0, result.output
    assert f"inbound #{row.id} processed" in result.output
    assert _replies_to(app, "jane@example.com")


# --------------------------------------------------------------------- duplicates (no Message-ID)

def _without_message_id(body: str, **kw: str) -> bytes:
    raw = make_mail(body, **kw)
    return b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"Message-ID:"))


def test_same_bytes_without_message_id_are_answered_once(app: App) -> None:
    raw = _without_message_id("Please send me a copy of my data")
    statuses = [_inject(app, raw) for _ in range(6)]
    assert statuses == ["processed"] + ["duplicate"] * 5
    assert len(_rows(app, models.Case)) == 1
    assert len([r for r in _replies_to(app, "jane@example.com") if r.purpose == "ack"]) == 1
    reasons = {r.reason for r in _rows(app, models.InboundMessage) if r.status == "duplicate"}
    assert reasons == {"same raw bytes already handled"}


def test_same_bytes_after_the_window_are_a_new_message(app: App, clock) -> None:
    raw = _without_message_id("Please send me a copy of my data")
    assert _inject(app, raw) == "processed"
    clock.advance(hours=app.settings.duplicate_window_hours + 1)
    assert _inject(app, raw) != "duplicate"


def test_redelivery_with_new_headers_is_a_duplicate(app: App, clock) -> None:
    first = b"Received: from relay1 by mx; Tue, 1 Dec 2026\n" + _without_message_id(
        "Where is my project SP-2025-0041?")
    again = b"Received: from relay2 by mx; Tue, 1 Dec 2026\n" + _without_message_id(
        "Where is my project  SP-2025-0041?\n")
    assert _inject(app, first) == "processed"
    clock.advance(minutes=2)
    assert _inject(app, again) == "duplicate"
    [copy] = [r for r in _rows(app, models.InboundMessage) if r.status == "duplicate"]
    assert copy.reason == "re-delivery: same sender, subject and text"
    assert len(_rows(app, models.Case)) == 1


def test_same_text_later_or_from_someone_else_is_answered(app: App, clock) -> None:
    assert _inject(app, _without_message_id("Please delete my data")) == "processed"
    assert _inject(app, _without_message_id("Please delete my data",
                                            sender="max@example.de")) == "processed"
    clock.advance(minutes=app.settings.redelivery_window_minutes + 1)
    resent = b"Received: from relay3 by mx\n" + _without_message_id("Please delete my data")
    assert _inject(app, resent) == "processed"
    assert _replies_to(app, "max@example.de")


def test_same_text_with_another_attachment_is_not_a_redelivery(app: App) -> None:
    from email.message import EmailMessage

    def with_file(data: bytes) -> bytes:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "jane@example.com", "info@x.com", "File"
        msg.set_content("Here is the file for my project.")
        msg.add_attachment(data, maintype="application", subtype="octet-stream",
                           filename="part.bin")
        return msg.as_bytes()

    assert _inject(app, with_file(b"one")) == "processed"
    assert _inject(app, with_file(b"two")) == "processed"


def test_same_text_with_a_new_message_id_is_a_new_send(app: App) -> None:
    first = make_mail("Where is my project SP-2025-0041?", msgid="<try-1@example.com>")
    again = make_mail("Where is my project SP-2025-0041?", msgid="<try-2@example.com>")
    assert [_inject(app, first), _inject(app, again)] == ["processed", "processed"]
