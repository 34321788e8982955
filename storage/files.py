"""Content-addressed file store for client files: bytes are named by their sha256.

Files are written atomically (temp file + rename), never executed, and read in chunks so
large models never sit in memory whole.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    key: str  # path relative to the store root


class FileTooLarge(Exception):
    """The stream exceeded the configured limit; nothing was kept."""


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def key_for(self, sha256: str) -> str:
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path(self, key: str) -> Path:
        resolved = (self.root / key).resolve()
        if self.root.resolve() not in resolved.parents:
            raise ValueError("key escapes the file store")
        return resolved

    def put_bytes(self, data: bytes) -> StoredFile:
        return self.put_stream([data])

    def put_stream(self, chunks: Iterable[bytes], *, limit: int | None = None) -> StoredFile:
        """Store a stream; raises FileTooLarge (keeping nothing) past `limit` bytes."""
        writer = self.writer(limit=limit)
        try:
            for chunk in chunks:
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.commit()

    def writer(self, *, limit: int | None = None) -> IncomingFile:
        """A file written piece by piece (push style), committed under its hash at the end."""
        self.root.mkdir(parents=True, exist_ok=True)
        return IncomingFile(self, limit)

    def open_chunks(self, key: str) -> Iterator[bytes]:
        with self.path(key).open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> bool:
        """Overwrite then unlink; True if a file was there."""
        target = self.path(key)
        if not target.exists():
            return False
        size = target.stat().st_size
        with target.open("r+b") as handle:
            remaining = size
            while remaining > 0:
                n = min(CHUNK, remaining)
                handle.write(b"\0" * n)
                remaining -= n
            handle.flush()
            os.fsync(handle.fileno())
        target.unlink()
        return True


class IncomingFile:
    """A file being written into the store; nothing is visible until commit()."""

    def __init__(self, store: FileStore, limit: int | None) -> None:
        self.store, self.limit = store, limit
        self.digest, self.size = hashlib.sha256(), 0
        fd, self.tmp = tempfile.mkstemp(dir=store.root, prefix=".incoming-")
        self.handle = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            self.abort()
            raise FileTooLarge(f"over {self.limit} bytes")
        self.digest.update(chunk)
        self.handle.write(chunk)

    def commit(self) -> StoredFile:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        key = self.store.key_for(self.digest.hexdigest())
        final = self.store.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp, final)
        os.chmod(final, 0o640)
        return StoredFile(sha256=self.digest.hexdigest(), size=self.size, key=key)

    def abort(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        Path(self.tmp).unlink(missing_ok=True)

