"""The SMTP intake spool: accept fast, never lose mail (Mailman's queue files).

The SMTP listener writes each message to a file (fsync, then an atomic rename) and answers
250 without waiting for the database, where handling holds the single writer. An importer
moves spooled files into `InboundMessage` rows (keyed by file name, so a crash between insert
and unlink imports nothing twice) and hands them to the pipeline; start-up drains what a crash
left behind.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the SMTP listener process imports this module and needs no database
    from bot.context import App


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def put(self, raw: bytes) -> Path:
        """Durably keep one message; only then may the sender be told 250."""
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            target = self.directory / name
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def pending(self) -> list[Path]:
        return sorted(p for p in self.directory.glob("*.eml") if not p.name.startswith("."))

    def drain(self, app: App, on_stored: Callable[[int], None], channel: str = "smtp") -> int:
        """Import every spooled message (oldest first); returns how many were imported."""
        from bot.intake import store_raw

        count = 0
        for path in self.pending():
            inbound_id, _ = store_raw(app, channel, path.read_bytes(),
                                      source_key=f"{channel}:{path.stem}")
            path.unlink()
            on_stored(inbound_id)
            count += 1
        return count
