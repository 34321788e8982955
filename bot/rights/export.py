"""Right of access and portability: one ZIP with everything held about a client.

Layout of the archive:
    data.json            every record, plus purposes, recipients, retention and source per category
    csv/<table>.csv      the same records, one CSV per table
    summary.html         the same as a document a person reads, in the requester's language
                         (inline CSS, loads nothing; links only to entries of the archive)
    files/<project>/<f>  the client's own 3D model files, byte for byte (only if there are any)

Model files are streamed into the archive chunk by chunk, and the archive is written to a
non-seekable hashing writer (entries get data descriptors), so memory stays flat and the
archive's sha256 comes for free however large the files are.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import queue
import re
import secrets
import threading
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import pyzipper
from sqlmodel import Session, col, select

from bot.context import App
from bot.rights import (
    CATEGORIES,
    CONTACT_YEARS,
    FINANCIAL_YEARS,
    PROJECT_YEARS,
    PURPOSES,
    USAGE_MONTHS,
    ClientNotFound,
    add_months,
    add_years,
)
from bot.rights.summary import render_summary
from storage import models
from storage.db import audit

FORMAT = "stelloloxon-export/1"
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0O1lIi
NO_PROJECT = "no-project"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    size: int
    sha256: str
    categories: dict[str, int]  # table -> number of records (model_files: files included)


@dataclass
class ClientRecords:
    """Every row held about one client (shared by export, usage and deletion)."""

    client: models.Client
    emails: list[models.ClientEmail]
    projects: list[models.Project]
    files: list[models.ModelFile]  # live files only (deleted_at is None)
    communications: list[models.Communication]
    invoices: list[models.Invoice]
    payments: list[models.Payment]
    usage: list[models.WebsiteUsage]
    disclosures: list[models.Disclosure]
    requests: list[models.Case]
    project_refs: dict[int, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "client": 1, "emails": len(self.emails), "projects": len(self.projects),
            "model_files": len(self.files), "communications": len(self.communications),
            "invoices": len(self.invoices), "payments": len(self.payments),
            "website_usage": len(self.usage), "disclosures": len(self.disclosures),
            "privacy_requests": len(self.requests),
        }


def collect(session: Session, client_id: int) -> ClientRecords:
    """Load every row linked to the client; raises ClientNotFound."""
    client = session.get(models.Client, client_id)
    if client is None:
        raise ClientNotFound(client_id)

    def rows(model: Any, *order: Any) -> list[Any]:
        query = select(model).where(model.client_id == client_id).order_by(*order)
        return list(session.exec(query).all())

    invoices = rows(models.Invoice, models.Invoice.issued_at, models.Invoice.id)
    invoice_ids = [i.id for i in invoices]
    payments = list(session.exec(
        select(models.Payment).where(col(models.Payment.invoice_id).in_(invoice_ids))
        .order_by(models.Payment.paid_at, models.Payment.id)).all()) if invoice_ids else []
    files = [f for f in rows(models.ModelFile, models.ModelFile.uploaded_at, models.ModelFile.id)
             if f.deleted_at is None]
    projects = rows(models.Project, models.Project.created_at, models.Project.id)
    return ClientRecords(
        client=client,
        emails=rows(models.ClientEmail, models.ClientEmail.id),
        projects=projects,
        files=files,
        communications=rows(models.Communication, models.Communication.occurred_at,
                            models.Communication.id),
        invoices=invoices,
        payments=payments,
        usage=rows(models.WebsiteUsage, models.WebsiteUsage.occurred_at, models.WebsiteUsage.id),
        disclosures=rows(models.Disclosure, models.Disclosure.disclosed_at, models.Disclosure.id),
        requests=rows(models.Case, models.Case.received_at, models.Case.id),
        project_refs={p.id: p.reference for p in projects if p.id is not None},
    )


# --------------------------------------------------------------------------- public API


def generate_password(groups: int = 6, size: int = 4) -> str:
    """A random password like `k7Qm-...` (24 symbols from 55, ~139 bits); no look-alikes."""
    return "-".join(
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(size)) for _ in range(groups)
    )


def export_filename(client_id: int, now: datetime) -> str:
    """The archive's file name. Deterministic: never serve it under a guessable URL."""
    return f"stelloloxon-export-{client_id}-{now:%Y%m%d-%H%M%S}.zip"


