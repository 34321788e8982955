"""pytest fixtures for the throw-away servers (``from tests.servers.fixtures import *``).

Fixtures:
    dovecot          session  DovecotServer (IDLE advertised)
    dovecot_noidle   session  DovecotServer(idle=False): IDLE not advertised
    imap_user        function fresh user name (e-mail address) for the shared Dovecot
    postgres_server  session  PostgresServer
    postgres_url     function SQLAlchemy URL of a fresh, empty database (dropped afterwards)
    capture_smtp     function CaptureSMTP, no AUTH, no TLS
    spamd_server     session  SpamdServer (SpamAssassin spamd, local tests only)

Plus plain helpers: ``free_port() -> int``; ``require_dovecot()`` / ``require_postgres()`` apply
the skip-or-fail policy below in tests that start their own servers.

When the dovecot or PostgreSQL binaries are missing, the fixtures skip the test with a reason
naming the missing package, unless the environment variable CI is true, in which case they fail
so a misconfigured CI cannot silently skip the end-to-end tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.servers import free_port
from tests.servers.capture_smtp import CaptureSMTP
from tests.servers.dovecot import DovecotServer, dovecot_binary
from tests.servers.postgres import PostgresServer, postgres_bindir
from tests.servers.spamd import SpamdServer, spamd_binary

__all__ = [
    "capture_smtp",
    "dovecot",
    "dovecot_noidle",
    "free_port",
    "imap_user",
    "postgres_server",
    "postgres_url",
    "require_dovecot",
    "require_postgres",
    "require_spamd",
    "spamd_server",
]

_INSTALL_HINT = "run scripts/install-test-deps.sh as root"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _missing(what: str) -> None:
    """Skip (locally) or fail (CI) because a server binary is missing."""
    reason = f"{what} not installed ({_INSTALL_HINT})"
    if _in_ci():
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def require_dovecot() -> None:
    """Skip (or fail under CI) unless the dovecot binary is installed."""
    if dovecot_binary() is None:
        _missing("dovecot (Debian package dovecot-imapd)")


def require_postgres() -> None:
    """Skip (or fail under CI) unless PostgreSQL's initdb/pg_ctl are installed."""
    if postgres_bindir() is None:
        _missing("PostgreSQL server (Debian package postgresql)")


def require_spamd() -> None:
    """Skip (or fail under CI) unless SpamAssassin's spamd is installed."""
    if spamd_binary() is None:
        _missing("spamd (Debian packages spamassassin and spamd)")


def _start_dovecot(**kwargs: object) -> Iterator[DovecotServer]:
    require_dovecot()
    server = DovecotServer(**kwargs).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop(wait=False)  # port closed at once; the ~1 s exit wait runs in background


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """Session-wide Dovecot; give each test its own user (see ``imap_user``)."""
    yield from _start_dovecot()


@pytest.fixture(scope="session")
def dovecot_noidle() -> Iterator[DovecotServer]:
    """Session-wide Dovecot that does not advertise IDLE (polling fallback tests)."""
    yield from _start_dovecot(idle=False)


@pytest.fixture
def imap_user() -> str:
    """A user name no other test uses (any user logs in with DovecotServer.password)."""
    return DovecotServer.new_user("bot")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    require_postgres()
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL (postgresql+psycopg://) of a new empty database, dropped after the test
    (WITH FORCE, so connections left in an engine pool do not block it)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def capture_smtp() -> Iterator[CaptureSMTP]:
    """Plain SMTP sink on 127.0.0.1 (no AUTH/TLS).  For AUTH, STARTTLS or other options,
    construct ``CaptureSMTP(user=..., password=..., starttls=True)`` in the test."""
    with CaptureSMTP() as server:
        yield server


@pytest.fixture(scope="session")
def spamd_server() -> Iterator[SpamdServer]:
    require_spamd()
    with SpamdServer() as server:
        yield server
