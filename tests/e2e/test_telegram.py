"""The Telegram channel end to end: the whole daemon, real python-telegram-bot, a loopback Bot
API server. Codes arrive by email (the outbox folder) and are typed in the chat; replies come
back as sendMessage/sendDocument; staff act with the escalation's buttons in the staff chat."""

from __future__ import annotations

import io
import json
import re
import smtplib
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import pyzipper
from sqlmodel import select

from bot.context import App
from bot.demo import seed_demo
from bot.identity import chat_address
from bot.mime import parse_message
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail, outbox_messages, wait_until
from tests.servers import free_port
from tests.servers.botapi import BotApiServer, botapi  # noqa: F401

pytestmark = pytest.mark.e2e

JANE = 1001  # a Telegram user id (= her private chat id)
STRANGER = 3003
STAFF_CHAT = -1009001
STAFF_USER = 4242
CODE_RE = re.compile(r"^\s{4}([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.M)


class Chat:
    """Users talking to the running daemon through the loopback Bot API."""

    def __init__(self, app: App, api: BotApiServer) -> None:
        self.app, self.api = app, api
        self.seen: dict[int, int] = {}
        self.mails_seen = 0

    def say(self, user_id: int, text: str, wait: int = 1) -> list[dict[str, Any]]:
        self.api.push_message(user_id, text)
        return self.new(user_id, wait)

    def new(self, chat_id: int, count: int = 1) -> list[dict[str, Any]]:
        """Wait for `count` more messages to a chat and return them."""
        start = self.seen.get(chat_id, 0)
        fresh = self.api.wait_for(lambda: len(self.api.messages_to(chat_id)) >= start + count
                                  and self.api.messages_to(chat_id)[start:])
        self.seen[chat_id] = start + len(fresh)
        return fresh

    def code_mail(self, subject_word: str) -> tuple[EmailMessage, str]:
        """The next code mail in the outbox folder, and its code."""
        def find() -> tuple[EmailMessage, str] | None:
            for mail in outbox_messages(self.app)[self.mails_seen:]:
                if subject_word in mail["Subject"]:
                    match = CODE_RE.search(_text(mail))
                    assert match, _text(mail)
                    return mail, match.group(1)
            return None
        found = wait_until(find)
        self.mails_seen = len(outbox_messages(self.app))
        return found


@pytest.fixture
def chat(make_app: Callable[..., App], run_daemon: Callable,
         botapi: BotApiServer) -> Iterator[Chat]:  # noqa: F811
    app = make_app(telegram_token="123:ABC", telegram_base_url=botapi.url, smtp_port=0,
                   telegram_staff_chat_id=STAFF_CHAT, telegram_staff_user_ids=[STAFF_USER])
    seed_demo(app)
    with run_daemon(app):
        yield Chat(app, botapi)


def _text(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def _all(app: App, model: type) -> list[Any]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(model)))


def _actions(app: App) -> list[str]:
    return [a.action for a in _all(app, models.AuditLog)]


def _link_directly(app: App, user_id: int, client_id: int = 1) -> None:
    with unit_of_work(app.engine) as session:
        session.add(models.ClientEmail(client_id=client_id, address=chat_address(user_id)))


def _cases(app: App, requester: str) -> list[models.Case]:
    return [c for c in _all(app, models.Case) if c.requester == requester]


# ------------------------------------------------------------------------------ linking


def test_linking_conversation(chat: Chat) -> None:
    [welcome] = chat.say(JANE, "/start")
    assert "/link" in welcome["text"]
    [status] = chat.say(JANE, "/status")
    assert "not linked" in status["text"]
    [answer] = chat.say(JANE, "/link jane@example.com")
    assert "If this address is on file, a code is on its way" in answer["text"]
    mail, code = chat.code_mail("link a Telegram chat")
    assert mail["To"] == "jane@example.com"
    [wrong] = chat.say(JANE, "ZZZZ-ZZZZ")
    assert "did not match" in wrong["text"] and "4 more" in wrong["text"]
    [done] = chat.say(JANE, f"my code is {code}")
    assert "now linked" in done["text"]
    owner = [e.client_id for e in _all(chat.app, models.ClientEmail)
             if e.address == chat_address(JANE)]
    assert owner == [1]
    assert "chat.linked" in _actions(chat.app)
    [code_row] = _all(chat.app, models.VerificationCode)
    assert code_row.status == "used" and code_row.attempts == 1 and code_row.channel == "chat"
    assert code not in code_row.code_hash
    [status] = chat.say(JANE, "/status")
    assert "no open requests" in status["text"]


