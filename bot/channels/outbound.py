"""Deliver the outbox: through the configured SMTP relay, or as .eml files in the outbox folder.

Each row is sent once: the folder transport names files by outbox id and skips an existing one;
the relay gets the same Message-ID on a retry, so a crash between send and mark cannot produce
two different replies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import smtplib
import ssl
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import case
from sqlmodel import col, select, update

from bot.context import App
from bot.identity import is_chat_address
from storage import models
from storage.db import audit, unit_of_work

log = logging.getLogger(__name__)


ADDRESS_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def redact(text: str) -> str:
    """Relay errors often echo the recipient; logs and the outbox row keep no addresses."""
    return ADDRESS_RE.sub("<address>", text)


# Messages that carry a secret (a code, a password, a download token) or a copy of the
# client's data: once delivered (or given up on) their bytes are not kept, so the database
# never holds a usable code or the export next to its password.
SECRET_PURPOSES = frozenset({"verify_code", "verify_new_email", "link_code", "export_password",
                             "export_ready", "export_link"})


def _forget_secret(row: models.Outbox) -> None:
    if row.purpose in SECRET_PURPOSES:
        row.raw = b""


class PermanentFailure(Exception):
    """The relay refused the message for good (5xx)."""


class Transport(Protocol):
    def send(self, row: models.Outbox) -> None: ...

    def close(self) -> None:
        """Let go of any connection kept between messages (the outbox is idle)."""


# the outcome of one row in a batch: None when it was sent, else the failure
Outcome = Exception | None


def send_each(transport: Transport, rows: Sequence[models.Outbox]) -> list[Outcome]:
    """A batch through a transport that sends one message at a time."""
    batch = getattr(transport, "send_batch", None)
    if batch is not None:
        return batch(rows)  # type: ignore[no-any-return]
    outcomes: list[Outcome] = []
    for row in rows:
        try:
            transport.send(row)
        except Exception as exc:
            outcomes.append(exc)
        else:
            outcomes.append(None)
    return outcomes


class DirectoryTransport:
    """No relay configured: write each message as <id>-<purpose>.eml into a folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send_batch(self, rows: Sequence[models.Outbox]) -> list[Outcome]:
        """Write every file, then fsync them together, then rename them into place and fsync
        the folder once: one disk flush wait for the batch instead of one per message. A
        crash before the rename leaves only .writing- files, which are never delivered."""
        self.directory.mkdir(parents=True, exist_ok=True)
        outcomes: list[Outcome] = [None] * len(rows)
        written: list[tuple[int, int, str]] = []
        for n, row in enumerate(rows):
            if self.path_for(row).exists():
                continue
            try:
                fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".writing-")
            except OSError as exc:
                outcomes[n] = exc
                continue
            try:
                _write_all(fd, row.raw)
            except OSError as exc:
                outcomes[n] = exc
                os.close(fd)
                Path(tmp).unlink(missing_ok=True)
                continue
            written.append((n, fd, tmp))
        for n, fd, tmp in written:
            try:
                os.fsync(fd)
                os.close(fd)
                os.replace(tmp, self.path_for(rows[n]))
            except OSError as exc:
                outcomes[n] = exc
                with contextlib.suppress(OSError):
                    os.close(fd)
                Path(tmp).unlink(missing_ok=True)
        if written:
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return outcomes

    def path_for(self, row: models.Outbox) -> Path:
        return self.directory / f"{row.id:08d}-{row.purpose}.eml"

    def send(self, row: models.Outbox) -> None:
        target = self.path_for(row)
        if target.exists():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".writing-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(row.raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)

    def close(self) -> None:
        """Nothing is held between messages."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class RelayTransport:
    """An SMTP relay with STARTTLS, implicit TLS or plain, and optional AUTH.

    One session carries a run of messages (a burst is not a TLS handshake and a login per
    reply); a session idle for a while is checked with NOOP before reuse, a broken one is
    dropped, and the outbox closes it when nothing is due.
    """

    CHECK_AFTER_IDLE_SECONDS = 1.0

    def __init__(self, app: App) -> None:
        self.settings = app.settings
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0

    def send(self, row: models.Outbox) -> None:
        try:
            self._session().sendmail(self.settings.bot_address, [row.to_addr], row.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise PermanentFailure(f"recipient refused ({codes})") from None
            raise
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"relay refused: {exc.smtp_code}") from None
            raise
        except (smtplib.SMTPException, OSError):  # the session is broken: never reuse it
            self.close()
            raise
        finally:
            self._last_used = time.monotonic()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _session(self) -> smtplib.SMTP:
        if self._smtp is not None and self._stale():
            self.close()
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _stale(self) -> bool:
        """An idle session may have been dropped by the relay: ask before using it."""
        assert self._smtp is not None
        if time.monotonic() - self._last_used < self.CHECK_AFTER_IDLE_SECONDS:
            return False
        try:
            return self._smtp.noop()[0] != 250
        except (smtplib.SMTPException, OSError):
            return True

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.relay_host is not None
        context = ssl.create_default_context(cafile=str(s.relay_ca_file) if s.relay_ca_file
                                             else None)
        smtp: smtplib.SMTP
        if s.relay_security == "ssl":
            smtp = smtplib.SMTP_SSL(s.relay_host, s.relay_port, timeout=s.relay_timeout_seconds,
                                    context=context)
        else:
            smtp = smtplib.SMTP(s.relay_host, s.relay_port, timeout=s.relay_timeout_seconds)
            if s.relay_security == "starttls":
                smtp.starttls(context=context)
        if s.relay_user and s.relay_password:
            smtp.login(s.relay_user, s.relay_password.get_secret_value())
        return smtp


class RoutingTransport:
    """Chat identities (…@telegram.invalid) go to the chat channel, everything else to mail."""

    def __init__(self, mail: Transport, chat: Transport | None) -> None:
        self.mail, self.chat = mail, chat

    def send(self, row: models.Outbox) -> None:
        if not is_chat_address(row.to_addr):
            self.mail.send(row)
        elif self.chat is None:
            raise PermanentFailure("chat channel is not configured")
        else:
            self.chat.send(row)

    def send_batch(self, rows: Sequence[models.Outbox]) -> list[Outcome]:
        """Mail rows go to the mail transport as one batch; chat rows one by one."""
        outcomes: list[Outcome] = [None] * len(rows)
        mail = [n for n, row in enumerate(rows) if not is_chat_address(row.to_addr)]
        for n, outcome in zip(mail, send_each(self.mail, [rows[n] for n in mail]),
                              strict=True):
            outcomes[n] = outcome
        for n, row in enumerate(rows):
            if is_chat_address(row.to_addr):
                try:
                    self.send(row)
                except Exception as exc:
                    outcomes[n] = exc
        return outcomes

    def close(self) -> None:
        self.mail.close()
        if self.chat is not None:
            self.chat.close()


def make_transport(app: App, chat: Transport | None = None) -> Transport:
    mail: Transport = (RelayTransport(app) if app.settings.relay_host
                       else DirectoryTransport(app.settings.outbox_path))
    return RoutingTransport(mail, chat)


def deliver_due(app: App, transport: Transport, limit: int = 200) -> int:
    """Send the pending rows whose time has come (up to `limit`, oldest first) as one batch:
    through one relay session, or as files fsynced together; then one UPDATE and one audit
    insert mark all that went out. Returns how many went out. With nothing due, the
    transport lets go of its connection.

    A crash between sending and marking leaves the batch "pending": the folder transport
    skips files it already wrote, and the relay gets the same Message-IDs again."""
    rows = _due_rows(app, limit)
    if not rows:
        transport.close()
        return 0
    sent: list[models.Outbox] = []
    for row, outcome in zip(rows, send_each(transport, rows), strict=True):
        if outcome is None:
            sent.append(row)
        elif isinstance(outcome, PermanentFailure):
            _record_failure(app, row.id, redact(str(outcome)), permanent=True)
        else:  # network and temporary SMTP errors: retry later
            _record_failure(app, row.id, redact(f"{type(outcome).__name__}: {outcome}")[:300],
                            permanent=False)
    _mark_sent(app, sent)
    return len(sent)


def _due_rows(app: App, limit: int) -> list[models.Outbox]:
    with unit_of_work(app.engine) as session:
        query = (
            select(models.Outbox)
            .where(models.Outbox.status == "pending",
                   models.Outbox.next_attempt_at <= app.clock.now())
            .order_by(models.Outbox.id)
            .limit(limit)
        )
        return list(session.exec(query))


def _mark_sent(app: App, rows: Sequence[models.Outbox]) -> None:
    """One UPDATE for the whole batch and one multi-row audit insert: this runs under the
    writer lock that handling needs too, so it stays lean."""
    if not rows:
        return
    outbox = models.Outbox
    now = app.clock.now()
    # a code or password is not kept once it went out
    raw = case((col(outbox.purpose).in_(SECRET_PURPOSES), b""), else_=col(outbox.raw))
    with app.write_lock, unit_of_work(app.engine) as session:
        session.execute(update(outbox).where(col(outbox.id).in_([r.id for r in rows]))  # type: ignore[arg-type]
                        .values(status="sent", sent_at=now, attempts=outbox.attempts + 1,
                                raw=raw)
                        .execution_options(synchronize_session=False))
        session.execute(models.AuditLog.__table__.insert(), [  # type: ignore[attr-defined]
            {"at": now, "actor": "bot", "action": "outbox.sent", "case_id": row.case_id,
             "client_id": None, "inbound_id": None,
             "details": json.dumps({"outbox_id": row.id, "purpose": row.purpose},
                                   sort_keys=True)}
            for row in rows])
    for row in rows:
        log.info("outbox %s sent (%s)", row.id, row.purpose)


def _record_failure(app: App, outbox_id: int | None, error: str, *, permanent: bool) -> None:
    settings = app.settings
    with app.write_lock, unit_of_work(app.engine) as session:
        row = session.get(models.Outbox, outbox_id)
        assert row is not None
        row.attempts += 1
        row.last_error = error
        if permanent or row.attempts >= settings.outbox_max_attempts:
            row.status = "dead"
            _forget_secret(row)
        else:
            delay = settings.outbox_backoff_seconds * 2 ** (row.attempts - 1)
            row.next_attempt_at = app.clock.now() + timedelta(seconds=delay)
        session.add(row)
        audit(session, "outbox.failed", at=app.clock.now(), case_id=row.case_id,
              outbox_id=row.id, attempts=row.attempts, status=row.status, error=error)
    log.warning("outbox %s failed (attempt %d): %s", outbox_id, row.attempts, error)
