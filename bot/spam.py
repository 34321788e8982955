"""Spam: the verdict of the mail system in front of the bot, and optionally a real spamd.

Spam headers are trusted only where our own MX put them. The receiving MX stamps its
Authentication-Results (with an authserv-id listed in `trusted_authserv_ids`) and its filter
headers on top of whatever the message already carried, so a spam header counts only if it
stands *above* the topmost Authentication-Results of a trusted authserv-id. Anything below
came with the message and may have been written by the sender. Without `trusted_authserv_ids`
no header verdict is honoured at all.

SpamAssassin:  X-Spam-Flag: YES, X-Spam-Status: Yes, score=...
rspamd:        X-Spam: Yes, X-Rspamd-Action: reject | add header | rewrite subject,
               X-Spamd-Result: default: True [...]
spamd:         CHECK over TCP (SPAMC/SPAMD 1.5 protocol), when `spamd_host` is set.
"""

from __future__ import annotations

import logging
import re
import socket
from dataclasses import dataclass

from sqlmodel import Session

from bot.context import App
from bot.mime import ParsedMessage
from bot.staff import notify_spam_privacy
from bot.understand import PRIVACY_INTENTS, understand
from storage import models

log = logging.getLogger(__name__)

__all__ = ["RELEASED", "SpamdResult", "ask_spamd", "filter_verdict", "mx_verdict",
           "tell_staff_if_privacy"]

RELEASED = "released by staff: not spam"  # `process ID --not-spam`: spam and robot verdicts ignored
_YES = ("yes", "true")
_RSPAMD_SPAM_ACTIONS = ("reject", "add header", "rewrite subject")


def _authserv_id(value: str) -> str:
    first = value.split(";", 1)[0].strip().lower().split()
    return first[0] if first else ""


def _trusted_top(msg: ParsedMessage, trusted: list[str]) -> int | None:
    """Position of the topmost Authentication-Results header of a trusted authserv-id."""
    wanted = {t.strip().lower() for t in trusted if t.strip()}
    values = iter(msg.headers.get("authentication-results", []))
    for position, name in enumerate(msg.header_order):
        if name == "authentication-results" and _authserv_id(next(values, "")) in wanted:
            return position
    return None


def _header_says_spam(name: str, value: str) -> bool:
    value = " ".join(value.lower().split())
    if name in ("x-spam-flag", "x-spam"):
        return value.split(" ", 1)[0].rstrip(",;") in _YES
    if name == "x-spam-status":
        return re.split(r"[\s,;]", value, maxsplit=1)[0] in _YES
    if name == "x-rspamd-action":
        return value in _RSPAMD_SPAM_ACTIONS
    if name == "x-spamd-result":
        return bool(re.match(r"default:\s*true\b", value))
    return False


def mx_verdict(msg: ParsedMessage, trusted: list[str]) -> str | None:
    """The spam header our trusted MX added, e.g. 'x-spam-flag: yes'; None if none says spam."""
    if not trusted:
        return None
    top = _trusted_top(msg, trusted)
    if top is None:
        return None
    seen: dict[str, int] = {}
    for name in msg.header_order[:top]:
        index = seen.get(name, 0)
        seen[name] = index + 1
        values = msg.headers.get(name, [])
        value = values[index] if index < len(values) else ""
        if _header_says_spam(name, value):
            return f"{name}: {' '.join(value.split())[:60]}"
    return None


# ------------------------------------------------------------------------------- spamd


@dataclass(frozen=True)
class SpamdResult:
    is_spam: bool
    score: float
    threshold: float


_SPAM_LINE_RE = re.compile(
    rb"^Spam:\s*(True|False|Yes|No)\s*;\s*(-?[\d.]+)\s*/\s*(-?[\d.]+)", re.I | re.M)


def ask_spamd(raw: bytes, host: str, port: int, *, timeout: float = 10.0) -> SpamdResult:
    """One CHECK against spamd (SPAMC/SPAMD 1.5). Raises OSError or ValueError on failure."""
    request = (b"CHECK SPAMC/1.5\r\nContent-length: " + str(len(raw)).encode()
               + b"\r\n\r\n" + raw)
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        response = _read_all(conn)
    status = response.split(b"\r\n", 1)[0]
    if not re.match(rb"^SPAMD/\d+\.\d+ 0 ", status):
        raise ValueError(f"spamd answered {status[:80]!r}")
    match = _SPAM_LINE_RE.search(response)
    if match is None:
        raise ValueError("spamd answer without a Spam: line")
    return SpamdResult(is_spam=match.group(1).lower() in (b"true", b"yes"),
                       score=float(match.group(2)), threshold=float(match.group(3)))


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _raw_bytes(app: App, row: models.InboundMessage) -> bytes:
    limit = app.settings.spamd_max_bytes
    if not row.raw_key:
        return row.raw[:limit] if len(row.raw) > limit else row.raw
    with app.files.path(row.raw_key).open("rb") as handle:
        return handle.read(limit)


def filter_verdict(app: App, row: models.InboundMessage) -> str | None:
    """Ask spamd, when configured, about one stored message; a reason if it says spam.

    Fails open: spamd down or confused means "not spam" (logged), never a lost message.
    Mail over `spamd_max_bytes` is judged on its first `spamd_max_bytes` (spamc does the same).
    """
    settings = app.settings
    if not settings.spamd_host or row.channel == "telegram":
        return None
    try:
        result = ask_spamd(_raw_bytes(app, row), settings.spamd_host, settings.spamd_port,
                           timeout=settings.spamd_timeout_seconds)
    except (OSError, ValueError) as exc:
        log.warning("inbound %s: spamd check failed (%s); treated as not spam", row.id,
                    type(exc).__name__)
        return None
    if not result.is_spam:
        return None
    return f"spamd: score {result.score:.1f} / {result.threshold:.1f}"


def privacy_intents(parsed: ParsedMessage, threshold: float) -> list[str]:
    """The privacy rights a message asks for, as the understanding reads it."""
    meaning = understand(parsed.new_text or parsed.text, parsed.subject,
                         has_attachments=bool(parsed.attachments), threshold=threshold)
    # weak guesses (named when nothing is clear) do not count: spam rarely reads as nothing
    return sorted(PRIVACY_INTENTS & {i.name for i in meaning.intents if i.confidence >= threshold})


def tell_staff_if_privacy(session: Session, app: App, row: models.InboundMessage,
                          parsed: ParsedMessage) -> None:
    """A privacy request a filter calls spam is never dropped silently: staff decide."""
    intents = privacy_intents(parsed, app.settings.understanding_threshold)
    if intents:
        notify_spam_privacy(session, app, row, intents)
