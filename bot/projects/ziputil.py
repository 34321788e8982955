"""Opening client ZIPs safely: nothing is extracted to a path, names are reduced to a basename,
nested archives are not followed, and bombs are refused on declared sizes *and* while reading
(a member that inflates past what its header declared is cut off).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

CHUNK = 1024 * 1024


class UnsafeArchive(Exception):
    """The archive is refused as a whole (bomb, too many members, not a ZIP)."""


@dataclass(frozen=True)
class ZipLimits:
    max_total_bytes: int = 500 * 1024 * 1024  # sum of uncompressed sizes
    max_ratio: float = 200.0  # uncompressed / compressed, per member and overall
    max_members: int = 200


@dataclass(frozen=True)
class Member:
    name: str  # basename only, safe to show
    info: zipfile.ZipInfo
    skip_reason: str | None = None  # set when the member is listed but not opened


def check_archive(handle: IO[bytes], limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """Validate the directory of a ZIP; returns its file entries or raises UnsafeArchive."""
    try:
        with zipfile.ZipFile(handle) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnsafeArchive("not a readable ZIP archive") from exc
    if len(infos) > limits.max_members:
        raise UnsafeArchive(f"more than {limits.max_members} files in the archive")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > limits.max_total_bytes:
        raise UnsafeArchive(f"unpacks to more than {limits.max_total_bytes // 2**20} MB")
    if total > 1024 * 1024 and total > limits.max_ratio * max(packed, 1):
        raise UnsafeArchive("compression ratio too high (possible ZIP bomb)")
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(
                info.compress_size, 1):
            raise UnsafeArchive("compression ratio too high (possible ZIP bomb)")
    return infos


def safe_name(raw: str) -> str:
    """The basename of a member name, whatever slashes, drive letters or dots it carries."""
    name = PurePosixPath(raw.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).lstrip(".").strip()
    return name.rpartition(":")[2][:200] or "unnamed"


def members(handle: IO[bytes], limits: ZipLimits) -> list[Member]:
    """Every file entry, with a reason when it must not be opened (nested ZIP, encrypted)."""
    listed = []
    for info in check_archive(handle, limits):
        name = safe_name(info.filename)
        reason = None
        if name.lower().endswith((".zip", ".7z", ".rar", ".tar", ".gz")):
            reason = "archive inside the archive, not opened"
        elif info.flag_bits & 0x1:
            reason = "password-protected, not opened"
        listed.append(Member(name, info, reason))
    return listed


def read_member(handle: IO[bytes], info: zipfile.ZipInfo, limit: int) -> Iterator[bytes]:
    """Stream one member's bytes; stops with UnsafeArchive past its declared size or `limit`."""
    cap = min(info.file_size, limit)
    seen = 0
    with zipfile.ZipFile(handle) as zf, zf.open(info) as stream:
        while chunk := stream.read(CHUNK):
            seen += len(chunk)
            if seen > cap:
                raise UnsafeArchive("member larger than declared or over the limit")
            yield chunk
