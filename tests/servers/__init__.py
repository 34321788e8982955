"""Throw-away real servers for tests: Dovecot (IMAP), PostgreSQL and a capturing SMTP sink.

Each server lives in its own temporary directory, listens on 127.0.0.1 on a free port and is
torn down completely by ``stop()`` (or by leaving the ``with`` block).  The pytest fixtures that
wrap them are in :mod:`tests.servers.fixtures`.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

__all__ = [
    "ServerError",
    "free_port",
    "is_root",
    "pid_alive",
    "port_open",
    "tail",
    "wait_for_port",
]


class ServerError(RuntimeError):
    """A test server could not be started (the message includes the end of its log)."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on *host* that was free a moment ago (bind to port 0, then release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 10.0, *, alive=None) -> bool:
    """Poll until *host*:*port* accepts TCP connections; False on timeout.

    *alive*, if given, is a callable returning False once the server process is known to be
    dead, which ends the wait early.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        if alive is not None and not alive():
            return False
        time.sleep(0.02)
    return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; treat it as dead.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def is_root() -> bool:
    return os.geteuid() == 0


def tail(path: Path, lines: int = 30) -> str:
    """The last *lines* lines of a log file, or a note that it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log at {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])
