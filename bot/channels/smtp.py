"""SMTP listener (aiosmtpd) in its own process: spool the raw message, then answer 250.

The listener only writes durable spool files (bot.spool), so it needs no database and runs in
a child process of its own: accepting mail never waits for the pipeline's CPU-bound handling
(one GIL per process), and a burst is taken in at the speed of the disk. The child tells the
daemon "something was spooled" over a pipe; the daemon imports and handles the files. The child
exits when the daemon goes away (its end of the pipe closes), and the daemon restarts a child
that died. 451 when the fault is ours, 552 over the size limit, 550 for foreign domains.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.logsafe import log_failure
from bot.spool import Spool

log = logging.getLogger(__name__)
BIND_RETRY_SECONDS = 2.0  # a listener from a killed daemon may still be letting go of the port
WAKE_COALESCE_SECONDS = 0.002  # one wake-up for a run of messages, not one per message
RESTART_DELAY_SECONDS = 1.0


class SmtpListenError(OSError):
    """The listener could not start; the message is one line for the operator."""


@dataclass(frozen=True)
class ListenerConfig:
    """What the child process needs (plain values: it is pickled into a fresh interpreter)."""

    host: str
    port: int
    spool_dir: Path
    max_message_bytes: int
    hostname: str
    accepted_domains: tuple[str, ...]
    log_level: str = "INFO"


class InboundHandler:
    """aiosmtpd handler: accepts mail for our domains only and spools it."""

    def __init__(self, spool: Spool, on_spooled: Callable[[], None],
                 accepted_domains: list[str] | tuple[str, ...]) -> None:
        self.spool = spool
        self.on_spooled = on_spooled
        self.accepted_domains = tuple(d.lower() for d in accepted_domains)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain not in self.accepted_domains:
            return "550 5.7.1 Relaying denied: not a mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            await asyncio.to_thread(self.spool.put, raw)  # fsyncs overlap across connections
        except Exception as exc:
            log_failure(log, "could not spool an inbound SMTP message; sender asked to retry",
                        exc)
            return "451 4.3.0 Temporary failure, please try again later"
        self.on_spooled()
        return "250 2.0.0 Message accepted"


async def serve(config: ListenerConfig, on_spooled: Callable[[], None]) -> asyncio.Server:
    """Listen in the running loop (aiosmtpd's Controller would add a thread)."""
    handler = InboundHandler(Spool(config.spool_dir), on_spooled, config.accepted_domains)

    def factory() -> SMTP:
        return SMTP(handler, data_size_limit=config.max_message_bytes, enable_SMTPUTF8=True,
                    decode_data=False, hostname=config.hostname, ident="stelloloxon-bot ESMTP")

    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + BIND_RETRY_SECONDS
    while True:
        try:
            return await loop.create_server(factory, host=config.host, port=config.port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def bound_port(server: asyncio.Server) -> int:
    sockets: Any = server.sockets
    return int(sockets[0].getsockname()[1])


# ---------------------------------------------------------------------- the child process
def _child_main(config: ListenerConfig, conn: Connection) -> None:
    logging.basicConfig(level=config.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s[smtp]: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # it logs peers and addresses
    # Ctrl-C reaches the whole process group: the daemon decides when the listener stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_child_serve(config, conn))


async def _child_serve(config: ListenerConfig, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    wake_pending = False

    def flush_wake() -> None:
        nonlocal wake_pending
        wake_pending = False
        with contextlib.suppress(OSError):  # the daemon is gone: the files wait for the next
            conn.send_bytes(b"+")

    def on_spooled() -> None:
        nonlocal wake_pending
        if not wake_pending:
            wake_pending = True
            loop.call_later(WAKE_COALESCE_SECONDS, flush_wake)

    try:
        server = await serve(config, on_spooled)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        conn.send(("error", f"cannot listen for SMTP on {config.host}:{config.port}: {reason}"))
        return
    conn.send(("port", bound_port(server)))
    log.info("SMTP listener on %s:%d", config.host, bound_port(server))
    done = asyncio.Event()

    def on_daemon() -> None:  # the daemon only ever says "stop"; EOF means it died
        with contextlib.suppress(EOFError, OSError):
            conn.recv_bytes()
        loop.remove_reader(conn.fileno())
        done.set()

    loop.add_reader(conn.fileno(), on_daemon)
    await done.wait()
    server.close()
    await server.wait_closed()


# ---------------------------------------------------------------------- the daemon's side
class SmtpListener:
    """Runs the listener child; `start()` returns the bound port, `stop()` ends it."""

    def __init__(self, config: ListenerConfig, on_spooled: Callable[[], None]) -> None:
        self.config = config
        self.on_spooled = on_spooled
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._sentinel: int | None = None  # a pidfd: readable once the child has exited
        self._conn: Connection | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> int:
        self._loop = asyncio.get_running_loop()
        port = await self._spawn(self.config.port)
        self.port = port
        return port

    async def _spawn(self, port: int) -> int:
        # a fresh interpreter running only the listener's entry module (bot.smtp_child): no
        # fork of our threads, and none of the daemon's imports
        ours, theirs = Pipe()
        config = ListenerConfig(**{**self.config.__dict__, "port": port})
        process = subprocess.Popen([sys.executable, "-m", "bot.smtp_child", str(theirs.fileno())],
                                   pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        ours.send(config)
        sentinel = os.pidfd_open(process.pid)
        kind, value = await asyncio.to_thread(_first_word, ours, process)
        if kind != "port":
            ours.close()
            os.close(sentinel)
            await asyncio.to_thread(_join, process, 5)
            raise SmtpListenError(str(value))
        self._process, self._conn, self._sentinel = process, ours, sentinel
        assert self._loop is not None
        self._loop.add_reader(ours.fileno(), self._on_wake)
        self._loop.add_reader(sentinel, self._on_exit)
        return int(value)

    def _on_wake(self) -> None:
        conn = self._conn
        assert conn is not None
        try:
            while conn.poll():
                conn.recv_bytes()
        except (EOFError, OSError):  # the child is gone; _on_exit restarts it
            self._forget_conn()
        self.on_spooled()

    def _forget_conn(self) -> None:
        if self._conn is not None and self._loop is not None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self._conn.fileno())
            self._conn.close()
        self._conn = None

    def _forget_sentinel(self) -> None:
        if self._sentinel is not None:
            if self._loop is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._loop.remove_reader(self._sentinel)
            os.close(self._sentinel)
            self._sentinel = None

    def _on_exit(self) -> None:
        assert self._loop is not None and self._process is not None
        self._forget_sentinel()
        self._forget_conn()
        self.on_spooled()  # anything it spooled before dying is imported
        if self._stopping:
            return
        log.warning("SMTP listener exited (code %s); restarting", self._process.wait())
        self._loop.call_later(RESTART_DELAY_SECONDS,
                              lambda: asyncio.ensure_future(self._restart()))

    async def _restart(self) -> None:
        if self._stopping:
            return
        try:
            await self._spawn(self.port or self.config.port)
        except OSError as exc:
            log_failure(log, "SMTP listener could not restart; trying again", exc)
            assert self._loop is not None
            self._loop.call_later(RESTART_DELAY_SECONDS * 5,
                                  lambda: asyncio.ensure_future(self._restart()))

    async def stop(self) -> None:
        self._stopping = True
        process, conn = self._process, self._conn
        if process is None:
            return
        self._forget_sentinel()
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send_bytes(b"stop")
        self._forget_conn()
        if not await asyncio.to_thread(_join, process, 10):
            process.terminate()
            await asyncio.to_thread(_join, process, 5)


def _join(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for the child to exit; False if it is still running after `timeout`."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _first_word(conn: Connection, process: subprocess.Popen[bytes]) -> tuple[str, object]:
    """The child's first message: ("port", n) or ("error", text); a child that died says
    nothing, and that is an error too."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if conn.poll(0.1):
            try:
                kind, value = conn.recv()
            except EOFError:
                break
            return str(kind), value
        if process.poll() is not None:
            break
    return "error", "the SMTP listener process did not start"
