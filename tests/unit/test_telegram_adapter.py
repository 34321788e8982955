"""The Telegram adapter without sockets: chat message -> RFC 822 -> what the pipeline parses,
outbox row -> chat text and files, and the linking and staff rules underneath the channel."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlmodel import select
from telegram import Message

from bot.channels import telegram_link as link
from bot.channels import telegram_staff as staff
from bot.channels.outbound import PermanentFailure
from bot.channels.telegram import (
    RIGHTS,
    TelegramTransport,
    not_the_client,
    parse_command,
    privacy_keyboard,
)
from bot.channels.telegram_adapter import (
    ChatFile,
    ChatMessage,
    from_rfc822,
    message_id_for,
    oversized,
    split_text,
    to_rfc822,
)
from bot.clock import FrozenClock
from bot.context import App
from bot.demo import seed_demo
from bot.mime import parse_message
from bot.outbox import WIRE_POLICY, FileAttachment, Threading, compose
from bot.replies import Rendered
from bot.understand import understand
from storage import models
from storage.db import unit_of_work

WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def _chat_message(**kw: object) -> ChatMessage:
    values: dict[str, object] = {"user_id": 1001, "chat_id": 1001, "key": "77",
                                 "text": "Please send me a copy of all my data.",
                                 "date": WHEN}
    values.update(kw)
    return ChatMessage(**values)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ inbound


def test_chat_message_becomes_a_mail_the_pipeline_reads() -> None:
    raw = to_rfc822(_chat_message(), bot_address="info@stelloloxonpro.com",
                    in_reply_to="<sp.1@stelloloxonpro.com>")
    parsed = parse_message(raw)
    assert parsed.from_addr == "1001@telegram.invalid"
    assert parsed.to_addrs == ["info@stelloloxonpro.com"]
    assert parsed.subject == "Telegram message"
    assert parsed.message_id == "<tg-1001-77@telegram.invalid>"
    assert parsed.in_reply_to == ["<sp.1@stelloloxonpro.com>"]
    assert parsed.text.strip() == "Please send me a copy of all my data."
    assert parsed.date == WHEN
    assert parsed.attachments == []


def test_first_message_has_no_in_reply_to_and_no_name() -> None:
    raw = to_rfc822(_chat_message(), bot_address="info@stelloloxonpro.com", in_reply_to=None)
    parsed = parse_message(raw)
    assert parsed.in_reply_to == [] and parsed.references == []
    assert parsed.from_name == ""  # the numeric id only, never a username or name


def test_document_becomes_an_attachment() -> None:
    stl = ChatFile("bracket.stl", b"solid bracket\n\x00\xff", "model/stl")
    raw = to_rfc822(_chat_message(text="", files=(stl,)), bot_address="info@x.example",
                    in_reply_to=None)
    [attachment] = parse_message(raw).attachments
    assert (attachment.filename, attachment.data) == ("bracket.stl", stl.data)
    assert attachment.content_type == "model/stl"


def test_button_presses_get_their_own_message_id() -> None:
    assert message_id_for(1001, "cb42") == "<tg-1001-cb42@telegram.invalid>"


def test_every_privacy_button_sentence_is_understood_as_its_right() -> None:
    for right, (_label, sentence) in RIGHTS.items():
        meaning = understand(sentence, "Telegram message", has_attachments=False,
                             threshold=0.5)
        assert [i.name for i in meaning.intents] == [right], sentence
    data = [b.callback_data for row in privacy_keyboard().inline_keyboard for b in row]
    assert data == [f"right:{r}" for r in RIGHTS]


# ------------------------------------------------------------------------ outbound


def _outbox_raw(app: App, attachments: tuple[FileAttachment, ...] = ()) -> bytes:
    rendered = Rendered(subject="Re: Telegram message [SP-REQ-000001]",
                        text="Hello,\n\nyour data is attached.\n", html="<p>Hello</p>",
                        language="en")
    msg = compose(app, to="1001@telegram.invalid", rendered=rendered, threading=Threading(),
                  now=WHEN, attachments=attachments)
    return msg.as_bytes(policy=WIRE_POLICY)  # what the outbox row stores (CRLF)


def test_outbox_row_becomes_plain_text_and_documents(app: App) -> None:
    zip_file = FileAttachment("export.zip", b"PK\x03\x04binary", "application/zip")
    out = from_rfc822(_outbox_raw(app, (zip_file,)))
    assert out.text == "Hello,\n\nyour data is attached."
    assert out.subject == "Re: Telegram message [SP-REQ-000001]"
    assert [(f.filename, f.data, f.content_type) for f in out.files] == [
        ("export.zip", b"PK\x03\x04binary", "application/zip")]


def test_long_text_is_split_at_line_breaks() -> None:
    text = "\n".join(f"line {n:04d} " + "x" * 80 for n in range(200))
    chunks = split_text(text, limit=4096)
    assert len(chunks) > 1 and all(len(c) <= 4096 for c in chunks)
    assert "\n".join(chunks) == text
    assert split_text("") == ["-"]
    assert split_text("y" * 9000, limit=4096) == ["y" * 4096, "y" * 4096, "y" * 808]


def test_oversized_documents() -> None:
    files = [ChatFile("a", b"12345"), ChatFile("b", b"1")]
    assert [f.filename for f in oversized(files, limit=3)] == ["a"]


def _row(raw: bytes, to: str, purpose: str = "export_ready") -> models.Outbox:
    return models.Outbox(idempotency_key="k", purpose=purpose, to_addr=to, message_id="<m@x>",
                         raw=raw, next_attempt_at=WHEN, created_at=WHEN)


def test_transport_refuses_documents_over_the_bot_api_limit(app: App) -> None:
    transport = TelegramTransport(SimpleNamespace(app=app, loop=None, ptb=None))  # type: ignore[arg-type]
    transport.document_limit = 4
    raw = _outbox_raw(app, (FileAttachment("export.zip", b"123456789", "application/zip"),))
    with pytest.raises(PermanentFailure, match="over the Bot API limit"):
        transport.send(_row(raw, "1001@telegram.invalid"))


def test_transport_refuses_a_staff_chat_that_is_not_configured(app: App) -> None:
    transport = TelegramTransport(SimpleNamespace(app=app, loop=None, ptb=None))  # type: ignore[arg-type]
    with pytest.raises(PermanentFailure, match="staff chat"):
        transport.send(_row(_outbox_raw(app), "staff-100@telegram.invalid", "staff_escalation"))


def test_transport_without_a_running_channel_asks_for_a_retry(app: App) -> None:
    transport = TelegramTransport(SimpleNamespace(app=app, loop=None, ptb=None))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not running"):
        transport.send(_row(_outbox_raw(app), "1001@telegram.invalid"))


# ------------------------------------------------------------------------ commands, chats


def test_parse_command() -> None:
    assert parse_command("/link@stelloloxon_bot  Jane@Example.com ") == ("link",
                                                                         "Jane@Example.com")
    assert parse_command("/START") == ("start", "")


def _message(chat_type: str = "private", **extra: object) -> Message:
    data = {"message_id": 1, "date": 1764061200, "text": "hi",
            "chat": {"id": 1001 if chat_type == "private" else -5, "type": chat_type},
            "from": {"id": 1001, "is_bot": False, "first_name": "J"}, **extra}
    return Message.de_json(data, None)  # type: ignore[arg-type, return-value]


def test_only_private_first_hand_messages_are_the_client() -> None:
    assert not_the_client(_message()) is None
    assert not_the_client(_message("group")) == "group chat"
    assert not_the_client(_message("supergroup")) == "supergroup chat"
    assert not_the_client(_message("channel")) == "channel chat"
    forwarded = _message(forward_origin={"type": "hidden_user", "date": 1764061000,
                                         "sender_user_name": "X"})
    assert not_the_client(forwarded) == "forwarded message"
    bot = _message(**{"from": {"id": 9, "is_bot": True, "first_name": "B"}})
    assert not_the_client(bot) == "not from a person"


# ------------------------------------------------------------------------ staff buttons


def test_staff_callback_data() -> None:
    data = [b.callback_data for b in staff.keyboard("SP-REQ-000123").inline_keyboard[0]]
    assert data == ["staff:approve:SP-REQ-000123", "staff:deny:SP-REQ-000123",
                    "staff:extend:SP-REQ-000123", "staff:take:SP-REQ-000123"]
    assert all(len(str(d).encode()) <= 64 for d in data)  # the Bot API limit
    assert staff.parse_data("staff:approve:sp-req-000123") == ("approve", "SP-REQ-000123")
    assert staff.parse_data("staff:delete_all:SP-REQ-000123") is None
    assert staff.parse_data("right:access") is None
    assert staff.ref_in("[SP-REQ-000123] Needs staff", "SP-REQ") == "SP-REQ-000123"


def test_only_configured_staff_in_the_staff_chat_are_allowed(make_app: object) -> None:
    app = make_app(telegram_staff_chat_id=-100, telegram_staff_user_ids=[7])  # type: ignore[operator]
    assert staff.allowed(app, -100, 7)
    assert not staff.allowed(app, -100, 8)
    assert not staff.allowed(app, 7, 7)


# ------------------------------------------------------------------------ linking rules


def _codes(app: App) -> list[models.VerificationCode]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.VerificationCode)))


def _queued(app: App) -> list[models.Outbox]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.Outbox)))


def test_link_sends_a_code_only_to_an_address_on_file(app: App) -> None:
    seed_demo(app)
    assert link.start_link(app, 1001, "Jane@Example.com") == "requested"
    assert link.start_link(app, 2002, "nobody@example.com") == "requested"
    [code] = _codes(app)
    assert code.sent_to == "jane@example.com" and code.channel == "chat"
    assert [(r.to_addr, r.purpose) for r in _queued(app)] == [("jane@example.com",
                                                               "link_code")]


def test_link_codes_are_capped_per_day(app: App) -> None:
    seed_demo(app)
    for _ in range(5):
        link.start_link(app, 1001, "jane@example.com")
    assert len(_codes(app)) == app.settings.telegram_link_codes_per_day
    assert [c.status for c in _codes(app)].count("active") <= 1


def test_plain_text_during_linking_goes_to_the_pipeline(app: App) -> None:
    seed_demo(app)
    link.start_link(app, 1001, "jane@example.com")
    assert link.on_text(app, 1001, "What is the status of my project?") is None
    assert link.on_text(app, 2002, "ABCD-EFGH") is None  # nothing in progress for this chat


def test_unanswered_links_are_swept_after_the_code_time(app: App, clock: FrozenClock) -> None:
    seed_demo(app)
    link.start_link(app, 1001, "jane@example.com")
    assert link.sweep_expired(app) == 0
    clock.advance(minutes=16)
    assert link.sweep_expired(app) == 1
    assert link.on_text(app, 1001, "ABCD-EFGH") is None
    assert link.open_cases(app, 1001) is None  # still not linked