def test_link_to_an_address_not_on_file_answers_the_same_and_sends_nothing(chat: Chat) -> None:
    [answer] = chat.say(STRANGER, "/link jane@examp1e.com")
    assert "If this address is on file, a code is on its way" in answer["text"]
    [wrong] = chat.say(STRANGER, "ABCD-EFGH")
    assert "did not match" in wrong["text"] and "4 more" in wrong["text"]
    [stopped] = chat.say(STRANGER, "/cancel")
    assert "Nothing was linked" in stopped["text"]
    assert outbox_messages(chat.app) == []
    assert _all(chat.app, models.VerificationCode) == []
    assert [e for e in _all(chat.app, models.ClientEmail) if "telegram" in e.address] == []


def test_link_past_the_cap_answers_a_client_like_a_stranger(chat: Chat) -> None:
    def conversation(user_id: int, email: str) -> list[str]:
        said = [chat.say(user_id, f"/link {email}")[0]["text"]]
        said += [chat.say(user_id, guess)[0]["text"] for guess in ("ABCD-EFGH", "HJKM-NPQR")]
        return said

    cap = chat.app.settings.telegram_link_codes_per_day
    for _ in range(cap):  # use up jane's codes
        chat.say(JANE, "/link jane@example.com")
    capped = conversation(JANE, "jane@example.com")
    stranger = conversation(STRANGER, "nobody@example.org")
    assert capped == stranger
    assert "did not match" in capped[1] and "4 more" in capped[1]
    assert [o.purpose for o in _all(chat.app, models.Outbox)] == ["link_code"] * cap


# ------------------------------------------------------------------------------ the rights


def test_access_request_from_linked_chat_is_fulfilled_by_document(chat: Chat) -> None:
    _link_directly(chat.app, JANE)
    [ack] = chat.say(JANE, "Please send me a copy of all my data.")
    assert "SP-REQ-000001" in ack["text"]
    assert "write again here" in ack["text"] and "email" not in ack["text"].split("\n")[0]
    mail, code = chat.code_mail("verification code")
    assert mail["To"] == "jane@example.com"
    assert "Telegram chat" in _text(mail)
    chat.say(JANE, code, wait=2)  # the export's text, then the password
    [document] = chat.api.wait_for(lambda: chat.api.documents_to(JANE))
    texts = [m["text"] for m in chat.api.messages_to(JANE)]
    password = next(t for t in texts if "is:" in t).split("is:")[1].split()[0]
    assert document["filename"].endswith(".zip")
    with pyzipper.AESZipFile(io.BytesIO(document["data"])) as zf:
        zf.setpassword(password.encode())
        data = json.loads(zf.read("data.json"))
    assert "Jane Example" in json.dumps(data) and "Max Mustermann" not in json.dumps(data)
    [case] = _cases(chat.app, chat_address(JANE))
    assert case.status == "closed"
    assert {"verify.ok", "access.delivered"} <= set(_actions(chat.app))


def test_deletion_approved_by_staff_button(chat: Chat) -> None:
    _link_directly(chat.app, JANE)
    chat.say(JANE, "Please delete all my personal data.")
    _, code = chat.code_mail("verification code")
    chat.api.push_message(JANE, code)
    [escalation] = chat.new(STAFF_CHAT)
    assert "needs approval" in escalation["text"]
    [review] = chat.new(JANE)  # the client hears what happens next while staff decide
    assert "Our team decides by" in review["text"]
    buttons = [b["callback_data"] for b in escalation["reply_markup"]["inline_keyboard"][0]]
    assert buttons == ["staff:approve:SP-REQ-000001", "staff:deny:SP-REQ-000001",
                       "staff:extend:SP-REQ-000001", "staff:take:SP-REQ-000001"]
    chat.api.push_callback(STAFF_USER, STAFF_CHAT, buttons[0], message=_as_update(escalation))
    [answer] = chat.api.wait_for(lambda: chat.api.callback_answers)
    assert "deletion approved" in answer["text"]
    [notice] = chat.new(JANE)
    assert "We will delete it on December 2, 2026" in notice["text"]
    [case] = _cases(chat.app, chat_address(JANE))
    assert case.status == "deletion_scheduled" and case.pending_action == "deletion_approved"
    assert "staff.button" in _actions(chat.app)


def test_forged_button_press_from_non_staff_is_ignored(chat: Chat) -> None:
    chat.say(STRANGER, "I want to complain about your service.")
    [escalation] = chat.new(STAFF_CHAT)
    data = escalation["reply_markup"]["inline_keyboard"][0][2]["callback_data"]  # extend
    chat.api.push_callback(666, STAFF_CHAT, "staff:approve:SP-REQ-000001",
                           message=_as_update(escalation))
    chat.api.push_callback(STAFF_USER, STRANGER, data)  # a staff id, but not the staff chat
    answers = chat.api.wait_for(lambda: len(chat.api.callback_answers) >= 2
                                and chat.api.callback_answers)
    assert [a["text"] for a in answers] == ["Not allowed."] * 2
    assert _actions(chat.app).count("staff.button_refused") == 2
    assert "staff.command" not in _actions(chat.app)
    [case] = _cases(chat.app, chat_address(STRANGER))
    assert case.status == "awaiting_staff"


