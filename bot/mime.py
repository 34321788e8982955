"""Robust parsing of raw RFC 5322 messages into a flat, safe :class:`ParsedMessage`.

Everything here is defensive: real mail has broken MIME, lying charsets and malformed
headers. Problems are recorded in ``ParsedMessage.defects``; only a message that is not
mail at all raises :class:`MessageParseError`.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape as _html_unescape
from pathlib import PurePosixPath

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, Tag
from bs4 import ProcessingInstruction as _PI

from bot.mailpolicy import READ_POLICY
from storage.files import StoredFile

__all__ = [
    "Attachment",
    "MessageParseError",
    "ParsedMessage",
    "html_to_text",
    "parse_message",
    "strip_quotes_and_signature",
]

_MAX_DEPTH = 40
_MAX_FILENAME = 200
_KNOWN_HEADERS = frozenset(
    [
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "received",
        "return-path",
        "delivered-to",
        "mime-version",
        "content-type",
        "sender",
        "reply-to",
        "in-reply-to",
        "references",
        "x-mailer",
        "user-agent",
        "list-id",
        "auto-submitted",
        "resent-from",
        "content-transfer-encoding",
        "x-original-to",
        "envelope-to",
    ]
)


class MessageParseError(Exception):
    """The input is not a usable mail message (empty, no headers, not mail)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    data: bytes
    too_large: bool = False
    stored: StoredFile | None = None  # large attachments of spooled mail: already in the store


@dataclass
class ParsedMessage:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_addr: str
    from_name: str
    reply_to: str
    to_addrs: list[str]
    date: datetime | None
    headers: dict[str, list[str]]
    text: str
    new_text: str
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    is_multipart: bool = False
    header_order: list[str] = field(default_factory=list)  # lower-cased names, top first


# --------------------------------------------------------------------------- bytes -> str


_ASCII_CHARSETS = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968", "us", "646"})
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "x-sjis": "shift_jis",
    "windows-874": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-roman": "mac_roman",
}


def _decode_bytes(data: bytes, charset: str | None, where: str, defects: list[str]) -> str:
    """Decode with the declared charset, then UTF-8, then a lossy fallback; never raises."""
    declared = (charset or "").strip().strip('"').lower()
    declared = "" if declared in _ASCII_CHARSETS else _CHARSET_ALIASES.get(declared, declared)
    for codec in dict.fromkeys(c for c in (declared, "utf-8") if c):
        try:
            return data.decode(codec)
        except LookupError:
            defects.append(f"{where}: unknown charset {declared!r}")
        except (UnicodeError, ValueError):
            continue
    if declared not in ("", "utf-8", "utf8"):  # e.g. one bad byte in shift_jis text
        try:
            text = data.decode(declared, errors="replace")
        except (LookupError, UnicodeError, ValueError):
            pass
        else:
            defects.append(f"{where}: invalid {declared} bytes replaced")
            return text
    defects.append(f"{where}: undecodable text decoded as windows-1252")
    return data.decode("cp1252", errors="replace")


# ------------------------------------------------------------------------------ headers


_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
_MSGID_RE = re.compile(r"<[^<>\s]+>")
_WS_RE = re.compile(r"\s+")


def _unsurrogate(value: str, hint: str | None = None) -> str:
    """Turn surrogate-escaped raw bytes (8-bit headers) back into readable text."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    for codec in ("utf-8", _CHARSET_ALIASES.get(hint or "", hint)):
        if codec:
            try:
                return raw.decode(codec)
            except (LookupError, UnicodeError, ValueError):
                continue
    return raw.decode("cp1252", errors="replace")


def _decode_header(name: str, raw: object, hint: str | None = None) -> str:
    """Decode one header value (RFC 2047, RFC 6532); falls back to the raw string.

    Raw 8-bit bytes are read as UTF-8, else in the body's declared charset (``hint``).
    """
    value = _unsurrogate(_FOLD_RE.sub("", str(raw)), hint).replace("\r", "").replace("\n", " ")
    try:
        return str(READ_POLICY.header_factory(name, value))
    except Exception:
        pass
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def _collect_headers(msg: Message) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    try:
        hint = msg.get_content_charset()
    except Exception:
        hint = None
    for name, raw in msg.raw_items():
        key = _unsurrogate(str(name)).strip().lower()
        headers.setdefault(key, []).append(_decode_header(key, raw, hint))
    return headers


def _decode_words(text: str) -> str:
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(display name, lowercased addr-spec) pairs; malformed entries are dropped."""
    try:
        pairs = getaddresses(values)
    except Exception:
        return []
    result = []
    for name, addr in pairs:
        addr = addr.strip().lower()
        if addr and not _WS_RE.search(addr):
            result.append((_decode_words(name).strip(), addr))
    return result


