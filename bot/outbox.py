"""Compose outbound mail and queue it in the outbox table, once per idempotency key.

Queuing happens in the same transaction as the state change that caused it, so a crash either
loses both or keeps both; `bot.channels.outbound` delivers the rows later.
"""

from __future__ import annotations

import binascii
import random
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.policy import Policy
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import quote

from sqlmodel import Session, col, func, select

from bot.batchcache import add_link, batch_cache
from bot.context import App
from bot.identity import channel_of, is_chat_address
from bot.replies import Rendered
from storage import models
from storage.db import IdOf, add_row, audit, collecting

MAX_REFERENCES = 20
# CPython folds some long headers by moving the whole value to a continuation line, which
# readers then show with a leading space; RFC 5322's hard limit (998) avoids that.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)
MAX_LINE = 998  # RFC 5322 / RFC 2045: octets per line, without the CRLF
FOLD_AT = 78  # RFC 5322's recommended header line length
# A message id (or any unbreakable header word) longer than this cannot share a line with its
# field name inside MAX_LINE; such ids are dropped from threading headers.
LONGEST_WORD = 900


@dataclass(frozen=True)
class FileAttachment:
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Threading:
    """Headers that thread a reply under the message it answers."""

    in_reply_to: str | None = None
    references: tuple[str, ...] = ()

    def parent(self) -> str | None:
        """The In-Reply-To id, unless too long to stand on a header line."""
        return _fits(self.in_reply_to) if self.in_reply_to else None

    def reference_chain(self) -> list[str]:
        chain = [r for r in self.references if r and _fits(r)]
        parent = self.parent()
        if parent and parent not in chain:
            chain.append(parent)
        return chain[-MAX_REFERENCES:]


def _fits(message_id: str) -> str | None:
    return message_id if len(message_id) <= LONGEST_WORD else None


def enqueue_email(
    session: Session,
    app: App,
    *,
    to: str,
    rendered: Rendered,
    purpose: str,
    idempotency_key: str,
    case: models.Case | None = None,
    client_id: int | None = None,
    threading: Threading = Threading(),
    essential: bool = True,
    attachments: Sequence[FileAttachment] = (),
    auto_submitted: str = "auto-replied",
    headers: Mapping[str, str] | None = None,
) -> models.Outbox:
    """Queue one message; a second call with the same key returns the first row unchanged."""
    existing = _queued(session, idempotency_key)
    if existing is not None:
        return existing
    now = app.clock.now()
    msg = compose(app, to=to, rendered=rendered, threading=threading, now=now,
                  attachments=attachments, auto_submitted=auto_submitted)
    for name, value in (headers or {}).items():
        msg[name] = value
    row = models.Outbox(
        idempotency_key=idempotency_key,
        case_id=case.id if case else None,
        purpose=purpose,
        to_addr=to,
        message_id=str(msg["Message-ID"]),
        raw=msg.as_bytes(policy=WIRE_POLICY),
        essential=essential,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    if collecting(session):  # a batch's message: the row goes in with its one flush
        cache = batch_cache(session)
        if cache is not None:
            cache.note_outbox(row)
    else:
        session.flush()
    _record_outbound(session, app, row, case, client_id, rendered.subject)
    return row


def _queued(session: Session, idempotency_key: str) -> models.Outbox | None:
    """The row already queued under this key: pending in the session, or stored."""
    for obj in session.new:
        if isinstance(obj, models.Outbox) and obj.idempotency_key == idempotency_key:
            return obj
    with session.no_autoflush:  # pending Outbox rows were looked at above
        return session.exec(
            select(models.Outbox).where(models.Outbox.idempotency_key == idempotency_key)
        ).first()


class Composed:
    """A composed message: its header fields and its finished MIME entity, in wire form.

    Covers what callers used of EmailMessage: ``msg[name]``, ``msg[name] = value`` (appends a
    field, like EmailMessage) and ``as_bytes(policy=WIRE_POLICY)``, the CRLF wire bytes.
    """

    __slots__ = ("_entity", "_fields")

    def __init__(self, fields: Sequence[tuple[str, str]], entity: bytes) -> None:
        self._fields: list[tuple[str, str, str]] = []
        self._entity = entity  # MIME-Version comes before it; Content-* fields open it
        for name, value in fields:
            self[name] = value

    def __setitem__(self, name: str, value: str) -> None:
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        self._fields.append((name, value, _field(name, value)))

    def __getitem__(self, name: str) -> str | None:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower()
        return next((value for field, value, _ in self._fields if field.lower() == key),
                    default)

    def as_bytes(self, policy: Policy | None = None) -> bytes:
        """The message with the policy's line endings: CRLF with WIRE_POLICY, else (like an
        EmailMessage under policy.default) LF. The rest of the form is compose()'s own."""
        head = "".join(line for _, _, line in self._fields) + "MIME-Version: 1.0\r\n"
        raw = head.encode("ascii") + self._entity
        linesep = "\n" if policy is None else policy.linesep
        # every line ending in raw is a CRLF (bodies are normalised), so this is exact
        return raw if linesep == "\r\n" else raw.replace(b"\r\n", linesep.encode("ascii"))


def compose(
    app: App,
    *,
    to: str,
    rendered: Rendered,
    threading: Threading,
    now: datetime,
    attachments: Sequence[FileAttachment] = (),
    auto_submitted: str = "auto-replied",
) -> Composed:
    """Build the message with RFC 3834 and threading headers.

    Written straight to wire bytes: EmailMessage with policy.default parsed every header
    through its registry on set and again on generation, about 3 ms a message, and it runs
    twice per inbound mail (acknowledgement and staff escalation).
    """
    settings = app.settings
    fields = [
        ("From", formataddr((settings.company_name, settings.bot_address))),
        ("To", _address(to)),
        ("Subject", rendered.subject),
        ("Date", format_datetime(now.astimezone(UTC))),
        ("Message-ID", new_message_id(settings.bot_domain)),
    ]
    if parent := threading.parent():
        fields.append(("In-Reply-To", parent))
    if chain := threading.reference_chain():
        fields.append(("References", " ".join(chain)))
    fields += [
        ("Auto-Submitted", auto_submitted),
        ("X-Auto-Response-Suppress", "All"),
        ("X-Loop", settings.bot_address),
        ("Content-Language", rendered.language),
    ]
    entity = _text_entity("plain", rendered.text)
    if rendered.html:
        entity = _multipart("alternative", [entity, _text_entity("html", rendered.html)])
    if attachments:
        entity = _multipart("mixed", [entity, *map(_attachment_entity, attachments)])
    return Composed(fields, entity)


# ------------------------------------------------------------------------ wire encoding

_FIELD_NAME = re.compile(r"[!-9;-~]+")
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_BYTE = tuple(chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}"
                for b in range(256))
