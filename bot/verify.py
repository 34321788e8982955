"""Identity verification: one-time codes (who sent a mail is bot.authn's verdict).

A code is random (8 characters from an alphabet without look-alikes, about 40 bits), sent only
to an address already on file, stored as a salted scrypt hash, bound to one case and one
action, expires, allows a few attempts, is single-use, and a new code voids the old one.
With 5 attempts per code and a daily failure cap per client, guessing is hopeless.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from sqlmodel import Session, col, func, select

from bot.context import App
from storage import models
from storage.db import audit

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 8
CHAT_LINK = "chat_link"  # /link codes: 5 tries each, never counted against the client
# exactly as we print it, XXXX-XXXX, standing alone: "requests" or "attached" are not codes
CODE_RE = re.compile(r"(?<![\w-])([" + ALPHABET + r"]{4})-([" + ALPHABET + r"]{4})(?![\w-])",
                     re.I)
NOT_ME_RE = re.compile(r"\b(not me|wasn'?t me|was not me|nicht ich|pas moi|no fui yo)\b", re.I)


class CheckResult(Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"
    USED = "used"
    NO_CODE = "no_code"
    UNTRUSTED = "untrusted"  # too many stray tries: only a reply to the code mail is checked


@dataclass(frozen=True)
class Check:
    result: CheckResult
    attempts_left: int = 0
    code: models.VerificationCode | None = None


def generate_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def _hash(code: str, salt: str) -> str:
    """scrypt, so a leaked table cannot be brute-forced back into ~40-bit codes cheaply."""
    normalised = code.replace("-", "").replace(" ", "").upper()
    return hashlib.scrypt(normalised.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1,
                          dklen=32).hex()


def burn_hash() -> None:
    """One code hash's worth of work, spent where no code exists (equal timing)."""
    _hash(generate_code(), secrets.token_hex(16))


def issue_code(
    session: Session,
    app: App,
    case: models.Case,
    *,
    action: str,
    sent_to: str,
    channel: str = "email",
) -> str:
    """Void the case's active codes and create a new one; returns the plain code (not stored)."""
    now = app.clock.now()
    void_codes(session, case.id)
    code, salt = generate_code(), secrets.token_hex(16)
    ttl = (timedelta(hours=app.settings.code_ttl_email_hours) if channel == "email"
           else timedelta(minutes=app.settings.code_ttl_chat_minutes))
    row = models.VerificationCode(
        case_id=case.id, client_id=case.client_id, action=action, channel=channel,
        sent_to=sent_to, salt=salt, code_hash=_hash(code, salt), created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    audit(session, "verify.code_issued", at=now, case_id=case.id, client_id=case.client_id,
          code_id=row.id, action=action, channel=channel)
    return code


def codes_issued(session: Session, case_id: int | None) -> int:
    query = select(func.count()).select_from(models.VerificationCode).where(
        models.VerificationCode.case_id == case_id)
    return int(session.exec(query).one())


def void_codes(session: Session, case_id: int | None) -> None:
    """Make every live code of the case unusable (a new code, a cancelled request)."""
    for code in active_codes(session, case_id):
        code.status = "voided"
        session.add(code)


def active_codes(session: Session, case_id: int | None) -> list[models.VerificationCode]:
    query = select(models.VerificationCode).where(
        models.VerificationCode.case_id == case_id, models.VerificationCode.status == "active")
    return list(session.exec(query))


def check_code(session: Session, app: App, case: models.Case, candidate: str | None, *,
               trusted: bool = True) -> Check:
    """Check a code against the case's active code, counting attempts and auditing the result.

    `trusted`: the attempt came from the code's real recipient as far as we can tell (a reply
    citing our mail to them, an authenticated sender, a chat). Untrusted wrong tries are
    counted apart and never lock the code nor the client; past `code_max_attempts` of them
    untrusted tries are no longer checked at all.
    """
    now = app.clock.now()
    check = _evaluate(session, app, case, candidate, trusted)
    audit(session, f"verify.{check.result.value}", at=now, case_id=case.id,
          client_id=case.client_id, code_id=check.code.id if check.code else None,
          attempts_left=check.attempts_left)
    return check


def _evaluate(session: Session, app: App, case: models.Case, candidate: str | None,
              trusted: bool) -> Check:
    now = app.clock.now()
    active = active_codes(session, case.id)
    if not active:
        return Check(_why_no_active(session, case, candidate))
    code = active[0]
    if code.expires_at <= now:
        code.status = "expired"
        session.add(code)
        return Check(CheckResult.EXPIRED, code=code)
    if code.action != CHAT_LINK and (
            _daily_failures(session, app, case.client_id) >= app.settings.code_daily_failure_cap):
        code.status = "locked"
        session.add(code)
        return Check(CheckResult.LOCKED, code=code)
    stray = code.stray_attempts or 0
    if not trusted and stray >= app.settings.code_max_attempts:
        return Check(CheckResult.UNTRUSTED, code=code)
    if candidate and hmac.compare_digest(_hash(candidate, code.salt), code.code_hash):
        code.status, code.used_at = "used", now
        session.add(code)
        return Check(CheckResult.OK, code=code)
    if not trusted:
        code.stray_attempts = stray + 1
        session.add(code)
        return Check(CheckResult.WRONG, code=code,
                     attempts_left=app.settings.code_max_attempts - code.attempts)
    return _count_failure(session, app, code)


def _count_failure(session: Session, app: App, code: models.VerificationCode) -> Check:
    code.attempts += 1
    left = app.settings.code_max_attempts - code.attempts
    if left <= 0:
        code.status = "locked"
    session.add(code)
    return Check(CheckResult.LOCKED if left <= 0 else CheckResult.WRONG,
                 attempts_left=max(left, 0), code=code)


def _why_no_active(session: Session, case: models.Case, candidate: str | None) -> CheckResult:
    """A replayed code is told apart from no code at all (both change nothing)."""
    query = select(models.VerificationCode).where(
        models.VerificationCode.case_id == case.id).order_by(
        col(models.VerificationCode.id).desc())
    last = session.exec(query).first()
    if last is None:
        return CheckResult.NO_CODE
    if last.status == "used" and candidate and hmac.compare_digest(
            _hash(candidate, last.salt), last.code_hash):
        return CheckResult.USED
    if last.status == "locked":
        return CheckResult.LOCKED
    return CheckResult.EXPIRED if last.status == "expired" else CheckResult.NO_CODE


def _daily_failures(session: Session, app: App, client_id: int | None) -> int:
    if client_id is None:
        return 0
    since = app.clock.now() - timedelta(days=1)
    query = select(func.coalesce(func.sum(models.VerificationCode.attempts), 0)).where(
        models.VerificationCode.client_id == client_id,
        models.VerificationCode.created_at >= since,
        models.VerificationCode.status != "used",
        models.VerificationCode.action != CHAT_LINK,  # a chat guessing cannot lock the client
    )
    return int(session.exec(query).one())


def find_code(text: str) -> str | None:
    """A code in our exact format on the first non-empty line of what the sender wrote
    ("7KQM-3TWX", "Code: 7KQM-3TWX"); anything further down is not an attempt."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    match = CODE_RE.search(first)
    return f"{match.group(1)}-{match.group(2)}".upper() if match else None


CANCEL_RE = re.compile(r"^\s*(cancel|stop|abbrechen|stornieren|annuler|cancelar|annulla)\b",
                       re.I | re.M)


def says_cancel(text: str) -> bool:
    return bool(CANCEL_RE.search(text))


def says_not_me(text: str) -> bool:
    return bool(NOT_ME_RE.search(text))
