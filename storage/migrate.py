"""Schema versions with Alembic: where a database is, bringing it to this release, checks.

States of a database:
- empty: no tables yet. `create_schema` makes it with create_all and stamps the head (fast,
  and the same schema: tests/unit/test_migrations.py checks that models and revisions agree).
- legacy: tables from a release before migrations (no alembic_version); the baseline revision
  adopts it, keeping its rows, and later revisions follow.
- versioned: alembic_version says where it is; `upgrade` applies what is missing.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from storage import models

assert models  # importing registers the tables on SQLModel.metadata

log = logging.getLogger(__name__)
# Alembic's per-step INFO lines ('Context impl SQLiteImpl') would land in every CLI command's
# output; upgrades are logged by this module instead.
logging.getLogger("alembic").setLevel(logging.WARNING)

SCRIPT_LOCATION = "storage:migrations"
VERSION_TABLE = "alembic_version"
# tables in the same database that are not ours to migrate (APScheduler makes its own)
FOREIGN_TABLES = frozenset({"apscheduler_jobs", VERSION_TABLE})
UPGRADE_HINT = "run `stelloloxon-bot db upgrade`"

State = Literal["empty", "legacy", "versioned"]


class SchemaOutOfDate(Exception):
    """The database is not at this release's schema (and may not be upgraded here)."""


@dataclass(frozen=True)
class SchemaStatus:
    state: State
    current: str | None  # revision in alembic_version; None when empty or legacy
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.state == "versioned" and self.current == self.head


def include_object(obj: Any, name: str | None, kind: str, reflected: bool, _other: Any) -> bool:
    """Autogenerate looks at our tables only (not APScheduler's nor Alembic's own)."""
    return not (kind == "table" and name in FOREIGN_TABLES)


def alembic_config(connection: Connection | None = None, stdout: Any = None) -> Config:
    config = Config(stdout=stdout or io.StringIO())
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("file_template", "%%(rev)s")  # rev ids are 000N_slug already
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = scripts().get_current_head()
    assert head is not None, "no migration revisions found"
    return head


def status(engine: Engine) -> SchemaStatus:
    with engine.connect() as conn:
        return _status(conn)


def _status(conn: Connection) -> SchemaStatus:
    tables = set(inspect(conn).get_table_names()) - FOREIGN_TABLES
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None:
        return SchemaStatus("versioned", current, head_revision())
    return SchemaStatus("legacy" if tables else "empty", None, head_revision())


def describe(found: SchemaStatus) -> str:
    """One line for people: where the database is and where this release is."""
    if found.state == "empty":
        return f"database is empty; this release needs schema {found.head}"
    if found.state == "legacy":
        return (f"database is from a release before migrations; this release needs schema "
                f"{found.head}")
    if found.up_to_date:
        return f"database schema is at {found.head} (this release's)"
    return f"database schema is at {found.current}; this release needs {found.head}"


def ensure_schema(engine: Engine, *, upgrade: bool) -> SchemaStatus:
    """Bring the database to head (upgrade=True) or refuse with what to run (False)."""
    found = status(engine)
    if found.up_to_date:
        return found
    if not upgrade:
        raise SchemaOutOfDate(f"{describe(found)}: {UPGRADE_HINT}")
    if found.state == "empty":
        _create_fresh(engine)
    else:
        log.info("%s: upgrading", describe(found))
        upgrade_to(engine)
    return status(engine)


def _create_fresh(engine: Engine) -> None:
    """The models' tables at once plus the head stamp: what the revisions would build."""
    with engine.begin() as conn:
        SQLModel.metadata.create_all(conn)
        MigrationContext.configure(conn).stamp(scripts(), "head")


def upgrade_to(engine: Engine, revision: str = "head") -> None:
    """Apply the revisions up to *revision* (an empty database gets them all)."""
    with migration_connection(engine) as conn:
        command.upgrade(alembic_config(conn), revision)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction; on SQLite with foreign keys off while batch mode
    copies tables (rows would otherwise cascade or fail on the copy), on again after."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction, or no-op
            conn.commit()
        try:
            with conn.begin():
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def differences(engine: Engine) -> list[Any]:
    """What autogenerate sees between the models and the database (empty: they agree)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_object": include_object, "compare_type": True,
            "target_metadata": SQLModel.metadata})
        return list(compare_metadata(context, SQLModel.metadata))


def history_lines() -> list[str]:
    """Revisions newest first: `id  (head)  message`."""
    head = head_revision()
    lines = []
    for script in scripts().walk_revisions():
        mark = "  (head)" if script.revision == head else ""
        lines.append(f"{script.revision}{mark}  {script.doc}")
    return lines


def new_revision(engine: Engine, message: str) -> str:
    """Write an autogenerated revision (models vs this database, which must be at head)."""
    number = sum(1 for _ in scripts().walk_revisions()) + 1
    slug = "_".join("".join(c if c.isalnum() else " " for c in message.lower()).split())[:40]
    with migration_connection(engine) as conn:
        result = command.revision(alembic_config(conn), message, autogenerate=True,
                                  rev_id=f"{number:04d}_{slug}")
    script = result[0] if isinstance(result, list) else result
    assert script is not None
    return str(script.path)