_EW_PAYLOAD = 75 - len("=?utf-8?q??=")  # RFC 2047: an encoded word is at most 75 chars
_PARAM_CHUNK = 60  # characters of a filename parameter per header line


def _field(name: str, value: str) -> str:
    """One header field, folded at spaces near FOLD_AT; non-ASCII words RFC 2047 encoded.

    The value always starts on the field's own line (folding never moves it whole to a
    continuation line), and no line exceeds MAX_LINE.
    """
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name!r} value contains a line break")
    if value.isascii() and len(name) + len(value) + 2 <= FOLD_AT:
        return f"{name}: {value}\r\n"
    words = _words(value)
    lines: list[str] = []
    line = f"{name}: {words[0]}"
    for word in words[1:]:
        if word and len(line) + 1 + len(word) > FOLD_AT:
            lines.append(line)
            line = " " + word
        else:
            line += " " + word
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _words(value: str) -> list[str]:
    """The value split at spaces, runs of words that need it replaced by encoded words.

    Spaces inside a run go into the encoded text, since readers drop the whitespace between
    two encoded words.
    """
    tokens = value.split(" ")
    if value.isascii() and max(map(len, tokens)) <= LONGEST_WORD:
        return tokens
    words: list[str] = []
    run: list[str] = []
    for token in [*tokens, None]:
        if token is None or (token and token.isascii() and "=?" not in token
                             and len(token) <= LONGEST_WORD):
            if any(run):
                words += _encoded_words(" ".join(run))
            else:  # only empty tokens: extra spaces between plain words
                words += run
            run = []
            if token is not None:
                words.append(token)
        else:
            run.append(token)
    return words


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 Q-encoded UTF-8 words, split between characters."""
    encoded = ("".join([_Q_BYTE[b] for b in char.encode("utf-8", "replace")]) for char in text)
    return [f"=?utf-8?q?{chunk}?=" for chunk in _pack(encoded, _EW_PAYLOAD)]


def _pack(pieces: Iterable[str], limit: int) -> list[str]:
    """Join the pieces into chunks of at most `limit` characters, never splitting a piece."""
    chunks: list[str] = []
    chunk = ""
    for piece in pieces:
        if chunk and len(chunk) + len(piece) > limit:
            chunks.append(chunk)
            chunk = ""
        chunk += piece
    if chunk:
        chunks.append(chunk)
    return chunks


def _address(value: str) -> str:
    """A To value in 7-bit form: a non-ASCII display name encoded, the address kept."""
    if value.isascii():
        return value
    name, addr = parseaddr(value)
    if addr and addr.isascii():
        return formataddr((name, addr))
    return value  # a non-ASCII mailbox has no 7-bit form; it is encoded like text


def _entity(fields: Sequence[tuple[str, str]], body: bytes) -> bytes:
    head = "".join(_field(name, value) for name, value in fields) + "\r\n"
    return head.encode("ascii") + body


def _crlf_lines(data: bytes) -> tuple[bytes, int]:
    """The data with CRLF line endings (and a final one), and its longest line."""
    lines = data.splitlines()
    return b"\r\n".join(lines) + b"\r\n", max(map(len, lines), default=0)


def _text_entity(subtype: str, text: str) -> bytes:
    """UTF-8 text, 7bit/8bit as written; quoted-printable only where 8bit is not allowed."""
    body, longest = _crlf_lines(text.encode("utf-8", "replace"))
    if longest > MAX_LINE or b"\0" in body:
        cte, body = "quoted-printable", binascii.b2a_qp(body)
    else:
        cte = "7bit" if body.isascii() else "8bit"
    return _entity([("Content-Type", f'text/{subtype}; charset="utf-8"'),
                    ("Content-Transfer-Encoding", cte)], body)


def _attachment_entity(item: FileAttachment) -> bytes:
    disposition = "attachment"
    if item.filename:
        disposition += "; " + _filename_param(item.filename)
    content_type = item.content_type.strip().lower()
    if content_type == "message/rfc822" and (message := _embeddable(item.data)) is not None:
        return _entity([("Content-Type", content_type),
                        ("Content-Transfer-Encoding", "7bit" if message.isascii() else "8bit"),
                        ("Content-Disposition", disposition)], message)
    if not _MIME_TYPE.fullmatch(content_type) \
            or content_type.startswith(("multipart/", "message/")):
        content_type = "application/octet-stream"  # composites cannot be base64 (RFC 2046)
    encoded = binascii.b2a_base64(item.data, newline=False)
    body = b"".join(encoded[i:i + 76] + b"\r\n" for i in range(0, len(encoded), 76))
    return _entity([("Content-Type", content_type), ("Content-Transfer-Encoding", "base64"),
                    ("Content-Disposition", disposition)], body)


def _embeddable(data: bytes) -> bytes | None:
    """The original mail as a message/rfc822 body (CRLF), or None if 8bit cannot carry it.

    message/rfc822 allows only 7bit/8bit/binary (RFC 2046 5.2.1), so something that is not
    mail, or has NULs or over-long lines, goes as a base64 application/octet-stream instead.
    """
    if b"\0" in data or not _HEADER_LINE.match(data):
        return None
    message, longest = _crlf_lines(data)
    return message if longest <= MAX_LINE else None


def _filename_param(filename: str) -> str:
    """A quoted filename if it is a short plain token, else RFC 2231 (UTF-8, continued)."""
    if (len(filename) <= _PARAM_CHUNK and filename.isascii() and filename.isprintable()
            and not any(c in filename for c in ' "\\')):
        return f'filename="{filename}"'
    chunks = _pack((quote(char, safe="", errors="replace") for char in filename), _PARAM_CHUNK)
    if len(chunks) == 1:
        return f"filename*=utf-8''{chunks[0]}"
    chunks[0] = "utf-8''" + chunks[0]
    return "; ".join(f"filename*{n}*={part}" for n, part in enumerate(chunks))


def _multipart(subtype: str, parts: Sequence[bytes]) -> bytes:
    """A multipart entity; the boundary starts with '=_', which QP and base64 never contain."""
    while True:
        boundary = f"=_sp{random.getrandbits(96):024x}"
        delimiter = b"--" + boundary.encode("ascii")
        if not any(delimiter in part for part in parts):
            break
    body = b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts)
    return _entity([("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')],
                   body + delimiter + b"--\r\n")


def _record_outbound(
    session: Session,
    app: App,
    row: models.Outbox,
    case: models.Case | None,
    client_id: int | None,
    subject: str,
) -> None:
    now = app.clock.now()
    if case is not None:
        add_link(session, case.id, row.message_id, "out")
    if client_id is not None:
        add_row(session, models.Communication,
                client_id=client_id, case_id=case.id if case else None,
                channel=channel_of(row.to_addr),
                direction="out", address=row.to_addr, subject=subject,
                message_id=row.message_id, outbox_id=IdOf(row), occurred_at=now)
    audit(session, "outbox.queued", at=now, case_id=case.id if case else None,
          client_id=client_id, outbox_id=IdOf(row), purpose=row.purpose)


def replies_sent_recently(session: Session, app: App, address: str) -> int:
    """Automatic replies queued to an address inside the rate-limit window."""
    since = app.clock.now() - timedelta(minutes=app.settings.reply_rate_window_minutes)
    cache = batch_cache(session)
    known = cache.replies_since(address, since) if cache else None
    if known is not None:
        return known
    query = select(func.count()).select_from(models.Outbox).where(
        models.Outbox.to_addr == address, models.Outbox.created_at >= since
    )
    return int(session.exec(query).one())


def send_template(
    session: Session,
    app: App,
    *,
    case: models.Case,
    to: str,
    purpose: str,
    key: str,
    threading: Threading = Threading(),
    attachments: Sequence[FileAttachment] = (),
    essential: bool = True,
    subject: str = "",
    keep_record: bool = True,
    **ctx: object,
) -> models.Outbox:
    """Render a client-facing template in the case's language and queue it once per key.

    Without `threading` the mail threads under the requester's last message on the case; the
    subject carries one reply prefix and the case tag once (see tidy_subject).
    keep_record=False skips the client's communications log (e.g. a deletion certificate
    must not re-create personal data about the client it just erased).
    """
    rendered = app.renderer.render(
        purpose, case.language, medium="chat" if is_chat_address(to) else "email",
        case=case, company=app.settings.company_name,
        bot_address=app.settings.bot_address, response_days=app.settings.response_days,
        re_subject=subject or reply_subject(case.subject), **ctx,
    )
    rendered = replace(rendered, subject=tidy_subject(rendered.subject, case.ref))
    if threading == Threading():
        threading = case_threading(session, case)
    return enqueue_email(
        session, app, to=to, rendered=rendered, purpose=purpose, idempotency_key=key,
        case=case, client_id=case.client_id if keep_record else None, threading=threading,
        attachments=attachments, essential=essential,
    )


def new_message_id(domain: str) -> str:
    """128 random bits: a reply that cites it proves its sender received our mail (CANCEL and
    NOT ME count only then), so it must not be guessable like make_msgid's."""
    return f"<{secrets.token_urlsafe(16)}.sp@{domain}>"


