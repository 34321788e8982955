"""Telegram <-> RFC 822, as pure functions (no PTB, no database).

A private chat message becomes one inbound mail from `<user id>@telegram.invalid`, so the
pipeline handles it like any other; an outbox row addressed to a chat identity becomes the
text and files the chat shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime

from bot.identity import CHAT_DOMAIN, chat_address
from bot.outbox import WIRE_POLICY, FileAttachment

SUBJECT = "Telegram message"
TEXT_LIMIT = 4096  # Bot API: characters per message
DOCUMENT_LIMIT = 50 * 1024 * 1024  # Bot API: bytes per sendDocument
ChatFile = FileAttachment  # a document in a chat is an attachment in the pipeline


@dataclass(frozen=True)
class ChatMessage:
    """What a client said in a private chat (or a menu button standing for a sentence)."""

    user_id: int
    chat_id: int
    key: str  # the Telegram message id, or "cb<update id>" for a button press
    text: str
    date: datetime
    files: tuple[ChatFile, ...] = ()


@dataclass(frozen=True)
class Outgoing:
    """An outbox row as the chat shows it."""

    subject: str
    text: str
    files: tuple[ChatFile, ...] = ()


def message_id_for(chat_id: int, key: str | int) -> str:
    return f"<tg-{chat_id}-{key}@{CHAT_DOMAIN}>"


def to_rfc822(message: ChatMessage, *, bot_address: str, in_reply_to: str | None) -> bytes:
    """One inbound mail: From the numeric user id, threaded under the bot's last chat reply."""
    mail = EmailMessage(policy=policy.default)
    mail["From"] = chat_address(message.user_id)
    mail["To"] = bot_address
    mail["Subject"] = SUBJECT
    mail["Date"] = format_datetime(_aware(message.date).astimezone(UTC))
    mail["Message-ID"] = message_id_for(message.chat_id, message.key)
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    mail.set_content(message.text or "")
    for item in message.files:
        maintype, _, subtype = item.content_type.partition("/")
        mail.add_attachment(item.data, maintype=maintype or "application",
                            subtype=subtype or "octet-stream", filename=item.filename)
    return mail.as_bytes(policy=WIRE_POLICY)


def from_rfc822(raw: bytes) -> Outgoing:
    """The text/plain body and the attachments of an outbox row."""
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    body = mail.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    text = body.get_content() if body is not None else ""
    text = text.replace("\r\n", "\n")  # the outbox keeps wire bytes (CRLF); chats want \n
    files = tuple(_file(part, n) for n, part in
                  enumerate(mail.iter_attachments(), start=1))  # type: ignore[attr-defined]
    return Outgoing(subject=str(mail.get("Subject", "")), text=text.strip(), files=files)


def _file(part: Message, index: int) -> ChatFile:
    content = part.get_content()  # type: ignore[attr-defined]
    if isinstance(content, str):
        data = content.encode("utf-8")
    elif isinstance(content, bytes):
        data = content
    else:  # an attached message/rfc822
        data = content.as_bytes()
    return ChatFile(part.get_filename() or f"attachment-{index}", data,
                    part.get_content_type())


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Chunks the Bot API accepts, cut at line breaks where possible; never an empty list."""
    chunks: list[str] = []
    rest = text.strip() or "-"
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    chunks.append(rest)
    return chunks


def oversized(files: Sequence[ChatFile], limit: int = DOCUMENT_LIMIT) -> list[ChatFile]:
    return [f for f in files if len(f.data) > limit]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
