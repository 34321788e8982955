"""IMAP watcher (imapclient): IDLE push, polling where the server has no IDLE, reconnect with
backoff. Each message is handled once, keyed by mailbox + UIDVALIDITY + UID (and Message-ID in
the pipeline); handled mail is flagged, or moved when a processed folder is configured.

Runs in its own thread: imapclient is blocking.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlmodel import select
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from bot.context import App
from bot.intake import store_raw, store_spooled
from bot.pipeline import process_inbound
from bot.staff import notify_backlog
from storage import models
from storage.db import audit, unit_of_work
from storage.files import StoredFile

log = logging.getLogger(__name__)

PROCESSED_FLAG = b"$StelloloxonProcessed"
FETCH_CHUNK = 1024 * 1024
RECOVERABLE = (IMAPClientError, OSError, socket.timeout, ssl.SSLError, EOFError)
HEALTHY_SECONDS = 60.0


class ImapConfigError(Exception):
    """IMAP is configured but unusable; the message is one line, safe to print."""


def connect(app: App) -> IMAPClient:
    s = app.settings
    assert s.imap_host and s.imap_user and s.imap_password
    client = IMAPClient(s.imap_host, port=s.imap_port, ssl=s.imap_ssl, timeout=30)
    client.login(s.imap_user, s.imap_password.get_secret_value())
    return client


def check_imap(app: App) -> None:
    """Fail fast at start-up with one clear line when IMAP cannot be used."""
    s = app.settings
    try:
        client = connect(app)
        client.select_folder(s.imap_mailbox, readonly=True)
        client.logout()
    except (IMAPClientError, OSError) as exc:
        raise ImapConfigError(
            f"cannot use IMAP mailbox {s.imap_mailbox} on {s.imap_host}:{s.imap_port}: {exc}"
        ) from None


class ImapWatcher:
    def __init__(self, app: App, on_processed: Callable[[], None] = lambda: None) -> None:
        self.app = app
        self.on_processed = on_processed
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.key = f"{app.settings.imap_user}@{app.settings.imap_host}/{app.settings.imap_mailbox}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="imap-watcher", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def run(self) -> None:
        """Serve until stopped; each healthy session resets the backoff."""
        while not self.stop_event.is_set():
            retrying = Retrying(
                retry=retry_if_exception_type(RECOVERABLE),
                wait=wait_exponential_jitter(initial=1,
                                             max=self.app.settings.imap_backoff_max_seconds),
                sleep=self.stop_event.wait,
                stop=lambda _state: self.stop_event.is_set(),
                before_sleep=_log_retry,
                reraise=False,
            )
            try:
                retrying(self._serve_once)
            except RetryError:
                return

    # ------------------------------------------------------------------ one connection
    def _serve_once(self) -> None:
        started = time.monotonic()
        client = connect(self.app)
        try:
            self._watch(client)
        except RECOVERABLE:
            if time.monotonic() - started < HEALTHY_SECONDS:
                raise
            log.warning("IMAP connection dropped after a healthy session; reconnecting")
        finally:
            _logout_quietly(client)

    def _watch(self, client: IMAPClient) -> None:
        settings = self.app.settings
        info = client.select_folder(settings.imap_mailbox)
        uidvalidity = int(info[b"UIDVALIDITY"])
        if self._first_start(uidvalidity):
            self._file_backlog(client, uidvalidity)
        can_idle = b"IDLE" in client.capabilities()
        log.info("IMAP watching %s (%s)", settings.imap_mailbox, "IDLE" if can_idle else "polling")
        while not self.stop_event.is_set():
            # sync until nothing is new: mail that arrived while we were busy was announced
            # with the responses to other commands and is not announced again in IDLE
            while ((self.sync(client, uidvalidity) or _drain_news(client))
                   and not self.stop_event.is_set()):
                pass
            if can_idle:
                self._idle(client)
            else:
                self.stop_event.wait(settings.imap_poll_seconds)
                client.noop()

    def _idle(self, client: IMAPClient) -> None:
        """IDLE until the server reports something, the stop flag, or the re-IDLE limit."""
        deadline = time.monotonic() + self.app.settings.imap_idle_seconds
        client.idle()
        try:
            while not self.stop_event.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=0.5)
                if any(_is_news(r) for r in responses):
                    return
        finally:
            client.idle_done()

    # ------------------------------------------------------------------ state
    def _state(self) -> models.MailboxState | None:
        with unit_of_work(self.app.engine) as session:
            query = select(models.MailboxState).where(models.MailboxState.mailbox == self.key)
            return session.exec(query).first()

    def _first_start(self, uidvalidity: int) -> bool:
        state = self._state()
        if state is not None and state.uidvalidity == uidvalidity:
            return False
        if state is not None:  # mailbox was recreated: UIDs restart; Message-IDs dedupe
            log.warning("IMAP UIDVALIDITY changed for the watched mailbox; rescanning")
            self._save_state(uidvalidity, 0, reset=True)
            return False
        return True

    def _save_state(self, uidvalidity: int, last_uid: int, *, reset: bool = False) -> None:
        with self.app.write_lock, unit_of_work(self.app.engine) as session:
            query = select(models.MailboxState).where(models.MailboxState.mailbox == self.key)
            state = session.exec(query).first()
            now = self.app.clock.now()
            if state is None:
                state = models.MailboxState(mailbox=self.key, uidvalidity=uidvalidity,
                                            initialised_at=now)
            if reset:
                audit(session, "imap.uidvalidity_changed", at=now, old=state.uidvalidity,
                      new=uidvalidity)
            state.uidvalidity, state.last_uid = uidvalidity, last_uid
            session.add(state)

    def _file_backlog(self, client: IMAPClient, uidvalidity: int) -> None:
        """First start on a mailbox with mail in it: store it all, answer none, tell staff."""
        uids = sorted(client.search(["NOT", "DELETED"]))
        for uid in uids:
            raw = _fetch(client, uid)
            if raw is not None:
                store_raw(self.app, "imap", raw, source_key=self._source_key(uidvalidity, uid),
                          status="backlog")
        self._save_state(uidvalidity, max(uids, default=0))
        if uids:
            with self.app.write_lock, unit_of_work(self.app.engine) as session:
                notify_backlog(session, self.app, self.app.settings.imap_mailbox, len(uids),
                               f"{self.key}:{uidvalidity}")
            self.on_processed()

    def _source_key(self, uidvalidity: int, uid: int) -> str:
        return f"imap:{self.key}:{uidvalidity}:{uid}"

    # ------------------------------------------------------------------ new mail
    def sync(self, client: IMAPClient, uidvalidity: int) -> int:
        """Store, process and mark every message above the last handled UID."""
        state = self._state()
        last = state.last_uid if state else 0
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        for uid in uids:
            self._handle_uid(client, uidvalidity, uid)
            self._save_state(uidvalidity, uid)
        return len(uids)

    def _handle_uid(self, client: IMAPClient, uidvalidity: int, uid: int) -> None:
        key = self._source_key(uidvalidity, uid)
        size = _size(client, uid)
        if size is None:  # expunged meanwhile
            return
        if size > self.app.settings.spool_threshold_bytes:  # large: fetched in pieces
            inbound_id, _ = store_spooled(self.app, "imap", _fetch_to_store(self.app, client,
                                                                             uid, size),
                                          source_key=key)
        else:
            raw = _fetch(client, uid)
            if raw is None:
                return
            inbound_id, _ = store_raw(self.app, "imap", raw, source_key=key)
        process_inbound(self.app, inbound_id)
        self._mark_handled(client, uid)
        self.on_processed()

    def _mark_handled(self, client: IMAPClient, uid: int) -> None:
        folder = self.app.settings.imap_processed_folder
        client.add_flags([uid], [b"\\Seen", PROCESSED_FLAG])
        if folder:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            _move(client, uid, folder)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("IMAP connection failed (attempt %d): %s; retrying", state.attempt_number,
                type(error).__name__)


def _move(client: IMAPClient, uid: int, folder: str) -> None:
    """MOVE (RFC 6851) where the server has it; else copy, flag deleted, expunge that UID."""
    if client.has_capability("MOVE"):
        client.move([uid], folder)
        return
    client.copy([uid], folder)
    client.delete_messages([uid])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])
    else:
        client.expunge()


def _size(client: IMAPClient, uid: int) -> int | None:
    item = client.fetch([uid], ["RFC822.SIZE"]).get(uid)
    return int(item[b"RFC822.SIZE"]) if item else None


def _fetch_to_store(app: App, client: IMAPClient, uid: int, size: int) -> StoredFile:
    """Fetch a large message in partial ranges straight into the file store (flat memory)."""
    writer = app.files.writer()
    try:
        for offset in range(0, size, FETCH_CHUNK):
            item = client.fetch([uid], [f"BODY.PEEK[]<{offset}.{FETCH_CHUNK}>"]).get(uid, {})
            writer.write(bytes(item.get(f"BODY[]<{offset}>".encode()) or b""))
    except BaseException:
        writer.abort()
        raise
    return writer.commit()


def _fetch(client: IMAPClient, uid: int) -> bytes | None:
    data = client.fetch([uid], ["BODY.PEEK[]"])
    item = data.get(uid)
    if not item:
        return None
    return bytes(item.get(b"BODY[]") or b"")


def _drain_news(client: IMAPClient) -> bool:
    """True if EXISTS/RECENT came in with an earlier command's responses (imaplib keeps such
    untagged responses; imapclient exposes no public way to read them)."""
    pending = getattr(getattr(client, "_imap", None), "untagged_responses", None)
    if not isinstance(pending, dict):
        return False
    news = [pending.pop(name, None) for name in ("EXISTS", "RECENT")]
    return any(news)


def _is_news(response: tuple[object, ...]) -> bool:
    return len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


def _logout_quietly(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the connection may already be gone
        log.debug("IMAP logout failed", exc_info=True)
