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
