"""IMAP watcher (imapclient): IDLE push, polling where the server has no IDLE, reconnect with
backoff. Each message is handled once, keyed by mailbox + UIDVALIDITY + UID (and Message-ID in
the pipeline); handled mail is flagged, or moved when a processed folder is configured.

New mail is ingested in batches: sizes for up to SIZE_CHUNK UIDs per FETCH, bodies of small
mail up to BODY_CHUNK_BYTES per FETCH, one transaction per batch (`store_many`), then one
STORE (and MOVE) for the batch, then the mailbox state. A message is flagged only after its
row is committed, and the state moves past it only after the flag; a crash in between
re-fetches it and its source key makes that a no-op.

Runs in its own thread: imapclient is blocking.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple

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

from bot.clock import SystemClock
from bot.context import App
from bot.intake import RawMail, store_many
from bot.pipeline import process_inbound
from bot.staff import notify_backlog
from storage import models
from storage.db import audit, unit_of_work
from storage.files import StoredFile

log = logging.getLogger(__name__)

PROCESSED_FLAG = b"$StelloloxonProcessed"
FETCH_CHUNK = 1024 * 1024  # bytes per partial FETCH of a large message
SIZE_CHUNK = 200  # UIDs per FETCH RFC822.SIZE (and at most per batch)
BODY_CHUNK_BYTES = 8 * 1024 * 1024  # bytes of small mail per FETCH BODY.PEEK[]
RECOVERABLE = (IMAPClientError, OSError, socket.timeout, ssl.SSLError, EOFError)
HEALTHY_SECONDS = 60.0
IDLE_LOOK_AGAIN_SECONDS = 1.0  # the short first IDLE after a sync (see _watch)


def mailbox_key(app: App) -> str:
    s = app.settings
    return f"{s.imap_user}@{s.imap_host}/{s.imap_mailbox}"


def record_first_start(app: App) -> datetime:
    """The recorded first start of the daemon on this mailbox (recorded now if none).

    Called before the start-up IMAP check, so mail arriving while the daemon starts is new
    mail. Wall-clock time, not the app's clock: it is compared with the server's INTERNALDATE.
    """
    key = f"imap:{mailbox_key(app)}"
    with app.write_lock, unit_of_work(app.engine) as session:
        query = select(models.FirstStart).where(models.FirstStart.key == key)
        found = session.exec(query).first()
        if found is None:
            found = models.FirstStart(key=key, started_at=SystemClock().now())
            session.add(found)
            audit(session, "imap.first_start", at=app.clock.now(),
                  mailbox=app.settings.imap_mailbox)
        started = found.started_at
    return started if started.tzinfo else started.replace(tzinfo=UTC)


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


class _Stored(NamedTuple):
    uid: int
    inbound_id: int
    created: bool


class ImapWatcher:
    """Watch the mailbox. With `on_stored`, each newly stored inbound id is handed to it (from
    this thread) and the caller processes it; without, the watcher runs the pipeline itself
    and calls `on_processed` after each message."""

    def __init__(self, app: App, on_processed: Callable[[], None] = lambda: None,
                 on_stored: Callable[[int], None] | None = None) -> None:
        self.app = app
        self.on_processed = on_processed
        self.on_stored = on_stored
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.key = mailbox_key(app)

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
        look_again = True
        while not self.stop_event.is_set():
            # sync until nothing is new: mail that arrived while we were busy was announced
            # with the responses to other commands and is not announced again in IDLE
            while ((self.sync(client, uidvalidity) or _drain_news(client))
                   and not self.stop_event.is_set()):
                pass
            if can_idle:
                # Dovecot does not announce mail that lands between our last SEARCH and the
                # start of IDLE until the IDLE ends; so the first IDLE after a sync is short
                # and the loop looks again before settling into a long one.
                limit = IDLE_LOOK_AGAIN_SECONDS if look_again else settings.imap_idle_seconds
                look_again = self._idle(client, limit)
            else:
                self.stop_event.wait(settings.imap_poll_seconds)
                client.noop()

    def _idle(self, client: IMAPClient, seconds: float) -> bool:
        """IDLE until the server reports something (True), the stop flag or `seconds`."""
        deadline = time.monotonic() + seconds
        client.idle()
        try:
            while not self.stop_event.is_set() and time.monotonic() < deadline:
                wait = max(0.0, min(0.5, deadline - time.monotonic()))
                if any(_is_news(r) for r in client.idle_check(timeout=wait)):
                    return True
        finally:
            client.idle_done()
        return False

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
        """First start on a mailbox with mail in it: file what arrived before the daemon first
        started (by INTERNALDATE), answer none of it, tell staff. Mail that arrived since is
        left for `sync` to handle as new mail, whatever the first SELECT found.

        The state is saved only at the end: a crash midway files the backlog again (the
        source keys make that a no-op) rather than answering the rest as new mail."""
        uids = sorted(client.search(["NOT", "DELETED"]))
        old, new = _split_by_arrival(client, uids, record_first_start(self.app))
        for batch in self._batches(client, old):
            self._store_batch(client, uidvalidity, batch, status="backlog")
        self._save_state(uidvalidity, min(new) - 1 if new else max(uids, default=0))
        if old:
            with self.app.write_lock, unit_of_work(self.app.engine) as session:
                notify_backlog(session, self.app, self.app.settings.imap_mailbox, len(old),
                               f"{self.key}:{uidvalidity}")
            self.on_processed()

    def _source_key(self, uidvalidity: int, uid: int) -> str:
        return f"imap:{self.key}:{uidvalidity}:{uid}"

    # ------------------------------------------------------------------ new mail
    def sync(self, client: IMAPClient, uidvalidity: int) -> int:
        """Store, mark and hand on every message above the last handled UID, batch by batch."""
        state = self._state()
        last = state.last_uid if state else 0
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        for batch in self._batches(client, uids):
            stored = self._store_batch(client, uidvalidity, batch, status="new")
            try:
                self._mark_handled(client, [s.uid for s in stored])
                self._save_state(uidvalidity, batch[-1][0])
            finally:  # committed rows are handed on even if marking failed (it is retried)
                self._hand_off(stored)
        return len(uids)

    def _batches(self, client: IMAPClient, uids: list[int]) -> Iterator[list[tuple[int, int]]]:
        """(UID, size) batches in UID order: small mail together up to BODY_CHUNK_BYTES, each
        large message alone. Expunged messages are left out."""
        threshold = self.app.settings.spool_threshold_bytes
        for start in range(0, len(uids), SIZE_CHUNK):
            yield from _group(_sizes(client, uids[start:start + SIZE_CHUNK]), threshold)

    def _store_batch(self, client: IMAPClient, uidvalidity: int, batch: list[tuple[int, int]],
                     *, status: str) -> list[_Stored]:
        """Fetch the batch and commit it in one transaction."""
        fetched = self._fetch_batch(client, batch)
        mails = [RawMail(content, source_key=self._source_key(uidvalidity, uid), status=status)
                 for uid, content in fetched]
        results = store_many(self.app, "imap", mails)
        return [_Stored(uid, inbound_id, created)
                for (uid, _), (inbound_id, created) in zip(fetched, results, strict=True)]

    def _fetch_batch(self, client: IMAPClient,
                     batch: list[tuple[int, int]]) -> list[tuple[int, bytes | StoredFile]]:
        [(uid, size), *_] = batch
        if size > self.app.settings.spool_threshold_bytes:  # large: fetched in pieces
            stored = _fetch_to_store(self.app, client, uid, size)
            return [(uid, stored)] if stored is not None else []
        return _fetch_many(client, [uid for uid, _ in batch])

    def _hand_off(self, stored: list[_Stored]) -> None:
        if self.on_stored is not None:
            for item in stored:
                if item.created:
                    self.on_stored(item.inbound_id)
            return
        for item in stored:  # a row re-fetched while still "new" is processed too
            process_inbound(self.app, item.inbound_id)
            self.on_processed()

    def _mark_handled(self, client: IMAPClient, uids: list[int]) -> None:
        """Flag the messages (one UID STORE), then move them if a processed folder is set."""
        if not uids:
            return
        folder = self.app.settings.imap_processed_folder
        client.add_flags(uids, [b"\\Seen", PROCESSED_FLAG], silent=True)
        if folder:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            _move(client, uids, folder)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("IMAP connection failed (attempt %d): %s; retrying", state.attempt_number,
                type(error).__name__)


def _move(client: IMAPClient, uids: list[int], folder: str) -> None:
    """MOVE (RFC 6851) where the server has it; else copy, flag deleted, expunge those UIDs."""
    if client.has_capability("MOVE"):
        client.move(uids, folder)
        return
    client.copy(uids, folder)
    client.delete_messages(uids, silent=True)
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)
    else:
        client.expunge()


def _sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    """{UID: RFC822.SIZE} for those still in the mailbox (one FETCH)."""
    if not uids:
        return {}
    wanted = set(uids)
    data = client.fetch(uids, ["RFC822.SIZE"])
    return {uid: int(item[b"RFC822.SIZE"]) for uid, item in data.items()
            if uid in wanted and b"RFC822.SIZE" in item}


def _group(sizes: dict[int, int], threshold: int) -> Iterator[list[tuple[int, int]]]:
    """Split (UID, size) in UID order into fetch batches; a large message is a batch alone."""
    batch: list[tuple[int, int]] = []
    total = 0
    for uid in sorted(sizes):
        size = sizes[uid]
        if batch and (size > threshold or total + size > BODY_CHUNK_BYTES):
            yield batch
            batch, total = [], 0
        if size > threshold:
            yield [(uid, size)]
            continue
        batch.append((uid, size))
        total += size
    if batch:
        yield batch


def _fetch_to_store(app: App, client: IMAPClient, uid: int, size: int) -> StoredFile | None:
    """Fetch a large message in partial ranges straight into the file store (flat memory);
    None if it was expunged meanwhile (nothing is stored)."""
    writer = app.files.writer()
    try:
        for offset in range(0, size, FETCH_CHUNK):
            item = client.fetch([uid], [f"BODY.PEEK[]<{offset}.{FETCH_CHUNK}>"]).get(uid)
            if not item:
                writer.abort()
                return None
            writer.write(bytes(item.get(f"BODY[]<{offset}>".encode()) or b""))
    except BaseException:
        writer.abort()
        raise
    return writer.commit()


def _fetch_many(client: IMAPClient, uids: list[int]) -> list[tuple[int, bytes]]:
    """Whole bodies in one FETCH, in UID order; expunged messages are left out."""
    data = client.fetch(uids, ["BODY.PEEK[]"])
    return [(uid, bytes(data[uid].get(b"BODY[]") or b"")) for uid in uids if data.get(uid)]


def _split_by_arrival(client: IMAPClient, uids: list[int],
                      first_start: datetime) -> tuple[list[int], list[int]]:
    """(arrived before the first start, arrived since) by INTERNALDATE. INTERNALDATE has
    whole seconds: mail from the second of the first start counts as new (answered)."""
    cutoff = first_start.astimezone(UTC).replace(microsecond=0)
    old: list[int] = []
    new: list[int] = []
    for start in range(0, len(uids), SIZE_CHUNK):
        chunk = uids[start:start + SIZE_CHUNK]
        data = client.fetch(chunk, ["INTERNALDATE"])
        for uid in chunk:
            arrived = _aware(data.get(uid, {}).get(b"INTERNALDATE"))
            (old if arrived is not None and arrived < cutoff else new).append(uid)
    return old, new


def _aware(value: object) -> datetime | None:
    """imapclient gives INTERNALDATE as local naive time (normalise_times) or aware."""
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo else value.astimezone()).astimezone(UTC)


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
