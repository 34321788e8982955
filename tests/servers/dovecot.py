"""A private Dovecot IMAP server on 127.0.0.1 for tests.

Any user name logs in with the password ``secret`` (static passdb); mailboxes are Maildirs in a
temporary directory and are created on first login.  Messages are delivered with IMAP APPEND,
which wakes up IDLE-ing clients exactly like real delivery does (Dovecot announces new mail to an
IDLE client roughly 0.5 s after it arrives).

    with DovecotServer() as imap:
        imap.deliver("bot@example.test", raw_bytes)
        IMAPClient(imap.host, imap.port, ssl=False).login("bot@example.test", imap.password)

``DovecotServer(idle=False)`` overrides ``imap_capability`` so IDLE is not advertised (neither
before nor after login); imapclient then refuses ``idle()`` with CapabilityError, which is what a
client's polling fallback keys on.
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

from tests.servers import ServerError, free_port, is_root, pid_alive, port_open, tail, wait_for_port

__all__ = ["DOVECOT_BIN", "NOIDLE_CAPABILITY", "DovecotServer", "dovecot_binary"]

DOVECOT_BIN = "dovecot"

# Dovecot 2.3.19's post-login capability list minus IDLE (and minus NOTIFY, which implies a
# push mechanism too).  Used verbatim for ``imap_capability`` when idle=False.
NOIDLE_CAPABILITY = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
    "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW "
    "STATUS=SIZE SAVEDATE LITERAL+"
)

_counter = itertools.count(1)


def dovecot_binary() -> str | None:
    """Path of the dovecot binary, or None (it lives in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which(DOVECOT_BIN)
    if found:
        return found
    for candidate in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _remove(directory: Path | None) -> None:
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _finish_stop(pid: int, directory: Path | None, grace: float) -> None:
    """Wait up to *grace* s for the (already SIGTERMed) master to exit, then SIGKILL it and
    its children (a master stopped right after start-up can linger ~6 s), and clean up."""
    deadline = time.monotonic() + grace
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if pid_alive(pid):
        for victim in [*_children(pid), pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    _remove(directory)


class DovecotServer:
    """Dovecot on 127.0.0.1:<free port>, IMAP only, no TLS, password ``secret`` for everyone.

    Attributes: ``host``, ``port``, ``password``, ``directory`` (temp dir), ``log_path``,
    ``idle`` (whether IDLE is advertised).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        idle: bool = True,
        password: str = "secret",
        separator: str | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        """*separator*: hierarchy separator for folder names; None keeps Dovecot's
        Maildir default ``.`` (``"/"`` makes it look like Gmail/Exchange)."""
        self.idle = idle
        self.password = password
        self.separator = separator
        self.start_timeout = start_timeout
        self.port = 0
        self.directory: Path | None = None
        self.pid: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        assert self.directory is not None, "server not started"
        return self.directory / "dovecot.log"

    @property
    def config_path(self) -> Path:
        assert self.directory is not None, "server not started"
        return self.directory / "dovecot.conf"

    def log(self, lines: int = 40) -> str:
        """The last *lines* lines of Dovecot's log (handy in assertion messages)."""
        return tail(self.log_path, lines)

    def start(self) -> DovecotServer:
        if self.pid is not None:
            return self
        binary = dovecot_binary()
        if binary is None:
            raise ServerError("dovecot binary not found (install dovecot-imapd)")
        last_error: Exception | None = None
        for _attempt in range(3):  # the free port can be stolen between probe and bind
            self._make_directory()
            self.port = free_port(self.host)
            self._write_config()
            try:
                self._launch(binary)
                return self
            except ServerError as exc:
                last_error = exc
                self._cleanup_directory()
                if "Address already in use" not in str(exc):
                    break
        assert last_error is not None
        raise last_error

    def stop(self, *, wait: bool = True, grace: float = 1.5) -> None:
        """SIGTERM the master and wait for it to exit: normally ~1.1 s (Dovecot gives its log
        process a fixed second and keeps its listeners open until then); after *grace* s the
        master and its children are SIGKILLed.  With ``wait=False`` this returns at once and
        a non-daemon thread does the waiting and removes the temp dir (the interpreter joins
        it at exit, so nothing is left behind)."""
        pid, self.pid = self.pid, None
        directory, self.directory = self.directory, None
        if pid is None:
            _remove(directory)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if wait:
            _finish_stop(pid, directory, grace)
        else:
            threading.Thread(
                target=_finish_stop, args=(pid, directory, grace), name=f"dovecot-stop-{pid}"
            ).start()

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"{self.host}:{self.port}" if self.pid else "stopped"
        return f"<DovecotServer {state} idle={self.idle}>"

    # -- helpers for tests ---------------------------------------------------------------

    @staticmethod
    def new_user(prefix: str = "user", domain: str = "example.test") -> str:
        """A user name (e-mail address) that no other test uses, so the shared session
        server needs no cleanup between tests."""
        return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:8]}@{domain}"

    @contextlib.contextmanager
    def client(self, user: str, *, timeout: float = 10.0) -> Iterator[IMAPClient]:
        """A logged-in IMAPClient for *user* (logged out on exit)."""
        conn = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        try:
            conn.login(user, self.password)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def deliver(
        self,
        user: str,
        raw: bytes | str,
        folder: str = "INBOX",
        *,
        flags: tuple[str | bytes, ...] = (),
        msg_time: datetime | None = None,
    ) -> int | None:
        """APPEND *raw* to *user*'s *folder* (created if missing); returns the new UID."""
        if isinstance(raw, str):
            raw = raw.encode()
        if b"\r\n" not in raw:
            raw = raw.replace(b"\n", b"\r\n")
        with self.client(user) as conn:
            if folder.upper() != "INBOX" and not conn.folder_exists(folder):
                conn.create_folder(folder)
            response = conn.append(folder, raw, flags=flags, msg_time=msg_time)
        # b'[APPENDUID <uidvalidity> <uid>] Append completed.'
        text = response.decode(errors="replace") if isinstance(response, bytes) else str(response)
        if text.startswith("[APPENDUID "):
            return int(text.split()[2].rstrip("]"))
        return None

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Raw bytes of every message in *folder*, in UID order (does not set \\Seen)."""
        return [raw for _uid, raw in self.messages_by_uid(user, folder).items()]

    def messages_by_uid(self, user: str, folder: str = "INBOX") -> dict[int, bytes]:
        with self.client(user) as conn:
            uids = _select_all(conn, folder)
            if not uids:
                return {}
            data = conn.fetch(uids, ["BODY.PEEK[]"])
        return {uid: data[uid][b"BODY[]"] for uid in sorted(data)}

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """{UID: flags} for *folder*, e.g. ``{1: (b'\\\\Seen',)}``."""
        with self.client(user) as conn:
            uids = _select_all(conn, folder)
            return dict(sorted(conn.get_flags(uids).items())) if uids else {}

    def folders(self, user: str) -> list[str]:
        """Names of all of *user*'s folders (INBOX included)."""
        with self.client(user) as conn:
            return [name for _flags, _delim, name in conn.list_folders()]

    def wait_for_messages(
        self, user: str, count: int, folder: str = "INBOX", timeout: float = 10.0
    ) -> list[bytes]:
        """Poll until *folder* holds at least *count* messages; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(user, folder)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{user}/{folder}: {len(found)} message(s) after {timeout}s, wanted {count}"
                )
            time.sleep(0.1)

    # -- internals -----------------------------------------------------------------------

    def _users(self) -> tuple[str, str, str]:
        """(mail user, internal user, login user)."""
        if is_root():
            return "dovecot", "dovecot", "dovenull"
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, me

    def _make_directory(self) -> None:
        # Must be traversable by the dovecot/dovenull users, so not under a 0700 pytest tmp dir.
        base = "/tmp" if is_root() else None
        directory = Path(tempfile.mkdtemp(prefix="dovecot-", dir=base))
        directory.chmod(0o755)
        (directory / "run").mkdir(mode=0o755)
        (directory / "mail").mkdir(mode=0o755)
        if is_root():
            mail_user = self._users()[0]
            pw = pwd.getpwnam(mail_user)
            os.chown(directory / "mail", pw.pw_uid, grp.getgrgid(pw.pw_gid).gr_gid)
        self.directory = directory

    def _cleanup_directory(self) -> None:
        directory, self.directory = self.directory, None
        _remove(directory)

    def _write_config(self) -> None:
        d = self.directory
        assert d is not None
        mail_user, internal_user, login_user = self._users()
        mail_group = grp.getgrgid(pwd.getpwnam(mail_user).pw_gid).gr_name
        lines = [
            "protocols = imap",
            f"listen = {self.host}",
            f"base_dir = {d}/run",
            f"state_dir = {d}/run",
            f"log_path = {d}/dovecot.log",
            "ssl = no",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "auth_verbose = yes",
            f"mail_location = maildir:{d}/mail/%u",
            "service imap-login {",
            "  inet_listener imap {",
            f"    address = {self.host}",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
            "    port = 0",
            "  }",
            "}",
            "passdb {",
            "  driver = static",
            f"  args = password={self.password}",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={mail_user} gid={mail_group} home={d}/mail/%u",
            "}",
            f"mail_uid = {mail_user}",
            f"mail_gid = {mail_group}",
            "first_valid_uid = 1",
            f"default_internal_user = {internal_user}",
            f"default_login_user = {login_user}",
            # No auth penalty: otherwise one failed login (e.g. a wrong-password test) delays
            # every later login from 127.0.0.1 by 2..15 s.  Mode 0 makes the auth process
            # unable to reach anvil's penalty socket, which disables the feature.
            "auth_failure_delay = 0",
            "service anvil {",
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
            # IDLE normally reacts to inotify within ~0.5 s; this is the fallback poll.
            "mailbox_idle_check_interval = 1 secs",
        ]
        if self.separator is not None:
            lines += [
                "namespace inbox {",
                "  inbox = yes",
                f"  separator = {self.separator}",
                "}",
            ]
        if not self.idle:
            lines.append(f"imap_capability = {NOIDLE_CAPABILITY}")
        self.config_path.write_text("\n".join(lines) + "\n")

    def _launch(self, binary: str) -> None:
        d = self.directory
        assert d is not None
        # The daemon inherits stdout/stderr, so pipes would never reach EOF: use a file.
        stderr_path = d / "dovecot.stderr"
        with stderr_path.open("wb") as stderr:
            returncode = subprocess.call(
                [binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                timeout=self.start_timeout,
            )
        if returncode != 0:
            raise ServerError(
                f"dovecot exited with {returncode}: {tail(stderr_path)}\n"
                f"--- {self.log_path} ---\n{self.log()}"
            )
        pid_file = d / "run" / "master.pid"
        deadline = time.monotonic() + self.start_timeout
        # the file appears before its content: wait for a whole line
        while time.monotonic() < deadline and not (
                pid_file.exists() and pid_file.read_text().strip()):
            time.sleep(0.01)
        try:
            self.pid = int(pid_file.read_text().strip())
        except (OSError, ValueError) as exc:
            raise ServerError(
                f"dovecot did not write {pid_file}: {exc}\n--- log ---\n{self.log()}"
            ) from exc
        remaining = max(0.5, deadline - time.monotonic())
        pid = self.pid
        if not wait_for_port(self.host, self.port, remaining, alive=lambda: pid_alive(pid)):
            log = self.log()
            self.stop()  # also removes the directory, hence the log is read first
            raise ServerError(
                f"dovecot did not accept connections on {self.host}:{self.port}"
                f" within {self.start_timeout}s\n--- log ---\n{log}"
            )

    def is_running(self) -> bool:
        return self.pid is not None and pid_alive(self.pid) and port_open(self.host, self.port)


def _select_all(conn: IMAPClient, folder: str) -> list[int]:
    """Select *folder* read-only and return all its UIDs ([] if it does not exist)."""
    if not conn.folder_exists(folder):
        return []
    conn.select_folder(folder, readonly=True)
    return list(conn.search("ALL"))