def _message_ids(values: list[str]) -> list[str]:
    return [mid for value in values for mid in _MSGID_RE.findall(value)]


def _message_id(values: list[str]) -> str | None:
    if not values:
        return None
    ids = _message_ids(values[:1])
    if ids:
        return ids[0]
    bare = values[0].strip()
    return f"<{bare}>" if bare and not _WS_RE.search(bare) else None


def _parse_date(values: list[str], defects: list[str]) -> datetime | None:
    if not values:
        return None
    try:
        parsed = parsedate_to_datetime(values[0])
    except Exception:
        defects.append(f"unparseable Date header {values[0][:60]!r}")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        defects.append(f"Date header out of range {values[0][:60]!r}")
        return None


# ------------------------------------------------------------------------------ MIME walk


@dataclass
class _Walk:
    max_attachment_bytes: int | None
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    counter: int = 0

    def where(self) -> str:
        self.counter += 1
        return f"part {self.counter}"


def _safe_content_type(part: Message, where: str, defects: list[str]) -> str:
    try:
        return part.get_content_type().lower()
    except Exception as exc:
        defects.append(f"{where}: bad Content-Type ({type(exc).__name__})")
        return "application/octet-stream"


def _safe_param(part: Message, getter: str, where: str, defects: list[str]) -> str | None:
    try:
        value = getattr(part, getter)()
    except Exception as exc:
        defects.append(f"{where}: bad {getter[4:]} parameter ({type(exc).__name__})")
        return None
    return _decode_words(str(value)) if value is not None else None


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _payload_bytes(part: Message, where: str, defects: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"{where}: undecodable payload ({type(exc).__name__})")
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _message_bytes(msg: Message) -> bytes:
    for pol in (policy.default, policy.compat32):
        try:
            return msg.as_bytes(policy=pol)
        except Exception:
            continue
    try:
        return str(msg).encode("utf-8", "surrogateescape")
    except Exception:
        return b""


def _embedded_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list):
        return b"\n".join(_message_bytes(sub) for sub in payload if isinstance(sub, Message))
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return payload if isinstance(payload, bytes) else b""


def safe_filename(name: str | None, index: int) -> str:
    """Basename only, no control/format characters, at most 200 characters."""
    cleaned = "".join(ch for ch in (name or "") if unicodedata.category(ch)[0] != "C").replace(
        "\\", "/"
    )
    cleaned = PurePosixPath(cleaned).name.strip() if "/" in cleaned else cleaned.strip()
    cleaned = cleaned.lstrip(".").strip()
    if not cleaned:
        return f"attachment-{index}.bin"
    if len(cleaned) > _MAX_FILENAME:
        stem, dot, ext = cleaned.rpartition(".")
        ext = ext[:20] if dot and stem else ""
        keep = _MAX_FILENAME - (len(ext) + 1 if ext else 0)
        cleaned = (stem if ext else cleaned)[:keep] + (f".{ext}" if ext else "")
    return cleaned


def _add_attachment(
    walk: _Walk, name: str | None, ctype: str, data: bytes, default: str | None = None
) -> None:
    index = len(walk.attachments) + 1
    filename = safe_filename(name, index) if name or not default else default
    limit = walk.max_attachment_bytes
    if limit is not None and len(data) > limit:
        walk.defects.append(f"attachment {filename} too large ({len(data)} bytes)")
        walk.attachments.append(Attachment(filename, ctype, len(data), b"", too_large=True))
        return
    walk.attachments.append(Attachment(filename, ctype, len(data), data))


