"""Engine, sessions and the unit of work; the audit log is append-only here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.sql.util import find_tables
from sqlmodel import Session, SQLModel, create_engine

from storage import models
from storage.migrate import ensure_schema


class DatabaseConfigError(Exception):
    """The database URL is unusable; the message is safe to show (no password)."""


def make_engine(url: str) -> Engine:
    """Create an engine for any SQLAlchemy URL; SQLite gets WAL and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseConfigError(f"bad database URL: {exc}") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        return create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseConfigError(f"no driver for {parsed.drivername}: {exc}") from None


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def create_schema(engine: Engine, *, upgrade: bool = True) -> None:
    """Bring the database to this release's schema through the Alembic revisions
    (storage/migrations); an empty one is made at once (create_all, stamped at the head).

    upgrade=False (production) changes nothing and raises SchemaOutOfDate unless the schema
    is already current: there `stelloloxon-bot db upgrade` is a deliberate step.
    """
    ensure_schema(engine, upgrade=upgrade)


def check_connection(engine: Engine) -> None:
    """Connect once so a bad URL fails at start-up with one clear line."""
    try:
        with engine.connect():
            pass
    except Exception as exc:  # driver errors differ per backend
        url = engine.url.render_as_string(hide_password=True)
        raise DatabaseConfigError(f"cannot connect to database {url}: {exc}") from None


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def audit(
    session: Session,
    action: str,
    /,
    *,
    at: datetime,
    actor: str = "bot",
    case_id: int | None = None,
    client_id: int | None = None,
    inbound_id: int | None = None,
    **details: Any,
) -> None:
    """Append one audit entry in the caller's transaction. Details must hold no message bodies.

    Written at once with a plain INSERT on the session's connection rather than as an ORM
    object: a handled message writes half a dozen entries, and each would otherwise cost a
    flush of its own. Queries in the same transaction see the entry all the same.
    """
    entry: dict[str, Any] = {"at": at, "actor": actor, "action": action, "case_id": case_id,
                             "client_id": client_id, "inbound_id": inbound_id}
    lazy = any(isinstance(v, IdOf) for v in details.values())
    entry["details"] = _LazyDetails(details) if lazy else _details_json(details)
    buffered = session.info.get(AUDIT_BUFFER)
    if buffered is not None:  # a batch collects its entries; flush_audit writes them at once
        buffered.append(entry)
        return
    session.connection().execute(_AUDIT_INSERT, _written(session, [entry]))


class IdOf:
    """The id of an ORM object that may not be flushed yet (an Outbox row queued in a
    batch): a collected row or audit entry holding one gets the id when it is written."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def resolve(self, session: Session) -> Any:
        if self.obj.id is None:
            session.flush()
        return self.obj.id


class _LazyDetails(dict[str, Any]):
    """Audit details with an IdOf among them, serialised when the entry is written."""


def _details_json(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, default=str)


def _resolve(session: Session, value: Any) -> Any:
    if isinstance(value, IdOf):
        return value.resolve(session)
    if isinstance(value, _LazyDetails):
        return _details_json({k: _resolve(session, v) for k, v in value.items()})
    return value


def _written(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with every IdOf replaced by its id (flushing the session once if needed)."""
    return [{k: _resolve(session, v) for k, v in row.items()} for row in rows]


AUDIT_BUFFER = "audit_buffer"  # session.info key: a list while entries are being collected


def flush_audit(session: Session) -> None:
    """Write the collected audit entries in one multi-row INSERT (a handling batch wrote
    seven single-row INSERTs per message); a reader of the audit log in a collecting
    transaction calls this first."""
    buffered = session.info.get(AUDIT_BUFFER)
    if buffered:
        session.connection().execute(_AUDIT_INSERT, _written(session, list(buffered)))
        buffered.clear()


_AUDIT_INSERT = models.AuditLog.__table__.insert()  # type: ignore[attr-defined]

ROW_BUFFER = "row_buffer"  # session.info key: {table: [row values]} while rows are collected


def add_row(session: Session, model: type[SQLModel], **values: Any) -> None:
    """Insert a row nothing refers to by id: collected for one executemany per table when
    the session collects (a handling batch: a message's Message-ID links and communications
    were one INSERT each), else added as an ORM object."""
    buffered = session.info.get(ROW_BUFFER)
    if buffered is None:
        session.add(model(**_written(session, [values])[0]))
        return
    table = model.__table__  # type: ignore[attr-defined]
    # every row with every column (the model's defaults): one executemany takes one shape
    defaults = model().model_dump(exclude={"id"})  # type: ignore[call-arg]
    buffered.setdefault(table, []).append({**defaults, **values})


def flush_rows(session: Session) -> None:
    """Write the collected rows, one executemany INSERT per table. Any query that reads one
    of those tables calls this first (see _rows_before_reading), as autoflush would."""
    buffered = session.info.get(ROW_BUFFER)
    if not buffered:
        return
    pending = list(buffered.items())
    buffered.clear()
    connection = session.connection()
    for table, rows in pending:
        connection.execute(table.insert(), _written(session, rows))


def collecting(session: Session) -> bool:
    """add_row rows are being collected (a message of a handling batch)."""
    return ROW_BUFFER in session.info


@contextmanager
def collecting_rows(session: Session) -> Iterator[None]:
    """Collect add_row rows while the block runs and write them at its end; on an error
    they are dropped (the caller's savepoint rolls back what was written already)."""
    session.info[ROW_BUFFER] = {}
    try:
        yield
        flush_rows(session)
    finally:
        session.info.pop(ROW_BUFFER, None)


@event.listens_for(Session, "do_orm_execute")
def _rows_before_reading(state: ORMExecuteState) -> None:
    buffered = state.session.info.get(ROW_BUFFER)
    if not buffered:
        return
    statement = state.statement
    touched = set(find_tables(statement, include_joins=True, include_aliases=True,
                              include_crud=True))
    if isinstance(statement, TextClause) or touched & set(buffered):
        flush_rows(state.session)


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, models.AuditLog):
            raise PermissionError("the audit log is append-only")
