"""Shared fixtures: an App on a temp dir with a frozen clock, a daemon in a thread, and the
real servers from tests/servers (Dovecot, PostgreSQL, a capture SMTP server)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.config import Settings
from bot.context import App, bootstrap
from bot.daemon import Daemon
from tests import dkimkeys
from tests.servers.fixtures import *  # noqa: F403

START = datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC)
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "var",
            "demo_data": False,
            "smtp_port": 0,
            "staff_senders": ["boss@stelloloxonpro.com"],
            "outbox_poll_seconds": 0.2,
            "imap_poll_seconds": 0.5,
            "scheduler_enabled": False,  # tests that want it turn it on
            "download_enabled": False,  # likewise (it listens on a port)
            "dashboard_enabled": False,  # likewise
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]
    return build


@pytest.fixture
def make_app(make_settings: Callable[..., Settings], clock: FrozenClock) -> Callable[..., App]:
    def build(**overrides: Any) -> App:
        app = bootstrap(make_settings(**overrides), clock=clock)
        app.dns_txt = dkimkeys.dns_txt  # DKIM keys resolve without DNS, to the test key
        return app
    return build


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


class RunningDaemon:
    """A Daemon serving in a background thread with its own event loop."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.daemon = Daemon(app)
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._ready = threading.Event()

    async def _main(self) -> None:
        task = asyncio.create_task(self.daemon.serve())
        await self.daemon.ready.wait()
        self._ready.set()
        await task

    def __enter__(self) -> Daemon:
        self.thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("daemon did not start")
        return self.daemon

    def __exit__(self, *exc: object) -> None:
        self.daemon.request_stop()
        self.thread.join(15)


@pytest.fixture
def run_daemon() -> Callable[[App], RunningDaemon]:
    return RunningDaemon
