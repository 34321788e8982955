"""Large messages without large memory: attachments are decoded straight into the file store.

A message over the spool threshold is kept as a file (not in the database). Reading it, the
top-level multipart body is walked line by line; each part that is an attachment is decoded
(base64 / quoted-printable) into the content-addressed store as it is read, and everything
else (the text, nested alternatives) is kept in a small "skeleton" message that the ordinary
parser (`bot.mime`) reads. Memory stays near one chunk whatever the attachment's size.
(python-multipart's streaming parser was tried first: it rejects folded headers, which mail
uses everywhere.)
"""

from __future__ import annotations

import binascii
import quopri
from collections.abc import Callable
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO

from bot.mime import (
    Attachment,
    MessageParseError,
    ParsedMessage,
    parse_message,
    safe_filename,
)
from storage.files import FileStore, FileTooLarge, IncomingFile, StoredFile

CHUNK = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024


class _Sink:
    """Decodes one attachment into the store line by line as it is read."""

    def __init__(self, store: FileStore, encoding: str, limit: int | None) -> None:
        self.file: IncomingFile = store.writer(limit=limit)
        self.encoding = encoding
        self.too_large = False
        self.size = 0
        self.pending = bytearray()  # base64 text not yet decoded (kept to a multiple of 4)

    def write_line(self, line: bytes) -> None:
        if self.too_large:
            return
        if self.encoding == "base64":
            self.pending += b"".join(line.split())
            if len(self.pending) >= CHUNK:
                cut = len(self.pending) - len(self.pending) % 4
                self._emit(binascii.a2b_base64(bytes(self.pending[:cut])))
                del self.pending[:cut]
        elif self.encoding == "quoted-printable":
            self._emit(quopri.decodestring(line))
        else:
            self._emit(line)

    def _emit(self, data: bytes) -> None:
        self.size += len(data)
        try:
            self.file.write(data)
        except FileTooLarge:
            self.too_large = True

    def finish(self) -> StoredFile | None:
        if self.pending and not self.too_large:
            self._emit(binascii.a2b_base64(bytes(self.pending) + b"=" * (-len(self.pending) % 4)))
        return None if self.too_large else self.file.commit()


def parse_spooled(path: Path, store: FileStore, *,
                  max_attachment_bytes: int | None = None) -> ParsedMessage:
    """Parse a spooled message; big attachments land in `store` (Attachment.stored)."""
    with path.open("rb") as handle:
        head = _read_head(handle)
        top = BytesHeaderParser(policy=policy.compat32).parsebytes(head)
        boundary = top.get_param("boundary")
        bare_lf = not head.endswith(b"\r\n\r\n")  # the streaming parser needs CRLF
        if top.get_content_maintype() != "multipart" or not isinstance(boundary, str) or bare_lf:
            return parse_message(head + handle.read(),  # not multipart: nothing to split
                                 max_attachment_bytes=max_attachment_bytes)
        small, big = _split(handle, boundary, store, max_attachment_bytes)
    skeleton = head + b"".join(small) + f"\r\n--{boundary}--\r\n".encode()
    parsed = parse_message(skeleton, max_attachment_bytes=max_attachment_bytes)
    parsed.attachments.extend(big)
    parsed.defects.extend(f"attachment {a.filename} too large ({a.size} bytes)"
                          for a in big if a.too_large)
    return parsed


def _read_head(handle: BinaryIO) -> bytes:
    lines = []
    size = 0
    for line in handle:
        lines.append(line)
        size += len(line)
        if line in (b"\r\n", b"\n") or size > MAX_HEADER_BYTES:
            break
    if not lines:
        raise MessageParseError("empty message")
    return b"".join(lines)


def _split(handle: BinaryIO, boundary: str, store: FileStore,
           limit: int | None) -> tuple[list[bytes], list[Attachment]]:
    """Walk the top-level parts line by line: small parts are kept whole for the skeleton,
    attachments are decoded into the store. Headers are parsed by the stdlib (folding etc.);
    only the boundary lines are ours to find."""
    marker = f"--{boundary}".encode()
    small: list[bytes] = []
    big: list[Attachment] = []
    if _skip_to(handle, marker) is None:
        raise MessageParseError("multipart message without its boundary")
    while True:
        header_bytes = _read_head(handle)
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(header_bytes)
        if _is_attachment(headers):
            encoding = str(headers.get("Content-Transfer-Encoding", "")).strip().lower()
            sink = _Sink(store, encoding, limit)
            end = _skip_to(handle, marker, sink.write_line)
            big.append(_attachment(headers, sink, sink.finish(), len(big)))
        else:
            body: list[bytes] = []
            end = _skip_to(handle, marker, body.append)
            small.append(b"\r\n" + marker + b"\r\n" + header_bytes + b"".join(body))
        if end is None or end.rstrip(b"\r\n").endswith(b"--"):
            return small, big


def _skip_to(handle: BinaryIO, marker: bytes,
             take: Callable[[bytes], None] | None = None) -> bytes | None:
    """Feed lines to `take` until a boundary line (returned); None at end of file.

    The line break before a boundary belongs to the boundary (RFC 2046), so each line is
    handed over only once the next one is known not to be a boundary.
    """
    previous: bytes | None = None
    for line in handle:
        if line.startswith(marker) and line[len(marker):].strip() in (b"", b"--"):
            if previous is not None and take is not None:
                take(previous.rstrip(b"\r\n") if previous.endswith(b"\n") else previous)
            return line
        if previous is not None and take is not None:
            take(previous)
        previous = line
    if previous is not None and take is not None:
        take(previous)
    return None


def _is_attachment(headers: Message) -> bool:
    maintype = headers.get_content_maintype()
    if maintype in ("multipart", "message"):
        return False
    disposition = str(headers.get("Content-Disposition", "")).lower()
    return maintype != "text" or disposition.startswith("attachment")


def _attachment(headers: Message, sink: _Sink, stored: StoredFile | None,
                index: int) -> Attachment:
    name = headers.get_filename() or headers.get_param("name")
    filename = safe_filename(name if isinstance(name, str) else None, index)
    return Attachment(filename=filename, content_type=headers.get_content_type(),
                      size=sink.size, data=b"", too_large=stored is None, stored=stored)
