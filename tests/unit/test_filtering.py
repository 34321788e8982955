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


# --------------------------------------------------------------------------------- spam

OUR_MX = "mx.stelloloxonpro.com"
MX_SAYS_SPAM = (f"X-Spam-Flag: YES\nX-Spam-Status: Yes, score=14.2 required=5.0\n"
                f"Authentication-Results: {OUR_MX}; spf=softfail smtp.mailfrom=example.com\n"
                "Received: from unknown (HELO x) by mx.stelloloxonpro.com\n").encode()


def _spam(body: str, sender: str = "win@prizes.example") -> bytes:
    return MX_SAYS_SPAM + make_mail(body, sender=sender, subject="Hello")


def test_spam_marked_by_our_mx_gets_no_reply_and_no_case(make_app) -> None:
    app = make_app(trusted_authserv_ids=[OUR_MX])
    assert _inject(app, _spam("You have won a prize, send your bank details")) == "spam"
    [row] = _rows(app, models.InboundMessage)
    assert row.reason.startswith("x-spam-flag")
    assert _rows(app, models.Outbox) == [] and _rows(app, models.Case) == []


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