def build_export(
    session: Session,
    app: App,
    client_id: int,
    dest: Path,
    *,
    password: str | None,
    actor: str = "bot",
    language: str = "en",
) -> ExportResult:
    """Write the client's export to `dest` (a file path, or a directory for export_filename).

    With `password` the ZIP is AES-256 encrypted (WinZip AE-2: 7-Zip / `7z x`, WinZip, Keka and
    The Unarchiver open it; Windows Explorer, macOS Archive Utility and Info-ZIP `unzip` do not).
    Entry names are not encrypted by the ZIP format. summary.html is written in `language`
    where bot/translations has a catalog for it, else English.
    Audits `file.read` per model file and `export.built` with counts only.
    """
    now = app.clock.now()
    records = collect(session, client_id)
    if dest.is_dir():
        dest = dest / export_filename(client_id, now)
    tables, file_entries = _tables(records, app)
    part = dest.with_name(dest.name + ".part")
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never world-readable
        with os.fdopen(fd, "wb") as raw:
            out = _HashingWriter(raw)
            try:
                with _open_zip(out, password) as zf:
                    _write_documents(zf, app, records, tables, now,
                                     language=language, files=file_entries)
                    included = _write_model_files(zf, session, app, records, file_entries,
                                                  now, actor)
            finally:
                out.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    counts = {name: len(rows) for name, rows in tables.items()}
    counts["model_files"] = included
    audit(session, "export.built", at=now, actor=actor, client_id=client_id,
          counts=counts, encrypted=password is not None, size=out.size)
    return ExportResult(path=dest, size=out.size, sha256=out.sha256.hexdigest(),
                        categories=counts)


# --------------------------------------------------------------------------- records as rows


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _tables(records: ClientRecords, app: App) -> tuple[dict[str, list[dict]], list[dict]]:
    """Every table as a list of plain dicts (JSON-ready); also the model-file entries."""
    refs = records.project_refs
    files = _file_rows(records, app)
    internal = ("storage_key", "id")
    tables: dict[str, list[dict]] = {
        "client": [_client_row(records.client)],
        "emails": [{"address": e.address, "is_primary": e.is_primary} for e in records.emails],
        "projects": [_project_row(p) for p in records.projects],
        "model_files": [{k: v for k, v in f.items() if k not in internal} for f in files],
        "communications": [_communication_row(c, refs) for c in records.communications],
        "invoices": [_invoice_row(i, refs) for i in records.invoices],
        "payments": _payment_rows(records),
        "website_usage": [_usage_row(u) for u in records.usage],
        "disclosures": [_disclosure_row(d) for d in records.disclosures],
        "privacy_requests": [_request_row(c) for c in records.requests],
    }
    return tables, files


def _client_row(c: models.Client) -> dict:
    return {
        "id": c.id, "name": c.name, "phone": c.phone, "business_address": c.business_address,
        "company": c.company, "language": c.language, "created_at": _iso(c.created_at),
        "last_active_at": _iso(c.last_active_at), "restricted": c.restricted,
        "marketing_opt_out": c.marketing_opt_out,
        "retained_until": _iso(add_years(c.last_active_at, CONTACT_YEARS)),
    }


def _project_row(p: models.Project) -> dict:
    until = add_years(p.completed_at, PROJECT_YEARS) if p.completed_at else None
    return {
        "reference": p.reference, "title": p.title, "specs": p.specs, "printer": p.printer,
        "material": p.material, "status": p.status, "created_at": _iso(p.created_at),
        "updated_at": _iso(p.updated_at), "promised_delivery": _iso(p.promised_delivery),
        "completed_at": _iso(p.completed_at), "retained_until": _iso(until),
    }


def _communication_row(c: models.Communication, refs: dict[int, str]) -> dict:
    return {
        "occurred_at": _iso(c.occurred_at), "channel": c.channel, "direction": c.direction,
        "address": c.address, "subject": c.subject,
        "project": refs.get(c.project_id) if c.project_id else None,
        "message_id": c.message_id,
    }


def _invoice_row(i: models.Invoice, refs: dict[int, str]) -> dict:
    return {
        "number": i.number, "project": refs.get(i.project_id) if i.project_id else None,
        "amount_cents": i.amount_cents, "currency": i.currency,
        "issued_at": _iso(i.issued_at), "status": i.status,
        "retained_until": _iso(add_years(i.issued_at, FINANCIAL_YEARS)),
    }


def _payment_rows(records: ClientRecords) -> list[dict]:
    numbers = {i.id: i.number for i in records.invoices}
    return [
        {"invoice": numbers.get(p.invoice_id), "amount_cents": p.amount_cents,
         "paid_at": _iso(p.paid_at), "method": p.method, "processor": p.processor,
         "retained_until": _iso(add_years(p.paid_at, FINANCIAL_YEARS))}
        for p in records.payments
    ]


def _usage_row(u: models.WebsiteUsage) -> dict:
    return {"occurred_at": _iso(u.occurred_at), "path": u.path, "user_agent": u.user_agent,
            "retained_until": _iso(add_months(u.occurred_at, USAGE_MONTHS))}


def _disclosure_row(d: models.Disclosure) -> dict:
    return {"disclosed_at": _iso(d.disclosed_at), "recipient": d.recipient,
            "categories": d.categories, "purpose": d.purpose}


