"""`stelloloxon-bot health`: is the installation working? (a container HEALTHCHECK runs it)

Three checks, each one line: the database answers and its schema is this release's; the
daemon's heartbeat file (written by `run` every HEARTBEAT_SECONDS into data_dir) is fresh;
the SMTP listener the heartbeat names answers with a 220 greeting.
"""

from __future__ import annotations

import json
import os
import smtplib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Settings
from storage.db import DatabaseConfigError, check_connection, make_engine
from storage.migrate import describe, status

HEARTBEAT_FILE = "daemon.heartbeat"
HEARTBEAT_SECONDS = 10.0
MAX_AGE_SECONDS = 60.0  # a heartbeat older than this: the daemon hangs or is gone
WILDCARD_HOSTS = {"", "0.0.0.0", "::"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def heartbeat_path(settings: Settings) -> Path:
    return settings.data_dir / HEARTBEAT_FILE


def write_heartbeat(path: Path, smtp: tuple[str, int] | None) -> None:
    """Atomically replace the heartbeat: wall-clock time, pid and the SMTP listener."""
    beat = {"at": time.time(), "pid": os.getpid(),
            "smtp": {"host": smtp[0], "port": smtp[1]} if smtp else None}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(beat))
    tmp.replace(path)


def clear_heartbeat(path: Path) -> None:
    path.unlink(missing_ok=True)


def check_database(settings: Settings) -> Check:
    try:
        engine = make_engine(settings.database_url)
        check_connection(engine)
        found = status(engine)
        engine.dispose()
    except DatabaseConfigError as exc:
        return Check("database", False, str(exc))
    return Check("database", found.up_to_date, describe(found))


def read_heartbeat(path: Path) -> dict[str, Any] | None:
    try:
        beat = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return beat if isinstance(beat, dict) else None


def check_heartbeat(beat: dict[str, Any] | None, max_age: float) -> Check:
    if beat is None:
        return Check("daemon", False, "no heartbeat: is `stelloloxon-bot run` running?")
    age = time.time() - float(beat.get("at", 0))
    detail = f"heartbeat {age:.0f} s ago (pid {beat.get('pid')})"
    return Check("daemon", age <= max_age, detail if age <= max_age else f"stale: {detail}")


def check_smtp(beat: dict[str, Any] | None, timeout: float = 5.0) -> Check | None:
    """None when the daemon runs no SMTP listener (or there is no heartbeat to say so)."""
    smtp = (beat or {}).get("smtp")
    if not smtp:
        return None
    host = "127.0.0.1" if smtp["host"] in WILDCARD_HOSTS else str(smtp["host"])
    where = f"{host}:{smtp['port']}"
    try:
        with smtplib.SMTP(host, int(smtp["port"]), timeout=timeout) as client:
            client.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return Check("smtp", False, f"{where} does not answer ({exc})")
    return Check("smtp", True, f"{where} answers")


def run_checks(settings: Settings, max_age: float = MAX_AGE_SECONDS) -> list[Check]:
    beat = read_heartbeat(heartbeat_path(settings))
    checks = [check_database(settings), check_heartbeat(beat, max_age)]
    smtp = check_smtp(beat)
    return checks + ([smtp] if smtp else [])