def _is_attachment(ctype: str, disposition: str, filename: str | None) -> bool:
    if ctype not in ("text/plain", "text/html"):
        return True
    return disposition == "attachment" or (bool(filename) and disposition != "inline")


def _walk(part: Message, walk: _Walk, depth: int = 0) -> None:
    where = walk.where()
    for defect in getattr(part, "defects", ()):
        walk.defects.append(f"{where}: {type(defect).__name__}")
    if depth > _MAX_DEPTH:
        walk.defects.append(f"{where}: nesting deeper than {_MAX_DEPTH}, ignored")
        return
    ctype = _safe_content_type(part, where, walk.defects)
    if ctype.startswith("multipart/"):
        _walk_multipart(part, ctype, walk, depth, where)
    elif ctype.startswith("message/"):
        name = _safe_param(part, "get_filename", where, walk.defects)
        default = "forwarded.eml" if ctype == "message/rfc822" else None
        _add_attachment(walk, name, ctype, _embedded_bytes(part), default)
    else:
        _walk_leaf(part, ctype, walk, where)


def _walk_multipart(part: Message, ctype: str, walk: _Walk, depth: int, where: str) -> None:
    children = part.get_payload()
    if not isinstance(children, list):
        walk.defects.append(f"{where}: {ctype} without usable boundary, read as text")
        text = _decode_bytes(_payload_bytes(part, where, walk.defects), None, where, walk.defects)
        walk.plain.append(text)
        return
    if ctype != "multipart/alternative":
        for child in children:
            _walk(child, walk, depth + 1)
        return
    _walk_alternative(children, walk, depth)


def _walk_alternative(children: list[Message], walk: _Walk, depth: int) -> None:
    """Keep one alternative: the first carrying plain text, else the last with HTML."""
    chosen: _Walk | None = None
    for child in children:
        sub = _Walk(walk.max_attachment_bytes, counter=walk.counter)
        _walk(child, sub, depth + 1)
        walk.counter = sub.counter
        walk.attachments.extend(sub.attachments)
        walk.defects.extend(sub.defects)
        if any(t.strip() for t in sub.plain):
            chosen = sub
            break
        if any(t.strip() for t in sub.html):
            chosen = sub
    if chosen is not None:
        walk.plain.extend(chosen.plain)
        walk.html.extend(chosen.html)


def _walk_leaf(part: Message, ctype: str, walk: _Walk, where: str) -> None:
    filename = _safe_param(part, "get_filename", where, walk.defects)
    data = _payload_bytes(part, where, walk.defects)
    if _is_attachment(ctype, _disposition(part), filename):
        _add_attachment(walk, filename, ctype, data)
        return
    charset = _safe_param(part, "get_content_charset", where, walk.defects)
    text = _decode_bytes(data, charset, where, walk.defects)
    (walk.plain if ctype == "text/plain" else walk.html).append(text)


# ---------------------------------------------------------------------------- HTML -> text