def _request_row(c: models.Case) -> dict:
    return {"reference": c.ref, "kind": c.kind, "status": c.status, "channel": c.channel,
            "subject": c.subject, "received_at": _iso(c.received_at),
            "due_at": _iso(c.due_at), "closed_at": _iso(c.closed_at)}


def _file_rows(records: ClientRecords, app: App) -> list[dict]:
    """One entry per live model file, with a safe, unique path inside the archive.

    `included` is False when the bytes are missing from the store (listed, not in the ZIP).
    """
    used: set[str] = set()
    entries = []
    for f in records.files:
        ref = records.project_refs.get(f.project_id) if f.project_id else None
        folder = safe_name(ref or NO_PROJECT)
        entries.append({
            "project": ref, "filename": f.filename, "size": f.size, "sha256": f.sha256,
            "uploaded_at": _iso(f.uploaded_at), "storage_key": f.storage_key,
            "id": f.id, "included": app.files.exists(f.storage_key),
            "path_in_export": _unique(f"files/{folder}/{safe_name(f.filename)}", used),
        })
    return entries


def safe_name(name: str) -> str:
    """A single path component safe to extract anywhere (no traversal, controls, or '/')."""
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]", "_", name).strip(" .")
    return name[:150] or "unnamed"


def _unique(path: str, used: set[str]) -> str:
    """`path`, or `name (2).ext`, ... if taken (case-insensitively: Windows and macOS)."""
    folder, _, base = path.rpartition("/")
    stem, dot, ext = base.rpartition(".")
    if not stem or not ext.isalnum() or len(ext) > 10:
        stem, dot, ext = base, "", ""
    candidate, n = path, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{folder}/{stem} ({n}){dot}{ext}"
    used.add(candidate.lower())
    return candidate


# --------------------------------------------------------------------------- documents


def _about(counts: dict[str, int]) -> list[dict]:
    """Per category: source, purposes, recipient categories (policy), retention, record count.
    The recipients actually named in this client's disclosure log are listed separately."""
    return [
        {"key": c.key, "title": c.title, "description": c.description, "source": c.source,
         "purposes": list(c.purposes), "recipients": list(c.recipients),
         "retention": c.retention, "records": sum(counts.get(t, 0) for t in c.tables),
         "tables": list(c.tables)}
        for c in CATEGORIES
    ]


def _document(app: App, records: ClientRecords, tables: dict[str, list[dict]],
              now: datetime) -> dict:
    counts = {name: len(rows) for name, rows in tables.items()}
    return {
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "controller": {"name": app.settings.company_name, "contact": app.settings.bot_address},
        "client_id": records.client.id,
        "purposes": list(PURPOSES),
        "categories": _about(counts),
        "recipients_of_your_data": sorted({d.recipient for d in records.disclosures}),
        "tables": tables,
    }


def _csv_bytes(rows: list[dict]) -> bytes:
    """UTF-8 CSV with a BOM (spreadsheets read it right); formula-like cells neutralised."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows({k: _csv_cell(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


_FORMULA = re.compile(r"^[=@\t\r]|^[+-](?![\d\s().-]*$)")


def _csv_cell(value: Any) -> str:
    """Text for a CSV cell; a leading ' keeps spreadsheets from running formulas (CWE-1236).

    data.json holds the exact values; phone numbers like +1 555 stay as they are.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if isinstance(value, str) and _FORMULA.search(text) else text


def _write_documents(zf: Any, app: App, records: ClientRecords,
                     tables: dict[str, list[dict]], now: datetime, *,
                     language: str, files: list[dict]) -> None:
    document = _document(app, records, tables, now)
    data = json.dumps(document, ensure_ascii=False, indent=2).encode()
    _write_entry(zf, "data.json", data, now)
    for name, rows in tables.items():
        _write_entry(zf, f"csv/{name}.csv", _csv_bytes(rows), now)
    html = render_summary(app.renderer.env_for(language), document, language, files)
    _write_entry(zf, "summary.html", html.encode(), now)


# --------------------------------------------------------------------------- zip plumbing


