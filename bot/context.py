"""The bot's dependencies, built once at start-up and passed to every handler (bootstrap)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from threading import Lock

from sqlalchemy.engine import Engine

from bot.authn import DnsTxt
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.replies import Renderer
from storage.db import check_connection, create_schema, make_engine
from storage.files import FileStore


@dataclass
class App:
    settings: Settings
    engine: Engine
    renderer: Renderer
    files: FileStore
    clock: Clock = field(default_factory=SystemClock)
    # one writer at a time keeps SQLite free of lock errors; cheap on PostgreSQL
    write_lock: Lock = field(default_factory=Lock)
    # DKIM key look-ups (bot.authn); None: DNS through dnspython. Tests give a fake resolver.
    dns_txt: DnsTxt | None = None


def _writable_dirs(settings: Settings) -> None:
    """data_dir and the outbox exist and are ours; else one line that says whose they are
    (e.g. a container volume created for root while the daemon runs as `bot`)."""
    for path in (settings.data_dir, settings.outbox_path):
        try:
            path.mkdir(parents=True, exist_ok=True)
            if not os.access(path, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied", str(path))
        except PermissionError:
            raise PermissionError(
                f"cannot write {path} as uid {os.getuid()}: the data directory must belong "
                "to the user the bot runs as") from None


def bootstrap(settings: Settings, clock: Clock | None = None) -> App:
    """Create directories, connect the database, bring its schema to this release's.

    Outside production the schema is upgraded here (an empty database made); production
    refuses an out-of-date one (SchemaOutOfDate: run `stelloloxon-bot db upgrade`)."""
    _writable_dirs(settings)
    engine = make_engine(settings.database_url)
    check_connection(engine)
    create_schema(engine, upgrade=settings.environment != "production")
    return App(
        settings=settings,
        engine=engine,
        renderer=Renderer(settings.templates_dir),
        files=FileStore(settings.files_path),
        clock=clock or SystemClock(),
    )
