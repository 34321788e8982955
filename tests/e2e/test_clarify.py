"""Ask when unsure, through the real SMTP listener: an unclear or conflicting request gets the
numbered list of rights, the answer continues the same case, and nothing acts at once on a
misreading (opt-out is applied without verification, so it must be clear and alone)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from sqlmodel import select

from bot.context import App
from bot.demo import seed_demo
from storage import models
from storage.db import unit_of_work
from tests.e2e.test_privacy_rights import Mailbox, _purpose, _text
from tests.helpers import outbox_messages


@pytest.fixture
def world(app: App, run_daemon: Callable) -> Iterator[Mailbox]:
    seed_demo(app)
    with run_daemon(app) as daemon:
        yield Mailbox(app, daemon.smtp_port)


def _cases(app: App) -> list[models.Case]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.Case)))


def _client(app: App, client_id: int = 1) -> models.Client:
    with unit_of_work(app.engine) as session:
        client = session.get(models.Client, client_id)
        assert client is not None
        return client


ASKS = "with the number or numbers that apply"


def _ask(world: Mailbox, body: str, subject: str = "My data") -> EmailMessage:
    [question] = world.send(body, subject=subject)
    assert ASKS in _text(question), _text(question)
    [case] = _cases(world.app)
    assert case.status == "awaiting_choice"
    return question


def test_conflicting_rights_are_asked_and_the_number_continues_the_case(world: Mailbox) -> None:
    question = _ask(world, "Please delete my account, and also correct my phone number to "
                           "+49 30 1234567.")
    assert "1. a request for a copy of your data" in _text(question)
    assert "3. a request to delete your data" in _text(question)
    sent = world.send("3", reply_to=question, wait=2)
    code_mail = _purpose(sent, "verification code")
    assert code_mail["To"] == "jane@example.com"
    [case] = _cases(world.app)  # the same case, the same clock
    assert (case.status, case.intents) == ("awaiting_requester", "deletion")


def test_an_answer_that_picks_nothing_goes_to_staff(world: Mailbox) -> None:
    question = _ask(world, "Please delete my account and correct my address at the same time.")
    world.send("I am not sure, what would you suggest?", reply_to=question, wait=2)
    [case] = _cases(world.app)
    assert case.status == "awaiting_staff"
    assert [m for m in outbox_messages(world.app) if m["To"] == "staff@stelloloxonpro.com"]


@pytest.mark.parametrize(("subject", "body"), [
    ("unsubscribe??", "Don't unsubscribe me, I only want to know where my project "
                      "SP-2025-0041 is. It was promised for last week."),
    ("Do not sell", "Under the CCPA I opt out of the sale and sharing of my personal "
                    "information, and I want to know who you shared it with."),
    ("Objection", "I object under Art. 21 GDPR to the processing of my data for service "
                  "improvement. This is not a deletion request."),
])
def test_an_opt_out_that_is_not_clearly_alone_is_never_applied(
        world: Mailbox, subject: str, body: str) -> None:
    sent = world.send(body, subject=subject)
    assert not [m for m in sent if "unsubscribed" in m["Subject"]], [m["Subject"] for m in sent]
    assert _client(world.app).marketing_opt_out is False
    assert all(c.status != "closed" for c in _cases(world.app))


def test_a_clear_opt_out_still_acts_at_once(world: Mailbox) -> None:
    sent = world.send("Please stop sending me your newsletter and marketing emails.",
                      subject="Newsletter", wait=1)
    assert _purpose(sent, "unsubscribed")
    assert _client(world.app).marketing_opt_out is True
