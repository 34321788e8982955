"""The daemon: start the channels and workers in one asyncio loop, stop them in reverse.

Every daemon on a database handles mail (and, with `workers` > 1, starts that many minus one
handling processes, bot.worker); only the leader (bot.leader) runs the IMAP watcher, the
Telegram poller, the outbox sender and the scheduler. A follower polls for the lead and takes
it over when the leader dies; a leader that loses its lock stops, so two never lead at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import subprocess
import sys
from typing import Any

from bot.channels.imap import ImapWatcher, record_first_start
from bot.channels.outbound import deliver_due, make_transport
from bot.channels.smtp import ListenerConfig, SmtpListener
from bot.context import App
from bot.downloads import DownloadServer
from bot.health import HEARTBEAT_SECONDS, clear_heartbeat, heartbeat_path, write_heartbeat
from bot.leader import Leadership
from bot.logsafe import log_failure
from bot.pipeline import process_batch, process_pending
from bot.scheduler import start_scheduler, stop_scheduler
from bot.spool import Spool
from bot.understand import warm_up

log = logging.getLogger(__name__)
INBOUND_BATCH = 50  # messages claimed and handled per transaction
CLAIM_POLL_SECONDS = 0.1  # PostgreSQL: look for mail other processes stored this often
LEAD_POLL_SECONDS = 1.0  # a follower tries to take the lead this often


class WorkersNeedPostgres(ValueError):
    """SQLite has one writer: a second handling process would only wait for it."""


class Daemon:
    """Owns the listeners and workers; `serve()` runs until `request_stop()`."""

    def __init__(self, app: App, workers: int = 1) -> None:
        if workers > 1 and app.engine.dialect.name != "postgresql":
            raise WorkersNeedPostgres("--workers above 1 needs PostgreSQL (SQLite has one "
                                      "writer)")
        self.app = app
        self.workers = workers
        self.leadership = Leadership(app.engine, app.settings.data_dir)
        self.leading = asyncio.Event()
        self._children: list[subprocess.Popen[bytes]] = []
        self._scheduler: Any = None
        self.smtp_port: int | None = None
        self.smtp_listener: SmtpListener | None = None
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._outbox_wake = asyncio.Event()
        self._spool_wake = asyncio.Event()
        self.spool = Spool(app.settings.data_dir / "spool")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._imap: ImapWatcher | None = None
        self._downloads: DownloadServer | None = None
        self._telegram: Any = None  # bot.channels.telegram.TelegramChannel when configured
        self.dashboard: Any = None  # bot.dashboard.app.DashboardServer when enabled

    def request_stop(self) -> None:
        """Thread-safe: ask the daemon to shut down."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def enqueue(self, inbound_id: int) -> None:
        """Thread-safe: queue a stored message for the inbound worker."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, inbound_id)

    def wake_outbox(self) -> None:
        """Thread-safe: deliver the outbox now rather than at the next poll."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._outbox_wake.set)

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._install_signal_handlers()
        if self.app.settings.imap_host:  # before anything else: mail from now on is answered
            await asyncio.to_thread(record_first_start, self.app)
        await asyncio.to_thread(warm_up)  # models loaded now, not by the first message (~0.75 s)
        await asyncio.to_thread(process_pending, self.app)  # finish what a crash left
        workers = [asyncio.create_task(self._inbound_worker(), name="inbound"),
                   asyncio.create_task(self._spool_worker(), name="spool")]
        try:  # a part that cannot start (e.g. the SMTP port is taken) stops the rest again
            await self._start_smtp()
            if await asyncio.to_thread(self.leadership.try_acquire):
                await self._lead(workers)
            workers.append(asyncio.create_task(self._leadership_worker(workers), name="lead"))
            self._start_downloads()
            await self._start_dashboard()
            self._start_children()
            await self._beat()  # the first beat is on disk before anyone is told we are up
            workers.append(asyncio.create_task(self._heartbeat_worker(), name="heartbeat"))
            self.ready.set()
            await self._stop.wait()
        finally:
            await asyncio.to_thread(stop_scheduler, self._scheduler)
            await self._shutdown(workers)
            await asyncio.to_thread(self.leadership.release)

    async def _lead(self, workers: list[asyncio.Task[None]]) -> None:
        """This process has the lead: start the singletons."""
        log.info("leading: IMAP watcher, Telegram, outbox and scheduler run here")
        self._start_imap()
        await self._start_telegram()
        self._scheduler = await asyncio.to_thread(start_scheduler, self.app)
        workers.append(asyncio.create_task(self._outbox_worker(), name="outbox"))
        self.leading.set()

    async def _leadership_worker(self, workers: list[asyncio.Task[None]]) -> None:
        """A follower tries for the lead; a leader checks it still holds it, and stops the
        daemon if not (another process may be leading by now)."""
        while True:
            await asyncio.sleep(LEAD_POLL_SECONDS)
            if self.leading.is_set():
                if not await asyncio.to_thread(self.leadership.still_held):
                    log.error("lost the lead (database connection broken); stopping")
                    self._stop.set()
                    return
            elif await asyncio.to_thread(self.leadership.try_acquire):
                log.warning("took over the lead")
                await self._lead(workers)

    def _start_children(self) -> None:
        """Handling processes beside this one (PostgreSQL only; see bot.worker)."""
        for _ in range(self.workers - 1):
            child = subprocess.Popen([sys.executable, "-m", "bot.worker"],
                                     stdin=subprocess.PIPE)
            assert child.stdin is not None
            child.stdin.write(pickle.dumps(self.app.settings))
            child.stdin.close()
            self._children.append(child)

    async def _stop_children(self) -> None:
        for child in self._children:
            child.terminate()
        for child in self._children:
            try:
                await asyncio.to_thread(child.wait, 30)
            except subprocess.TimeoutExpired:
                child.kill()

    def _start_downloads(self) -> None:
        if self.app.settings.download_enabled:
            self._downloads = DownloadServer(self.app)
            self._downloads.start()

    async def _start_dashboard(self) -> None:
        """The staff web dashboard, served by uvicorn as a task of this loop."""
        if not self.app.settings.dashboard_enabled:
            return
        from bot.dashboard.app import DashboardServer

        self.dashboard = DashboardServer(self.app, wake_outbox=self.wake_outbox)
        await self.dashboard.start()

    async def _start_telegram(self) -> None:
        """Only with a token; python-telegram-bot is imported only then."""
        if self.app.settings.telegram_token is None:
            return
        from bot.channels.telegram import TelegramChannel

        self._telegram = TelegramChannel(self.app, on_stored=self._queue.put_nowait,
                                         wake=self.wake_outbox)
        await self._telegram.start()

    async def _start_smtp(self) -> None:
        settings = self.app.settings
        if not settings.smtp_enabled:
            return
        config = ListenerConfig(
            host=settings.smtp_host, port=settings.smtp_port, spool_dir=self.spool.directory,
            max_message_bytes=settings.smtp_max_message_bytes, hostname=settings.bot_domain,
            accepted_domains=tuple(settings.accepted_domains), log_level=settings.log_level)
        listener = SmtpListener(config, on_spooled=self._spool_wake.set)
        self.smtp_port = await listener.start()
        self.smtp_listener = listener

    def _start_imap(self) -> None:
        if self.app.settings.imap_host:
            self._imap = ImapWatcher(  # stores in batches; handling happens in _inbound_worker
                self.app, on_processed=self.wake_outbox, on_stored=self.enqueue)
            self._imap.start()

    async def _shutdown(self, workers: list[asyncio.Task[None]]) -> None:
        await self._stop_children()
        if self.dashboard is not None:
            await self.dashboard.stop()
        if self._downloads is not None:
            await asyncio.to_thread(self._downloads.stop)
        if self._telegram is not None:
            await self._telegram.stop()
        if self._imap is not None:
            await asyncio.to_thread(self._imap.stop)
        if self.smtp_listener is not None:
            await self.smtp_listener.stop()
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        clear_heartbeat(heartbeat_path(self.app.settings))
        log.info("daemon stopped")

    async def _heartbeat_worker(self) -> None:
        """`stelloloxon-bot health` reads this file: fresh means the loop is alive."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self._beat()

    async def _beat(self) -> None:
        path = heartbeat_path(self.app.settings)
        smtp = ((self.app.settings.smtp_host, self.smtp_port)
                if self.smtp_port is not None else None)
        try:
            await asyncio.to_thread(write_heartbeat, path, smtp)
        except OSError as exc:  # a full disk must not stop the daemon; health will say
            log_failure(log, "writing the heartbeat failed", exc)

    async def _spool_worker(self) -> None:
        """Import spooled SMTP mail (also what a crash left) and queue it for handling."""
        while True:
            self._spool_wake.clear()
            try:
                await asyncio.to_thread(self.spool.drain, self.app, self.enqueue)
            except Exception as exc:  # the files stay; the next round retries them
                log_failure(log, "importing spooled mail failed", exc)
                await asyncio.sleep(1)
            await self._spool_wake.wait()

    async def _inbound_worker(self) -> None:
        """Claim and handle waiting messages a batch per transaction (bot.pipeline), in one
        worker-thread call while any are waiting: a hop between threads per message cost more
        than a third of the handling time in a burst (GIL hand-overs). A stored id in the
        queue is only a wake-up; on PostgreSQL the worker also looks every
        CLAIM_POLL_SECONDS for mail that other processes stored."""
        poll = CLAIM_POLL_SECONDS if self.app.engine.dialect.name == "postgresql" else None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.get(), poll)
            while not self._queue.empty():
                self._queue.get_nowait()
            try:
                await asyncio.to_thread(self._handle_waiting)
            except Exception as exc:  # the database went away: the rows wait for next time
                log_failure(log, "handling a batch failed", exc)
                await asyncio.sleep(1)

    def _handle_waiting(self) -> None:
        while process_batch(self.app, INBOUND_BATCH):
            self.wake_outbox()  # replies go out while the next batch is handled

    async def _outbox_worker(self) -> None:
        chat = self._telegram.transport() if self._telegram is not None else None
        transport = make_transport(self.app, chat=chat)
        while True:
            try:
                await asyncio.to_thread(deliver_due, self.app, transport)
            except Exception as exc:  # a database hiccup must not kill delivery for good
                log_failure(log, "outbox delivery round failed", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox_wake.wait(),
                                       self.app.settings.outbox_poll_seconds)
            self._outbox_wake.clear()

    def _install_signal_handlers(self) -> None:
        assert self._loop is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(sig, self._stop.set)
