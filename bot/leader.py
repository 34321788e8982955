"""Leadership: exactly one process on a database runs the singletons (the IMAP watcher, the
Telegram poller, the outbox sender and the APScheduler jobs); every process handles mail.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own: the
lock goes with the connection, so a leader that dies (kill -9, a lost machine) lets go of it
when PostgreSQL notices the connection is gone, and a follower that polls takes over. On
SQLite (one machine by nature) an flock on a file next to the database does the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
LOCK_KEY = 0x53544C4C_4C454144  # "STLLLEAD": the one advisory lock key of the bot


class Leadership:
    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.lock_file = data_dir / "leader.lock"
        self._conn: Any = None  # PostgreSQL: the connection that holds the lock
        self._file: IO[bytes] | None = None

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Take the lead if nobody holds it; never waits."""
        if self.postgres:
            return self._try_pg()
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_file.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def _try_pg(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                    {"k": LOCK_KEY - (1 << 64) if LOCK_KEY >= 1 << 63
                                     else LOCK_KEY}).scalar())
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        """False once the lock may be gone (its connection broke): the caller must step down,
        another process may already lead."""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
        except Exception:
            self.release()
            return False
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()  # never back into the pool with the lock held
            with contextlib.suppress(Exception):
                conn.close()
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
