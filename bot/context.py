"""The bot's dependencies, built once at start-up and passed to every handler (bootstrap)."""

from __future__ import annotations

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


def bootstrap(settings: Settings, clock: Clock | None = None) -> App:
    """Create directories, connect the database, bring its schema to this release's.

    Outside production the schema is upgraded here (an empty database made); production
    refuses an out-of-date one (SchemaOutOfDate: run `stelloloxon-bot db upgrade`)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.outbox_path.mkdir(parents=True, exist_ok=True)
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