def case_threading(session: Session, case: models.Case) -> Threading:
    """Thread a mail to the requester under the last message they sent on the case."""
    query = (select(models.CaseMessageId)
             .where(models.CaseMessageId.case_id == case.id)
             .order_by(col(models.CaseMessageId.id)))
    rows = list(session.exec(query))
    inbound = [r.message_id for r in rows if r.direction == "in"]
    return Threading(in_reply_to=inbound[-1] if inbound else None,
                     references=tuple(r.message_id for r in rows))


# Reply prefixes mail clients add (en, de, nl, sv/da/no, it, pl, fi, hr), also "Re[2]:".
_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|aw|antw|sv|r|rif|odp|vs|odg)\s*(?:\[\d+\])?\s*:\s*)+",
                           re.IGNORECASE)
_FIRST_PREFIX = re.compile(r"\s*([a-z]+)", re.IGNORECASE)


def reply_subject(subject: str) -> str:
    """'Re: <subject>' with one prefix however many the client's mail program stacked; a
    client's own single prefix ('AW: Frage') is kept as written."""
    subject = " ".join(subject.split())
    if not subject:
        return ""
    stacked = _REPLY_PREFIX.match(subject)
    first = _FIRST_PREFIX.match(subject).group(1) if stacked else "Re"  # type: ignore[union-attr]
    return f"{first}: {subject[stacked.end():] if stacked else subject}".rstrip()


def tidy_subject(subject: str, ref: str | None) -> str:
    """One reply prefix at the start, and the case tag `[ref]` only where it first appears
    (a client's 'Re: [SP-REQ-000005]' plus the template's own tag gave it twice)."""
    if _REPLY_PREFIX.match(subject):
        subject = reply_subject(subject)
    if ref:
        tag = re.compile(r"\s*\[" + re.escape(ref) + r"\]", re.IGNORECASE)
        matches = list(tag.finditer(subject))
        if len(matches) > 1:
            first = matches[0].end()
            subject = subject[:first] + tag.sub("", subject[first:])
    return " ".join(subject.split())
