"""The daemon: start the channels and workers in one asyncio loop, stop them in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from bot.channels.imap import ImapWatcher, record_first_start
from bot.channels.outbound import deliver_due, make_transport
from bot.channels.smtp import ListenerConfig, SmtpListener
from bot.context import App
from bot.downloads import DownloadServer
from bot.logsafe import log_failure
from bot.pipeline import process_inbound, process_pending
from bot.scheduler import start_scheduler, stop_scheduler
from bot.spool import Spool
from bot.understand import warm_up

log = logging.getLogger(__name__)
INBOUND_BATCH = 50  # messages handled per worker-thread call


class Daemon:
    """Owns the listeners and workers; `serve()` runs until `request_stop()`."""

    def __init__(self, app: App) -> None:
        self.app = app
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
                   asyncio.create_task(self._spool_worker(), name="spool"),
                   asyncio.create_task(self._outbox_worker(), name="outbox")]
        scheduler = None
        try:  # a part that cannot start (e.g. the SMTP port is taken) stops the rest again
            await self._start_smtp()
            self._start_imap()
            await self._start_telegram()
            scheduler = await asyncio.to_thread(start_scheduler, self.app)
            self._start_downloads()
            await self._start_dashboard()
            self.ready.set()
            await self._stop.wait()
        finally:
            await asyncio.to_thread(stop_scheduler, scheduler)
            await self._shutdown(workers)

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
        log.info("daemon stopped")

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
        """Handle queued messages, each in its own transaction, but all that are waiting in
        one worker-thread call: a hop between threads per message cost more than a third of
        the handling time in a burst (GIL hand-overs)."""
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < INBOUND_BATCH:
                batch.append(self._queue.get_nowait())
            await asyncio.to_thread(self._handle_batch, batch)

    def _handle_batch(self, batch: list[int]) -> None:
        for inbound_id in batch:
            process_inbound(self.app, inbound_id)
            self.wake_outbox()  # replies go out while the rest of the batch is handled

    async def _outbox_worker(self) -> None:
        await self.ready.wait()  # the chat channel, if any, is up
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