class _HashingWriter:
    """A write-only, non-seekable file: zipfile then streams (data descriptors, no seek back),
    and the archive's size and sha256 are known when it is closed without reading it again.

    Hashing and the disk write run in a background thread (both release the GIL) so they
    overlap with reading and encrypting the next chunk; at most QUEUE chunks are in flight.
    `call_later` runs other GIL-releasing work (the AES HMAC) on that thread, in order.
    """

    QUEUE = 8

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._queue: queue.Queue[bytes | Callable[[], object] | None] = queue.Queue(self.QUEUE)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="export-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if self._error is not None:
                    pass
                elif isinstance(item, bytes):
                    self.sha256.update(item)
                    self.raw.write(item)
                else:
                    item()
            except BaseException as exc:  # surfaced to the producer on its next call
                self._error = exc
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, data: bytes) -> int:
        self._check()
        chunk = bytes(data)  # callers may reuse a mutable buffer
        self._queue.put(chunk)
        self.size += len(chunk)
        return len(chunk)

    def call_later(self, work: Callable[[], object]) -> None:
        self._check()
        self._queue.put(work)

    def wait(self) -> None:
        """Block until everything queued so far has run."""
        self._queue.join()
        self._check()

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.wait()
        self.raw.flush()

    def close(self) -> None:
        """Stop the thread (idempotent); raises the writer's error if it had one."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._check()


class _AESEncrypter(pyzipper.zipfile_aes.AESZipEncrypter):
    """pyzipper's WinZip AES encrypter, faster: the stdlib HMAC-SHA1 (C, ~2.5x pycryptodome's
    here), updated on the writer thread while the next chunk is encrypted. Same keys and
    output format as pyzipper; its reader verifies the HMAC in the tests."""

    def __init__(self, writer: _HashingWriter, pwd: bytes, nbits: int = 256,
                 **kwargs: Any) -> None:
        super().__init__(pwd, nbits, **kwargs)
        key_length = nbits // 8
        material = hashlib.pbkdf2_hmac("sha1", pwd, self.salt, 1000, 2 * key_length + 2)
        self.hmac = hmac.new(material[key_length:2 * key_length], digestmod="sha1")
        self.writer = writer

    def encrypt(self, data: bytes) -> bytes:
        ciphertext = self.encrypter.encrypt(data)
        self.writer.call_later(partial(self.hmac.update, ciphertext))
        return ciphertext

    def flush(self) -> bytes:
        self.writer.wait()
        return self.hmac.digest()[: self.hmac_size]


class _AE2WriteFile(pyzipper.zipfile._ZipWriteFile):
    """Skips the plaintext CRC for AE-2 entries: AE-2 stores CRC 0 (a CRC of small files would
    leak their content), so pyzipper computes it only to throw it away (~30% of the time)."""

    def write(self, data: bytes) -> int:
        if not (self._encrypter and self._zinfo.wz_aes_version == pyzipper.zipfile_aes.WZ_AES_V2):
            return super().write(data)
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        nbytes = len(data)
        self._file_size += nbytes
        if self._compressor:
            data = self._compressor.compress(data)
        data = self._encrypter.encrypt(data)
        self._compress_size += len(data)
        self._fileobj.write(data)
        return nbytes


class _AESZipFile(pyzipper.AESZipFile):
    zipwritefile_cls = _AE2WriteFile

    def __init__(self, writer: _HashingWriter, *args: Any, **kwargs: Any) -> None:
        super().__init__(writer, *args, **kwargs)
        self.writer = writer

    def get_encrypter(self) -> _AESEncrypter:
        return _AESEncrypter(self.writer, self.pwd, **(self.encryption_kwargs or {}))


def _open_zip(out: _HashingWriter, password: str | None) -> Any:
    if password is None:
        return zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)  # type: ignore[arg-type]
    zf = _AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED,
                     encryption=pyzipper.WZ_AES, encryption_kwargs={"nbits": 256})
    zf.setpassword(password.encode())
    return zf


def _zinfo(zf: Any, name: str, when: datetime, compress: int, size: int) -> zipfile.ZipInfo:
    info_cls = getattr(zf, "zipinfo_cls", zipfile.ZipInfo)
    info = info_cls(name, date_time=when.timetuple()[:6])
    info.compress_type = compress
    info.file_size = size  # lets zipfile pick ZIP64 up front for entries over 4 GiB
    info.external_attr = 0o644 << 16
    return info


def _write_entry(zf: Any, name: str, data: bytes, when: datetime) -> None:
    with zf.open(_zinfo(zf, name, when, zipfile.ZIP_DEFLATED, len(data)), "w") as handle:
        handle.write(data)


def _write_model_files(zf: Any, session: Session, app: App, records: ClientRecords,
                       entries: list[dict], now: datetime, actor: str) -> int:
    """Stream each model file into the archive; returns how many were included.

    A file whose bytes are missing from the store is listed in data.json but skipped here.
    Already-compressed formats gain nothing from deflate, so every model file is STORED.
    """
    included = 0
    for entry in entries:
        key = entry["storage_key"]
        if not entry["included"]:
            continue
        size = app.files.path(key).stat().st_size
        info = _zinfo(zf, entry["path_in_export"], now, zipfile.ZIP_STORED, size)
        with zf.open(info, "w") as handle:
            for chunk in app.files.open_chunks(key):
                handle.write(chunk)
        audit(session, "file.read", at=now, actor=actor, client_id=records.client.id,
              model_file_id=entry["id"], purpose="export")
        included += 1
    return included
