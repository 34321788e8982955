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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

DRAIN_BATCH = 200  # messages per import transaction
DRAIN_BATCH_BYTES = 32 * 1024 * 1024

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
        """Import every spooled message (oldest first), a batch per transaction; returns how
        many were imported. A file is removed only after its row is committed."""
        count = 0
        for batch in self._batches(self.pending()):
            count += self._import(app, batch, on_stored, channel)
        return count

    @staticmethod
    def _batches(paths: list[Path]) -> Iterator[list[Path]]:
        batch: list[Path] = []
        size = 0
        for path in paths:
            batch.append(path)
            size += path.stat().st_size
            if len(batch) >= DRAIN_BATCH or size >= DRAIN_BATCH_BYTES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    @staticmethod
    def _import(app: App, batch: list[Path], on_stored: Callable[[int], None],
                channel: str) -> int:
        from bot.intake import RawMail, store_many

        mails = [RawMail(path.read_bytes(), source_key=f"{channel}:{path.stem}")
                 for path in batch]
        results = store_many(app, channel, mails)
        for path, (inbound_id, _) in zip(batch, results, strict=True):
            path.unlink()
            on_stored(inbound_id)
        return len(batch)
