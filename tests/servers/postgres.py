"""A private PostgreSQL cluster on 127.0.0.1 for tests.

    with PostgresServer() as pg:
        engine = create_engine(pg.create_database("t1"))

The cluster lives in a temporary directory on /dev/shm if possible (initdb'ed once per machine
into a cached template ``<dir>/pgtemplate-*`` and copied from there, faster than initdb), with trust
authentication for the superuser ``test`` and durability switched off (fsync,
full_page_writes, synchronous_commit) for speed.
PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
``postgres`` system user (via runuser/su); otherwise it runs as the current user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
from glob import glob
from pathlib import Path

from tests.servers import ServerError, free_port, is_root, tail, wait_for_port

__all__ = ["PostgresServer", "postgres_bindir"]

_TEMPLATE_VERSION = 1  # bump when the initdb options change
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def _base_dir(os_user: str | None) -> str:
    """Where clusters live: /dev/shm (tmpfs: initdb ~0.8 s instead of ~2 s, copying the
    template ~0.1 s instead of ~1.2 s on this VM's disk) when usable, else /tmp, which unlike
    $TMPDIR is reachable by the ``postgres`` user."""
    shm = "/dev/shm"
    try:
        stats = os.statvfs(shm)
        if os.access(shm, os.W_OK | os.X_OK) and stats.f_bavail * stats.f_frsize > 512 << 20:
            return shm
    except OSError:
        pass
    return "/tmp" if os_user else tempfile.gettempdir()


def postgres_bindir() -> Path | None:
    """Directory holding initdb/pg_ctl: newest /usr/lib/postgresql/*/bin, else $PATH."""
    candidates = [p for p in glob("/usr/lib/postgresql/*/bin") if os.path.exists(p + "/initdb")]
    if candidates:
        return Path(max(candidates, key=_version_key))
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    """PostgreSQL on 127.0.0.1:<free port>; superuser ``test``, no password.

    ``url`` points at the ``postgres`` database; ``create_database(name)`` gives each test its
    own database.  URLs use the ``postgresql+psycopg://`` (psycopg 3) SQLAlchemy dialect.
    """

    host = "127.0.0.1"
    user = "test"

    def __init__(
        self,
        *,
        start_timeout: float = 20.0,
        os_user: str | None = None,
        use_template: bool = True,
    ) -> None:
        """*os_user*: system account to run the server as; default ``postgres`` when running
        as root, else the current user.  *use_template*: copy a cached initdb'ed cluster
        (``/dev/shm/pgtemplate-*``) instead of running initdb every time."""
        self.start_timeout = start_timeout
        self.use_template = use_template
        self.port = 0
        self.directory: Path | None = None
        self.bindir: Path | None = None
        if os_user is None and is_root():
            os_user = "postgres"
        self.os_user = os_user
        self._running = False

    # -- URLs --------------------------------------------------------------------------------

    def url_for(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the maintenance database ``postgres``."""
        return self.url_for("postgres")

    @property
    def dsn(self) -> str:
        """libpq connection string (for psycopg.connect) of the ``postgres`` database."""
        return f"host={self.host} port={self.port} user={self.user} dbname=postgres"

    @property
    def log_path(self) -> Path:
        assert self.directory is not None, "server not started"
        return self.directory / "postgres.log"

    def log(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        if self._running:
            return self
        self.bindir = postgres_bindir()
        if self.bindir is None:
            raise ServerError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.directory = Path(tempfile.mkdtemp(prefix="postgres-", dir=_base_dir(self.os_user)))
        self.directory.chmod(0o755)
        if self.os_user:
            pw = pwd.getpwnam(self.os_user)
            os.chown(self.directory, pw.pw_uid, pw.pw_gid)
        try:
            self._init_data_dir(self.directory / "data")
            last: ServerError | None = None
            for _attempt in range(3):  # the probed port may get taken before the server binds
                self.port = free_port(self.host)
                try:
                    self._pg_ctl_start()
                    last = None
                    break
                except ServerError as exc:
                    last = exc
                    if "already in use" not in str(exc):
                        break
            if last is not None:
                raise last
        except BaseException:
            self._cleanup()
            raise
        self._running = True
        return self

    def _initdb(self, data_dir: Path) -> None:
        assert self.bindir is not None
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D", str(data_dir),
                "-A", "trust",
                "-U", self.user,
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            "initdb",
        )  # fmt: skip

    def _template_dir(self) -> Path:
        assert self.bindir is not None
        owner = self.os_user or pwd.getpwuid(os.geteuid()).pw_name
        key = f"{self.bindir.parent.name}-{owner}-{os.geteuid()}-v{_TEMPLATE_VERSION}"
        return Path(_base_dir(self.os_user)) / f"pgtemplate-{key}"

    def _init_data_dir(self, data_dir: Path) -> None:
        """initdb takes ~1-2.5 s; copying a cluster initdb'ed once per machine is ~0.1 s."""
        if not self.use_template:
            self._initdb(data_dir)
            return
        template = self._template_dir()
        if not (template / "data" / "PG_VERSION").exists():
            build = Path(tempfile.mkdtemp(prefix=template.name + ".build-", dir=template.parent))
            build.chmod(0o755)
            if self.os_user:
                pw = pwd.getpwnam(self.os_user)
                os.chown(build, pw.pw_uid, pw.pw_gid)
            try:
                self._initdb(build / "data")
                os.rename(build, template)  # atomic; fails if a concurrent run won the race
            except OSError:
                pass
            finally:
                shutil.rmtree(build, ignore_errors=True)
        try:
            self._run(["cp", "-a", str(template / "data"), str(data_dir)], "copy template")
        except ServerError:
            shutil.rmtree(template, ignore_errors=True)  # damaged cache: rebuild next time
            shutil.rmtree(data_dir, ignore_errors=True)
            self._initdb(data_dir)

    def _pg_ctl_start(self) -> None:
        assert self.directory is not None and self.bindir is not None
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.directory}",
                f"-c listen_addresses={self.host}",
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c synchronous_commit=off",
                "-c max_connections=100",
                "-c log_min_messages=warning",
            ]
        )
        try:
            self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D", str(self.directory / "data"),
                    "-l", str(self.log_path),
                    "-o", options,
                    "-w", "-t", str(int(self.start_timeout)),
                    "start",
                ],
                "pg_ctl start",
            )  # fmt: skip
        except ServerError as exc:
            raise ServerError(f"{exc}\n--- {self.log_path} ---\n{self.log()}") from exc
        if not wait_for_port(self.host, self.port, self.start_timeout):
            log = self.log()
            self._pg_ctl_stop()
            raise ServerError(f"postgres not accepting connections on port {self.port}\n{log}")

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._pg_ctl_stop()
        self._cleanup()

    def _pg_ctl_stop(self) -> None:
        assert self.directory is not None and self.bindir is not None
        with contextlib.suppress(ServerError):
            self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D", str(self.directory / "data"),
                    "-m", "immediate",
                    "-w", "stop",
                ],
                "pg_ctl stop",
            )  # fmt: skip

    def _cleanup(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<PostgresServer {self.url if self._running else 'stopped'}>"

    def _run(self, argv: list[str], what: str) -> None:
        if self.os_user and self.os_user != pwd.getpwuid(os.geteuid()).pw_name:
            if shutil.which("runuser"):
                argv = ["runuser", "-u", self.os_user, "--", *argv]
            else:
                argv = ["su", self.os_user, "-s", "/bin/sh", "-c", shlex.join(argv)]
        # pg_ctl's postmaster inherits stdout/stderr; a file (not a pipe) avoids hanging on EOF.
        with tempfile.TemporaryFile() as out:
            try:
                returncode = subprocess.call(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=self.start_timeout + 10,
                    cwd="/",
                )
            except subprocess.TimeoutExpired as exc:
                raise ServerError(f"{what} timed out: {shlex.join(argv)}") from exc
            out.seek(0)
            output = out.read().decode(errors="replace")
        if returncode != 0:
            raise ServerError(f"{what} failed ({returncode}): {shlex.join(argv)}\n{output}")

    # -- databases -----------------------------------------------------------------------------

    def _connect(self):
        import psycopg

        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)

    def create_database(self, name: str) -> str:
        """CREATE DATABASE *name* (lower-case identifier); returns its SQLAlchemy URL."""
        if not _NAME_RE.match(name):
            raise ValueError(f"database name must match {_NAME_RE.pattern}: {name!r}")
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE *name*, disconnecting any leftover sessions (no error if missing)."""
        if not _NAME_RE.match(name):
            raise ValueError(f"bad database name {name!r}")
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