def test_staff_deny_asks_for_a_reason_then_runs_the_reply(chat: Chat) -> None:
    chat.say(STRANGER, "I want to complain about your service.")
    [escalation] = chat.new(STAFF_CHAT)
    chat.api.push_callback(STAFF_USER, STAFF_CHAT, "staff:deny:SP-REQ-000001",
                           message=_as_update(escalation))
    [prompt] = chat.new(STAFF_CHAT)
    assert "DENY <reason>" in prompt["text"]
    chat.api.push_message(STAFF_USER, "DENY we cannot help with this", chat_id=STAFF_CHAT,
                          chat_type="supergroup", reply_to=_as_update(escalation))
    [result] = chat.new(STAFF_CHAT)
    assert "request denied" in result["text"]
    [denied] = chat.new(STRANGER)
    assert "we cannot help with this" in denied["text"]
    [case] = _cases(chat.app, chat_address(STRANGER))
    assert case.status == "closed"


# ------------------------------------------------------------------------------ not the client


def test_group_and_forwarded_messages_are_ignored(chat: Chat) -> None:
    chat.api.push_message(JANE, "Please send me a copy of all my data.", chat_type="group")
    chat.api.push_message(JANE, "Please delete all my personal data.", forward=True)
    chat.say(JANE, "/help")  # updates are handled in order: the two above are done
    assert _all(chat.app, models.InboundMessage) == []
    assert _actions(chat.app).count("telegram.ignored") == 2
    assert chat.api.messages_to(-100000 - JANE) == []


def test_unlinked_chat_asking_for_its_data_gets_the_neutral_answer(chat: Chat) -> None:
    [menu] = chat.say(STRANGER, "/privacy")
    rows = menu["reply_markup"]["inline_keyboard"]
    assert sum(len(r) for r in rows) == 6
    chat.api.push_callback(STRANGER, STRANGER, "right:access")
    [ack] = chat.new(STRANGER)
    assert "If we hold data linked to this address" in ack["text"]
    chat.new(STAFF_CHAT)  # escalated: no client on file
    assert chat.api.documents_to(STRANGER) == []
    assert _all(chat.app, models.VerificationCode) == []
    [inbound] = _all(chat.app, models.InboundMessage)
    assert inbound.sender == chat_address(STRANGER) and inbound.channel == "telegram"


def test_an_unclear_chat_request_gets_number_buttons_and_a_press_continues_the_case(
        chat: Chat) -> None:
    [question] = chat.say(STRANGER, "Delete my account and also fix my phone number please")
    rows = question["reply_markup"]["inline_keyboard"]
    datas = [b["callback_data"] for row in rows for b in row]
    assert datas == [f"choice:{n}" for n in range(1, 7)]
    assert "3. a request to delete your data" in question["text"]
    [case] = _all(chat.app, models.Case)
    assert case.status == "awaiting_choice"
    chat.api.push_callback(STRANGER, STRANGER, "choice:3", message=_as_update(question))
    [ack] = chat.new(STRANGER)
    assert "If we hold data linked to this address" in ack["text"]
    [case] = _all(chat.app, models.Case)  # the same case, now a deletion (no client: staff)
    assert (case.intents, case.status) == ("deletion", "awaiting_staff")


def test_documents_are_stored_as_attachments_and_oversized_ones_refused(chat: Chat) -> None:
    chat.api.push_document(JANE, "huge.stl", b"x", size=chat.app.settings.max_attachment_bytes
                           + 1)
    [refused] = chat.new(JANE)
    assert "too large" in refused["text"]
    chat.api.push_document(JANE, "bracket.stl", b"solid bracket\n",
                           caption="New job: please print this bracket in PETG")
    chat.new(JANE)
    [inbound] = _all(chat.app, models.InboundMessage)
    parsed = parse_message(inbound.raw)
    assert [(a.filename, a.data) for a in parsed.attachments] == [("bracket.stl",
                                                                   b"solid bracket\n")]
    assert "print this bracket" in parsed.text


def _as_update(sent: dict[str, Any]) -> dict[str, Any]:
    """A message the bot sent, as it appears inside an update (callback or reply)."""
    chat_id = sent["chat_id"]
    return {"message_id": sent["message_id"], "date": 0, "text": sent["text"],
            "from": {"id": 123, "is_bot": True, "first_name": "Stelloloxon"},
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}}


def test_unreachable_bot_api_does_not_stop_mail(make_app: Callable[..., App],
                                                run_daemon: Callable) -> None:
    app = make_app(telegram_token="123:ABC", telegram_base_url=f"http://127.0.0.1:{free_port()}")
    with run_daemon(app) as daemon:
        raw = make_mail("Please send me a copy of all my data.")
        with smtplib.SMTP("127.0.0.1", daemon.smtp_port, timeout=10) as smtp:
            smtp.sendmail("jane@example.com", ["info@stelloloxonpro.com"], raw)
        wait_until(lambda: outbox_messages(app))