_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript", "xml"})
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre", "dl", "hr"}
)
_LINE_TAGS = frozenset(
    {"div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "address"}
    | {"center", "form", "fieldset", "body", "html", "main", "nav", "aside", "figure"}
)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_SPACES_RE = re.compile(r"[ \t\f\v\u00a0\u200b]+")
_BLANKS_RE = re.compile(r"\n{3,}")


class _Writer:
    """Text sink where block elements ask for line breaks that do not pile up."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.newlines = 2  # start of document counts as a fresh paragraph

    def text(self, value: str) -> None:
        if not value:
            return
        self.parts.append(value)
        stripped = value.rstrip(" \t")
        if stripped:
            trailing = len(stripped) - len(stripped.rstrip("\n"))
            self.newlines = trailing if trailing < len(stripped) else self.newlines + trailing

    def breaks(self, count: int) -> None:
        if self.newlines < count:
            self.text("\n" * (count - self.newlines))

    def result(self) -> str:
        return "".join(self.parts)


def _render(node: Tag, out: _Writer, in_pre: bool = False) -> None:
    for child in node.children:
        if isinstance(child, Comment | Declaration | Doctype | _PI):
            continue
        if isinstance(child, NavigableString):
            out.text(str(child) if in_pre else _WS_RE.sub(" ", str(child)))
        elif isinstance(child, Tag):
            _render_tag(child, (child.name or "").lower(), out, in_pre)


def _render_tag(tag: Tag, name: str, out: _Writer, in_pre: bool) -> None:
    if name in _SKIP_TAGS:
        return
    if name == "br":
        out.text("\n")
        return
    if name == "blockquote":
        inner = _Writer()
        _render(tag, inner, in_pre)
        quoted = _tidy_text(inner.result()).split("\n")
        out.breaks(1)
        out.text("\n".join(f"> {line}".rstrip() for line in quoted) + "\n")
        return
    gap = 2 if name in _PARAGRAPH_TAGS else 1 if name in _LINE_TAGS else 0
    out.breaks(gap)
    if name == "td":
        out.text(" ")
    _render(tag, out, in_pre or name == "pre")
    out.breaks(gap)


def _tidy_text(text: str) -> str:
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS_RE.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Readable plain text from HTML; <blockquote> content becomes "> " quoted lines."""
    if "<" not in html:  # also avoids bs4's MarkupResemblesLocatorWarning
        return _tidy_text(_html_unescape(html))
    html = _XML_DECL_RE.sub("", html)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(html, "html.parser")
        out = _Writer()
        _render(soup, out)
        return _tidy_text(out.result())
    except RecursionError:
        return _tidy_text(soup.get_text("\n"))


# -------------------------------------------------------------- quotes and signatures


_QUOTED_RE = re.compile(r"^\s*>(?!:)")  # ">:" ends a wrapped "...<a@b\n>:" attribution
_SEPARATOR_RE = re.compile(
    r"^\s*[-_=*]{2,}\s*(original message|ursprüngliche nachricht|originalnachricht|"
    r"message d'origine|mensaje original|messaggio originale|mensagem original|"
    r"oorspronkelijk bericht|originalmeddelande|oprindelig meddelelse|oprindelig besked|"
    r"opprinnelig melding|ursprungligt meddelande|"
    r"alkuperäinen viesti|исходное сообщение|wiadomość oryginalna|"
    r"forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|"
    r"messaggio inoltrato|mensagem encaminhada|doorgestuurd bericht)\s*[-_=*]{2,}\s*$",
    re.IGNORECASE,
)
_FORWARD_INTRO_RE = re.compile(
    r"^\s*(begin forwarded message|anfang der weitergeleiteten nachricht|"
    r"début du message réexpédié|inicio del mensaje reenviado)\s*:\s*$",
    re.IGNORECASE,
)
_DIGIT_RE = re.compile(r"\d")
_ATTRIBUTION_PREFIX_RE = re.compile(
    r"^\s*(on|am|le|el|il|em|no dia|op|den|på|w dniu|\d)", re.IGNORECASE
)
_ATTRIBUTION_VERB_RE = re.compile(
    r"\b(wrote|writes|schrieb|a écrit|escribió|ha scritto|scrisse|escreveu|schreef|skrev|"
    r"kirjoitti|írta|napisał|napisała|написал|написала)\b",
    re.IGNORECASE,
)
_DATED_ADDRESS_RE = re.compile(r"\d.*<\s*[^<>@\s]+@[^<>\s]+\s*>\s*:$")  # "30.09.2017, X <a@b>:"
_TRAILING_VERB_RE = re.compile(r"\b(wrote|schrieb|skrev|schreef)$", re.IGNORECASE)
_FROM_LINE_RE = re.compile(
    r"^\s*\*?(from|von|de|da|van|fra|från|od|от|lähettäjä|message du)\s*\*?\s*:", re.IGNORECASE
)
_HEADER_LINE_RE = re.compile(
    r"^\s*\*?(sent|date|to|cc|subject|gesendet|datum|an|betreff|envoyé|objet|à|para|enviado|"
    r"fecha|asunto|inviato|data|oggetto|a|assunto|verzonden|aan|onderwerp|sendt|emne|til|"
    r"skickat|ämne|till|kopie|copie à|sujet|reply-to|кому|отправлено|тема|дата|копия)\s*\*?\s*:",
    re.IGNORECASE,
)
_SIG_DASH_RE = re.compile(r"^-- ?$")
_SIG_UNDERSCORE_RE = re.compile(r"^\s*_{10,}\s*$")
_MOBILE_SIG_RE = re.compile(
    r"^\s*(sent from|sent with|sent via|"
    r"get outlook for|gesendet von meinem|gesendet mit|gesendet von|von meinem .{1,30} gesendet|"
    r"envoyé de mon|envoyé depuis|enviado desde mi|enviado desde|enviado do meu|enviado de meu|"
    r"envoyé à partir de|inviato da|verzonden (vanaf|met) mijn|verstuurd vanaf mijn)\b"
    r"[\w .'’()-]{0,40}(<https?://[^>\s]+>)?$",
    re.IGNORECASE,
)
_DASH_NAME_SIG_RE = re.compile(r"^-\w[\w.'’ -]{0,40}$")
_RULE_LINE_RE = re.compile(r"^\s*[-_=*~]{3,}\s*$")


def _is_attribution(text: str) -> bool:
    if _DATED_ADDRESS_RE.search(text):
        return True
    if text.endswith(":"):
        return bool(_ATTRIBUTION_VERB_RE.search(text))
    # "---- On Wed, 24 Feb 2021 john@example.com wrote ----" (no colon)
    return bool(_TRAILING_VERB_RE.search(text) and _DIGIT_RE.search(text) and "@" in text)


def _attribution_length(lines: list[str], start: int) -> int:
    """Lines (1-3) forming an "On <date>, <who> wrote:" style header at start, else 0."""
    if _QUOTED_RE.match(lines[start]) or not lines[start].strip():
        return 0
    first = lines[start]
    if not (_ATTRIBUTION_PREFIX_RE.match(first) or "@" in first or _DIGIT_RE.search(first)):
        return 0
    joined = ""
    for count in range(1, 4):
        index = start + count - 1
        if index >= len(lines) or not lines[index].strip() or _QUOTED_RE.match(lines[index]):
            return 0
        joined = f"{joined} {lines[index].strip()}".strip()
        if len(joined) > 400:
            return 0
        if _is_attribution(joined.strip(" -")):
            return count
    return 0


def _header_block_length(lines: list[str], start: int) -> int:
    """Length of an Outlook-style "From: / Sent: / To:" block starting at start, else 0."""
    if not (_FROM_LINE_RE.match(lines[start]) or _HEADER_LINE_RE.match(lines[start])):
        return 0
    window = lines[start : start + 6]
    senders = sum(1 for line in window if _FROM_LINE_RE.match(line))
    if not senders or senders + sum(1 for line in window if _HEADER_LINE_RE.match(line)) < 3:
        return 0
    end = start + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    return end - start


def _find_quote_header(lines: list[str]) -> tuple[int, int] | None:
    """(index, length in lines) of the first reply/forward header in lines."""
    for index, line in enumerate(lines):
        if _QUOTED_RE.match(line):
            continue
        if _SEPARATOR_RE.match(line) or _FORWARD_INTRO_RE.match(line):
            block = _header_block_length(lines, index + 1) if index + 1 < len(lines) else 0
            return index, 1 + block
        length = _attribution_length(lines, index) or _header_block_length(lines, index)
        if length:
            return index, length
    return None


def _drop_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if _SIG_DASH_RE.match(line) or _SIG_UNDERSCORE_RE.match(line):
            lines = lines[:index]
            break
    for index, line in enumerate(lines):
        if _MOBILE_SIG_RE.match(line):
            lines = lines[:index]
            break
    content = [i for i, line in enumerate(lines) if line.strip()]
    last = content[-1] if len(content) > 1 else None
    if last and _DASH_NAME_SIG_RE.match(lines[last].strip()) and not lines[last - 1].strip():
        lines = lines[:last]
    return lines


def _trim_rules(lines: list[str]) -> list[str]:
    while lines and (not lines[-1].strip() or _RULE_LINE_RE.match(lines[-1])):
        lines = lines[:-1]
    return lines


def _strip_lines(lines: list[str], depth: int = 0) -> list[str]:
    found = _find_quote_header(lines)
    if found is not None:
        index, length = found
        before = lines[:index]
        if any(line.strip() for line in before) or depth > 3:
            lines = before
        else:
            rest = lines[index + length :]
            first = next((line for line in rest if line.strip()), "")
            if not _QUOTED_RE.match(first):
                return _strip_lines(rest, depth + 1)  # top-posted forward: keep its body
            lines = rest  # inline reply below an attribution line
    unquoted = [line.rstrip() for line in lines if not _QUOTED_RE.match(line)]
    return _trim_rules(_drop_signature(unquoted))


def strip_quotes_and_signature(text: str) -> str:
    """What the sender wrote now: quoted history, reply headers and signatures removed.

    A message that only forwards something keeps the forwarded body (minus its header
    block); an inline reply keeps the answers between the quotes.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return _BLANKS_RE.sub("\n\n", "\n".join(_strip_lines(lines))).strip()


# ---------------------------------------------------------------------------- entry point


def _prepare(raw: bytes) -> bytes:
    """Drop leading blank lines and obsolete "Name  :" header spacing (RFC 5322 obs-)."""
    raw = raw.lstrip(b" \t\r\n")
    match = re.search(rb"\r?\n\r?\n", raw)
    split = match.start() if match else len(raw)
    head = re.sub(rb"(?m)^([!-9;-~]+)[ \t]+:", rb"\1:", raw[:split])
    return head + raw[split:]


def _check_input(raw: object) -> bytes:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MessageParseError(f"not bytes but {type(raw).__name__}")
    data = bytes(raw)
    if not data.strip():
        raise MessageParseError("empty message")
    return data


def _body_text(walk: _Walk) -> str:
    plain = [t for t in walk.plain if t.strip()]
    if plain:
        return "\n\n".join(t.replace("\r\n", "\n").strip("\n") for t in plain)
    return "\n\n".join(html_to_text(t) for t in walk.html if t.strip())


def _build(msg: Message, max_attachment_bytes: int | None) -> ParsedMessage:
    headers = _collect_headers(msg)
    if not _KNOWN_HEADERS.intersection(headers):
        raise MessageParseError("no mail headers found")
    walk = _Walk(max_attachment_bytes)
    _walk(msg, walk)
    sender = _addresses(headers.get("from", [])[:1])
    reply_to = _addresses(headers.get("reply-to", [])[:1])
    text = _body_text(walk)
    return ParsedMessage(
        message_id=_message_id(headers.get("message-id", [])),
        in_reply_to=_message_ids(headers.get("in-reply-to", [])),
        references=_message_ids(headers.get("references", [])),
        subject=_WS_RE.sub(" ", (headers.get("subject") or [""])[0]).strip(),
        from_addr=sender[0][1] if sender else "",
        from_name=sender[0][0] if sender else "",
        reply_to=reply_to[0][1] if reply_to else "",
        to_addrs=[addr for _name, addr in _addresses(headers.get("to", []))],
        date=_parse_date(headers.get("date", []), walk.defects),
        headers=headers,
        text=text,
        new_text=strip_quotes_and_signature(text),
        attachments=walk.attachments,
        defects=list(dict.fromkeys(walk.defects)),
        is_multipart=msg.is_multipart(),
        header_order=[_unsurrogate(str(name)).strip().lower() for name, _ in msg.raw_items()],
    )


def parse_message(raw: bytes, *, max_attachment_bytes: int | None = None) -> ParsedMessage:
    """Parse raw RFC 5322 bytes. Raises only :class:`MessageParseError`."""
    data = _check_input(raw)
    try:
        msg = BytesParser(policy=READ_POLICY).parsebytes(_prepare(data))
        return _build(msg, max_attachment_bytes)
    except MessageParseError:
        raise
    except Exception as exc:  # last resort: the contract is "never anything else"
        raise MessageParseError(f"parser failure: {type(exc).__name__}: {exc}") from exc
