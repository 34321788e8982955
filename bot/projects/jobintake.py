"""New-job intake: model files from a client's mail become a draft project with its files.

Attachments in STL, OBJ, 3MF, PLY and STEP (and ZIPs of them) go into the content-addressed
file store (never executed, size-limited); a draft Project `SP-YYYY-NNNN` is opened with the
requirements the message states; every file gets a mesh check; the client gets a receipt with
the per-file findings and staff get the summary to quote from. Model files are never mailed
back: only figures about them.

Unknown senders: a job from an address not on file is still accepted. A new Client is created
with the display name of the From header (else the address's local part) and the sender's
address as its primary ClientEmail, because a Project needs an owner and the quote goes to
that address. Staff see that the client is new and whether the mail passed authentication.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlmodel import Session, col, select

from bot.cases import set_status
from bot.config import Settings
from bot.context import App
from bot.incoming import Incoming, reply_to
from bot.mime import Attachment
from bot.outbox import enqueue_email
from bot.projects import meshcheck, requirements, ziputil
from storage import models
from storage.db import audit
from storage.files import FileTooLarge, StoredFile

log = logging.getLogger(__name__)

MB = 1024 * 1024
STAFF_TEXT_CHARS = 4000  # the client's words in the staff brief (the files stay in the store)


@dataclass(frozen=True)
class IntakeLimits:
    file_bytes: int
    analyse_bytes: int
    zip: ziputil.ZipLimits

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeLimits:
        return cls(
            file_bytes=settings.model_file_max_bytes,
            analyse_bytes=settings.mesh_analyse_max_bytes,
            zip=ziputil.ZipLimits(
                max_total_bytes=settings.zip_max_total_bytes,
                max_ratio=settings.zip_max_ratio,
                max_members=settings.zip_max_members,
            ),
        )


@dataclass(frozen=True)
class Rejected:
    filename: str
    reason: str


@dataclass
class Collected:
    """Files stored from one message, and the ones turned away (with a reason)."""

    stored: list[tuple[str, StoredFile]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # not model files (PDFs, images ...)


def has_model_files(attachments: Iterable[Attachment]) -> bool:
    return any(_wanted(a.filename) for a in attachments)


def _wanted(filename: str) -> bool:
    return meshcheck.is_model_file(filename) or meshcheck.extension(filename) == "zip"


# --------------------------------------------------------------------------- entry point


def accept(session: Session, app: App, incoming: Incoming, case: models.Case,
           client: models.Client | None, *, authenticated: bool) -> str | None:
    """Take in the job; returns a staff reason when no file could be kept.

    `authenticated`: the mail passed sender authentication (shown to staff only).
    """
    limits = IntakeLimits.from_settings(app.settings)
    collected = collect(app, incoming.parsed.attachments, limits)
    wanted = requirements.extract(incoming.text + "\n" + incoming.parsed.subject,
                                  app.clock.now().date())
    if not collected.stored:
        reply_to(session, app, incoming, case, "job_received", project=None, files=[],
                 rejected=collected.rejected, ignored=collected.ignored,
                 requirements=wanted.lines())
        return "new project: no model file could be stored (see the reply sent)"
    new_client = client is None
    owner = client or _new_client(session, app, incoming, case)
    project = _new_project(session, app, incoming, owner, wanted)
    reports = _file_rows(session, app, case, owner, project, collected.stored, limits)
    reply_to(session, app, incoming, case, "job_received", project=project, files=reports,
             rejected=collected.rejected, ignored=collected.ignored,
             requirements=wanted.lines())
    _brief_staff(session, app, incoming, case, project, reports, collected,
                 new_client=new_client, authenticated=authenticated)
    return None


# --------------------------------------------------------------------------- files


def collect(app: App, attachments: Iterable[Attachment], limits: IntakeLimits) -> Collected:
    """Store every model attachment (ZIPs opened safely); nothing here touches the database."""
    result = Collected()
    for attachment in attachments:
        name = attachment.filename
        if not _wanted(name):
            result.ignored.append(name)
        elif attachment.too_large or attachment.size > limits.file_bytes:
            result.rejected.append(Rejected(name, _too_large(app, attachment, limits)))
        elif meshcheck.extension(name) == "zip":
            _collect_zip(app, attachment, limits, result)
        elif attachment.stored is not None:  # spooled mail: already streamed into the store
            result.stored.append((name, attachment.stored))
        else:
            _store(app, name, [attachment.data], limits.file_bytes, result)
    return result


def _too_large(app: App, attachment: Attachment, limits: IntakeLimits) -> str:
    limit = app.settings.max_attachment_bytes if attachment.too_large else limits.file_bytes
    return (f"larger than our {human_size(limit)} limit per file; please send a download link"
            " (e.g. WeTransfer, Dropbox, Google Drive) instead")


def human_size(n: int) -> str:
    if n >= MB:
        return f"{round(n / MB, 1):g} MB"
    return f"{round(n / 1024, 1):g} KB" if n >= 1024 else f"{n} bytes"


def _store(app: App, name: str, chunks: Iterable[bytes], limit: int, result: Collected) -> None:
    try:
        result.stored.append((name, app.files.put_stream(chunks, limit=limit)))
    except FileTooLarge:
        result.rejected.append(Rejected(name, f"larger than our {human_size(limit)} limit "
                                        "per file; please send a download link instead"))


def _collect_zip(app: App, attachment: Attachment, limits: IntakeLimits,
                 result: Collected) -> None:
    with (app.files.path(attachment.stored.key).open("rb") if attachment.stored is not None
          else io.BytesIO(attachment.data)) as handle:
        _collect_members(app, attachment, handle, limits, result)


def _collect_members(app: App, attachment: Attachment, handle: BinaryIO,
                     limits: IntakeLimits, result: Collected) -> None:
    try:
        members = ziputil.members(handle, limits.zip)
    except ziputil.UnsafeArchive as exc:
        result.rejected.append(Rejected(attachment.filename, f"archive refused: {exc}"))
        return
    for member in members:
        label = f"{attachment.filename}: {member.name}"
        if member.skip_reason:
            result.rejected.append(Rejected(label, member.skip_reason))
        elif not meshcheck.is_model_file(member.name):
            result.ignored.append(label)
        elif member.info.file_size > limits.file_bytes:
            result.rejected.append(Rejected(label, "larger than our "
                                            f"{human_size(limits.file_bytes)} limit per file"))
        else:
            _store_member(app, handle, member, label, limits, result)


def _store_member(app: App, handle: BinaryIO, member: ziputil.Member, label: str,
                  limits: IntakeLimits, result: Collected) -> None:
    try:
        _store(app, member.name, ziputil.read_member(handle, member.info, limits.file_bytes),
               limits.file_bytes, result)
    except Exception as exc:  # UnsafeArchive, zlib.error, BadZipFile: a bad member, not a bug
        result.rejected.append(Rejected(label, f"could not be unpacked ({type(exc).__name__})"))


# --------------------------------------------------------------------------- records


def _new_client(session: Session, app: App, incoming: Incoming,
                case: models.Case) -> models.Client:
    parsed, now = incoming.parsed, app.clock.now()
    name = (parsed.from_name or parsed.from_addr.partition("@")[0]).strip()[:200]
    client = models.Client(name=name or "unknown", created_at=now, last_active_at=now,
                           language=case.language)
    session.add(client)
    session.flush()
    session.add(models.ClientEmail(client_id=client.id, address=parsed.from_addr,
                                   is_primary=True))
    case.client_id = client.id
    session.add(case)
    session.add(models.Communication(
        client_id=client.id, case_id=case.id, channel="email", direction="in",
        address=parsed.from_addr, subject=parsed.subject[:500], message_id=parsed.message_id,
        inbound_id=incoming.row.id, occurred_at=incoming.row.received_at))
    audit(session, "client.created", at=now, case_id=case.id, client_id=client.id,
          source="job_intake")
    return client


def next_reference(session: Session, year: int) -> str:
    """`SP-YYYY-NNNN`: the next free number for the year (the caller holds the write lock)."""
    prefix = f"SP-{year}-"
    query = select(models.Project.reference).where(col(models.Project.reference)
                                                   .startswith(prefix))
    numbers = [int(ref[len(prefix):]) for ref in session.exec(query)
               if ref[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def _new_project(session: Session, app: App, incoming: Incoming, client: models.Client,
                 wanted: requirements.Requirements) -> models.Project:
    now = app.clock.now()
    title = incoming.parsed.subject.strip()[:200] or "New job by email"
    project = models.Project(
        reference=next_reference(session, now.year), client_id=client.id, title=title,
        specs=wanted.as_specs(), printer=wanted.printer, material=wanted.material,
        status="draft", created_at=now, updated_at=now)
    session.add(project)
    session.flush()
    audit(session, "project.created", at=now, client_id=client.id, project_id=project.id,
          reference=project.reference, source="email")
    return project


def _file_rows(session: Session, app: App, case: models.Case, client: models.Client,
               project: models.Project, stored: list[tuple[str, StoredFile]],
               limits: IntakeLimits) -> list[dict[str, object]]:
    reports = []
    for name, item in stored:
        row = models.ModelFile(client_id=client.id, project_id=project.id, filename=name,
                               size=item.size, sha256=item.sha256, storage_key=item.key,
                               uploaded_at=app.clock.now())
        session.add(row)
        session.flush()
        audit(session, "file.stored", at=app.clock.now(), case_id=case.id,
              client_id=client.id, model_file_id=row.id, size=item.size)
        report = check_file(session, app, case, row, limits)
        reports.append({**report.as_dict(), "size": item.size, "model_file_id": row.id})
    return reports


def check_file(session: Session, app: App, case: models.Case | None, row: models.ModelFile,
               limits: IntakeLimits) -> meshcheck.MeshReport:
    """Mesh-check a stored file; every read of the bytes is audited as file.read."""
    ext = meshcheck.extension(row.filename)
    if row.size > limits.analyse_bytes and ext not in meshcheck.CAD_FORMATS:
        return meshcheck.MeshReport(row.filename, ext, meshcheck.NOT_ANALYSED,
                                    "stored, not analysed: too large for the automatic check;"
                                    " a preparer will check it")
    audit(session, "file.read", at=app.clock.now(), case_id=case.id if case else None,
          client_id=row.client_id, model_file_id=row.id, purpose="mesh_check")
    return meshcheck.analyse(app.files.path(row.storage_key), row.filename)


# --------------------------------------------------------------------------- staff


def _brief_staff(session: Session, app: App, incoming: Incoming, case: models.Case,
                 project: models.Project, reports: list[dict[str, object]],
                 collected: Collected, *, new_client: bool, authenticated: bool) -> None:
    """The intake summary to quote from; the case waits for staff (the quote)."""
    rendered = app.renderer.render(
        "staff_intake", "en", case=case, project=project, files=reports,
        rejected=collected.rejected, ignored=collected.ignored, new_client=new_client,
        authenticated=authenticated, sender=incoming.parsed.from_addr,
        message=incoming.text[:STAFF_TEXT_CHARS] or "(no text)",
        company=app.settings.company_name)
    enqueue_email(session, app, to=app.settings.staff_address, rendered=rendered,
                  purpose="staff_intake", idempotency_key=f"staff-intake:{case.id}:"
                  f"{incoming.row.id}", case=case, auto_submitted="auto-generated")
    case.escalated = True
    set_status(session, app, case, "awaiting_staff", reason="new job: quote needed",
               project=project.reference)
    audit(session, "case.escalated", at=app.clock.now(), case_id=case.id,
          client_id=project.client_id, inbound_id=incoming.row.id,
          reason="new job: quote needed")
