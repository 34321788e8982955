"""Staff accounts, password hashes, login sessions and the login rate limit.

Passwords are hashed with scrypt (hashlib, n=2**15, r=8, p=1, a random 16-byte salt per
account); a session cookie carries a random token of which only the SHA-256 is stored, with
the session's CSRF token beside it. Every login, failed or not, is in the audit log; what was
typed as a user name is logged only when it names an account.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.context import App
from storage import models
from storage.db import audit, unit_of_work

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD_LENGTH = 12


class StaffAccountError(ValueError):
    """The account cannot be created as asked; the message is safe to show."""


@dataclass(frozen=True)
class StaffUser:
    """Who is logged in, as the pages need it."""

    id: int
    username: str
    display_name: str
    csrf_token: str

    @property
    def actor(self) -> str:
        """How the audit log names this staff member's actions."""
        return f"dashboard:{self.username}"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    return hmac.compare_digest(candidate.hex(), digest)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024,
                          dklen=32)


def add_staff(app: App, *, username: str, display_name: str, password: str) -> int:
    """Create a staff account (the CLI's `staff add`); returns its id."""
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise StaffAccountError("user name: letters, digits, '.', '-' and '_' only")
    _check_password(password)
    with app.write_lock, unit_of_work(app.engine) as session:
        if _account(session, username) is not None:
            raise StaffAccountError(f"staff account {username} exists already")
        account = models.StaffAccount(username=username, display_name=display_name.strip()
                                      or username, password_hash=hash_password(password),
                                      created_at=app.clock.now())
        session.add(account)
        session.flush()
        assert account.id is not None
        audit(session, "staff.account_added", at=app.clock.now(), actor="cli",
              staff=username)
        return account.id


def set_password(app: App, username: str, password: str) -> None:
    """A new password; every open session of the account ends."""
    _check_password(password)
    with app.write_lock, unit_of_work(app.engine) as session:
        account = _existing(session, username)
        account.password_hash = hash_password(password)
        session.add(account)
        _end_sessions(session, app, account)
        audit(session, "staff.password_changed", at=app.clock.now(), actor="cli",
              staff=account.username)


def disable_staff(app: App, username: str) -> None:
    """The account can no longer log in; its open sessions end now."""
    with app.write_lock, unit_of_work(app.engine) as session:
        account = _existing(session, username)
        account.disabled_at = account.disabled_at or app.clock.now()
        session.add(account)
        _end_sessions(session, app, account)
        audit(session, "staff.account_disabled", at=app.clock.now(), actor="cli",
              staff=account.username)


def _existing(session: Session, username: str) -> models.StaffAccount:
    account = _account(session, username.strip().lower())
    if account is None:
        raise StaffAccountError(f"no staff account {username.strip().lower()}")
    return account


def _end_sessions(session: Session, app: App, account: models.StaffAccount) -> None:
    for login in session.exec(select(models.StaffSession).where(
            models.StaffSession.staff_id == account.id,
            col(models.StaffSession.ended_at).is_(None))):
        login.ended_at = app.clock.now()
        session.add(login)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffAccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")


def list_staff(app: App) -> list[models.StaffAccount]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.StaffAccount).order_by(
            models.StaffAccount.username)))


def _account(session: Session, username: str) -> models.StaffAccount | None:
    query = select(models.StaffAccount).where(models.StaffAccount.username == username)
    return session.exec(query).first()


class LoginLimiter:
    """At most `attempts` failed logins per key (user name, client address) in a window."""

    def __init__(self, attempts: int, window: timedelta) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[datetime]] = defaultdict(deque)

    def blocked(self, keys: list[str], now: datetime) -> bool:
        return any(len(self._recent(key, now)) >= self.attempts for key in keys)

    def failed(self, keys: list[str], now: datetime) -> None:
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


def log_in(app: App, username: str, password: str) -> str | None:
    """Check the password; on success open a session and return its cookie token."""
    username = username.strip().lower()
    now = app.clock.now()
    with app.write_lock, unit_of_work(app.engine) as session:
        account = _account(session, username)
        stored = account.password_hash if account is not None else _dummy_hash()
        matches = verify_password(password, stored)  # as slow for unknown names as for known
        if account is None or account.disabled_at is not None or not matches:
            audit(session, "dashboard.login_failed", at=now,
                  actor=f"dashboard:{username}" if account else "dashboard",
                  known_account=account is not None)
            return None
        assert account.id is not None
        token = secrets.token_urlsafe(32)
        hours = app.settings.dashboard_session_hours
        session.add(models.StaffSession(token_hash=_token_hash(token), staff_id=account.id,
                                        csrf_token=secrets.token_urlsafe(32), created_at=now,
                                        expires_at=now + timedelta(hours=hours)))
        audit(session, "dashboard.login", at=now, actor=f"dashboard:{username}")
        return token


def record_blocked(app: App, username: str) -> None:
    """A login refused by the rate limit, before its password was checked."""
    username = username.strip().lower()
    with app.write_lock, unit_of_work(app.engine) as session:
        known = _account(session, username) is not None
        audit(session, "dashboard.login_blocked", at=app.clock.now(),
              actor=f"dashboard:{username}" if known else "dashboard", known_account=known)


def current_user(app: App, token: str | None) -> StaffUser | None:
    """The staff member a session cookie belongs to, if the session is still valid."""
    if not token:
        return None
    with unit_of_work(app.engine) as session:
        row = session.exec(select(models.StaffSession, models.StaffAccount)
                           .join(models.StaffAccount)
                           .where(models.StaffSession.token_hash == _token_hash(token))).first()
    if row is None:
        return None
    login, account = row
    if (login.ended_at is not None or login.expires_at <= app.clock.now()
            or account.disabled_at is not None):
        return None
    assert account.id is not None
    return StaffUser(account.id, account.username, account.display_name, login.csrf_token)


def log_out(app: App, token: str) -> None:
    with app.write_lock, unit_of_work(app.engine) as session:
        login = session.exec(select(models.StaffSession).where(
            models.StaffSession.token_hash == _token_hash(token))).first()
        if login is None or login.ended_at is not None:
            return
        login.ended_at = app.clock.now()
        session.add(login)
        account = session.get(models.StaffAccount, login.staff_id)
        audit(session, "dashboard.logout", at=app.clock.now(),
              actor=f"dashboard:{account.username if account else '?'}")


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
