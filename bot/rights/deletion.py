"""Right to erasure: a plan (what goes, what stays and why) and its execution with a certificate.

Decisions (the policy's retention rules and the law's exceptions):
- Contact data: the Client row is anonymised in place ("Deleted client #<id>"), not deleted,
  because financial records must keep pointing at it; ClientEmail rows are deleted.
- Model files: bytes deleted from the store (overwritten, unlinked) unless another live
  ModelFile row shares the same content-addressed blob; rows kept with deleted_at set and the
  file name scrubbed. Projects are kept (invoices reference them) with title/specs scrubbed.
- Communications rows and linked website-usage rows are deleted.
- Invoices and payments are kept, still linked, for 7 years from their date (accounting/tax law).
- Disclosure rows are kept and stay linked to the anonymised client: they name no person any
  more, they account for what was shared, and they list the recipients that must be told about
  the erasure (GDPR art. 19); the certificate carries that list as `notify_recipients`.
- Privacy-request cases are kept as evidence the requests were handled.
- A Suppression row holds an HMAC of each erased address so non-essential mail never reaches
  it again, without keeping the address.

execute_deletion is idempotent: database changes are flushed first and blobs deleted last, so a
failure part-way can simply be retried.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.context import App
from bot.rights import FINANCIAL_YEARS, add_years
from bot.rights.export import ClientRecords, collect
from storage import models
from storage.db import audit

FINISHED_PROJECT = frozenset({"completed", "cancelled", "delivered"})
OPEN_INVOICE = frozenset({"open", "disputed"})
DELETED_TITLE = "(deleted)"


class DeletionNeedsApproval(Exception):
    """The plan has blockers (active project, open invoice); staff must approve first."""


@dataclass(frozen=True)
class PlanItem:
    category: str
    count: int
    action: str  # delete, anonymise, keep
    reason: str
    until: datetime | None = None  # for kept records: the latest date they are kept to


@dataclass(frozen=True)
class KeptRecord:
    category: str
    label: str  # invoice number, "payment of <invoice>"
    until: datetime


@dataclass(frozen=True)
class FileRecord:
    project: str | None
    filename: str
    sha256: str
    size: int


@dataclass
class DeletionPlan:
    client_id: int
    items: list[PlanItem]
    kept_records: list[KeptRecord]
    files: list[FileRecord]
    blockers: list[str]

    @property
    def needs_approval(self) -> bool:
        return bool(self.blockers)


@dataclass
class DeletionCertificate:
    """What was erased and what was kept until when; rendered for the client by the caller."""

    client_id: int
    executed_at: datetime
    actor: str
    deleted: dict[str, int]
    anonymised: dict[str, int]
    files: list[FileRecord]
    kept: list[PlanItem]
    kept_records: list[KeptRecord]
    notify_recipients: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- suppression


def address_hash(app: App, address: str) -> str:
    """Keyed hash of a normalised address: lets us match it later without storing it."""
    key = app.settings.suppression_key.get_secret_value().encode()
    return hmac.new(key, address.strip().lower().encode(), hashlib.sha256).hexdigest()


def suppress(session: Session, app: App, address: str, reason: str) -> bool:
    """Add the address's hash to the suppression list; False if it was already there."""
    digest = address_hash(app, address)
    query = select(models.Suppression).where(models.Suppression.address_hash == digest)
    if session.exec(query).first() is not None:
        return False
    session.add(models.Suppression(address_hash=digest, reason=reason,
                                   created_at=app.clock.now()))
    return True


# --------------------------------------------------------------------------- plan


def plan_deletion(session: Session, app: App, client_id: int) -> DeletionPlan:
    """What erasure would delete, anonymise and keep (with reasons and dates), and blockers."""
    records = collect(session, client_id)
    kept_records = _financial_holds(records)
    return DeletionPlan(
        client_id=client_id,
        items=_plan_items(records, kept_records),
        kept_records=kept_records,
        files=_file_records(records),
        blockers=_blockers(records),
    )


def _blockers(records: ClientRecords) -> list[str]:
    reasons = [f"project {p.reference} is still {p.status}"
               for p in records.projects if p.status not in FINISHED_PROJECT]
    reasons += [f"invoice {i.number} is {i.status}"
                for i in records.invoices if i.status in OPEN_INVOICE]
    return reasons


def _financial_holds(records: ClientRecords) -> list[KeptRecord]:
    numbers = {i.id: i.number for i in records.invoices}
    kept = [KeptRecord("invoices", i.number, add_years(i.issued_at, FINANCIAL_YEARS))
            for i in records.invoices]
    kept += [KeptRecord("payments", f"payment of invoice {numbers.get(p.invoice_id)}",
                        add_years(p.paid_at, FINANCIAL_YEARS)) for p in records.payments]
    return kept


def _latest(kept: list[KeptRecord], category: str) -> datetime | None:
    dates = [k.until for k in kept if k.category == category]
    return max(dates) if dates else None


def _plan_items(records: ClientRecords, kept: list[KeptRecord]) -> list[PlanItem]:
    law = "kept for 7 years from their date, as accounting and tax law requires"
    return [
        PlanItem("contact", 1, "anonymise",
                 "name, phone, business address and company erased; an anonymous record "
                 "remains because financial records must point to it"),
        PlanItem("emails", len(records.emails), "delete",
                 "addresses deleted; only a keyed hash is kept so we never send you "
                 "non-essential mail again"),
        PlanItem("model_files", len(records.files), "delete", "files erased from storage"),
        PlanItem("projects", len(records.projects), "anonymise",
                 "titles and specifications erased; references kept for the invoices"),
        PlanItem("communications", len(records.communications), "delete",
                 "records of messages deleted"),
        PlanItem("website_usage", len(records.usage), "delete", "usage records deleted"),
        PlanItem("invoices", len(records.invoices), "keep", law, _latest(kept, "invoices")),
        PlanItem("payments", len(records.payments), "keep", law, _latest(kept, "payments")),
        PlanItem("disclosures", len(records.disclosures), "keep",
                 "log of what was shared with service providers, kept for accountability; "
                 "it names no one once contact data is erased"),
        PlanItem("privacy_requests", len(records.requests), "keep",
                 "kept to show we handled your requests as the law requires"),
    ]


def _file_records(records: ClientRecords) -> list[FileRecord]:
    refs = records.project_refs
    return [FileRecord(refs.get(f.project_id) if f.project_id else None, f.filename, f.sha256,
                       f.size) for f in records.files]


# --------------------------------------------------------------------------- execute


def execute_deletion(
    session: Session, app: App, client_id: int, *, actor: str, approved: bool = False
) -> DeletionCertificate:
    """Erase the client's data as plan_deletion describes; raises DeletionNeedsApproval when
    the plan has blockers and `approved` is False. Each step is audited with counts only."""
    plan = plan_deletion(session, app, client_id)
    if plan.needs_approval and not approved:
        raise DeletionNeedsApproval("; ".join(plan.blockers))
    records = collect(session, client_id)
    now = app.clock.now()
    audit(session, "deletion.started", at=now, actor=actor, client_id=client_id,
          approved=approved, blockers=len(plan.blockers))
    deleted: dict[str, int] = {}
    anonymised: dict[str, int] = {}
    deleted["emails"], suppressed = _erase_emails(session, app, records, now, actor)
    anonymised["contact"] = _anonymise_client(session, records.client, now, actor)
    anonymised["projects"] = _scrub_projects(session, records, now, actor)
    deleted["communications"] = _delete_rows(session, records.communications, "communications",
                                             now, actor, client_id)
    deleted["website_usage"] = _delete_rows(session, records.usage, "website_usage",
                                            now, actor, client_id)
    keys = _mark_files_deleted(session, records, now, actor)
    session.flush()  # database first: if this fails, no bytes are gone yet
    deleted["model_files"] = len(records.files)
    blobs = _delete_blobs(session, app, keys, now, actor, client_id)
    audit(session, "deletion.completed", at=now, actor=actor, client_id=client_id,
          deleted=deleted, anonymised=anonymised, suppressed=suppressed, blobs_deleted=blobs,
          kept={i.category: i.count for i in plan.items if i.action == "keep"})
    return DeletionCertificate(
        client_id=client_id, executed_at=now, actor=actor, deleted=deleted,
        anonymised=anonymised, files=plan.files,
        kept=[i for i in plan.items if i.action == "keep"], kept_records=plan.kept_records,
        notify_recipients=sorted({d.recipient for d in records.disclosures}),
    )


def _erase_emails(session: Session, app: App, records: ClientRecords, now: datetime,
                  actor: str) -> tuple[int, int]:
    suppressed = 0
    for email in records.emails:
        suppressed += suppress(session, app, email.address, "erasure")
        session.delete(email)
    audit(session, "deletion.emails", at=now, actor=actor, client_id=records.client.id,
          deleted=len(records.emails), suppressed=suppressed)
    return len(records.emails), suppressed


def _anonymise_client(session: Session, client: models.Client, now: datetime,
                      actor: str) -> int:
    client.name = f"Deleted client #{client.id}"
    client.phone = client.business_address = client.company = client.language = None
    client.marketing_opt_out = True
    client.anonymised_at = client.anonymised_at or now
    session.add(client)
    audit(session, "deletion.contact", at=now, actor=actor, client_id=client.id, anonymised=1)
    return 1


def _scrub_projects(session: Session, records: ClientRecords, now: datetime,
                    actor: str) -> int:
    for project in records.projects:
        project.title, project.specs, project.updated_at = DELETED_TITLE, "", now
        session.add(project)
    audit(session, "deletion.projects", at=now, actor=actor, client_id=records.client.id,
          anonymised=len(records.projects))
    return len(records.projects)


def _delete_rows(session: Session, rows: list[Any], name: str, now: datetime, actor: str,
                 client_id: int) -> int:
    for row in rows:
        session.delete(row)
    audit(session, f"deletion.{name}", at=now, actor=actor, client_id=client_id,
          deleted=len(rows))
    return len(rows)


def _mark_files_deleted(session: Session, records: ClientRecords, now: datetime,
                        actor: str) -> set[str]:
    """Mark the client's live file rows deleted; returns their storage keys."""
    keys = set()
    for f in records.files:
        keys.add(f.storage_key)
        f.deleted_at, f.filename = now, DELETED_TITLE
        session.add(f)
    audit(session, "deletion.model_files", at=now, actor=actor, client_id=records.client.id,
          marked=len(records.files))
    return keys


def _delete_blobs(session: Session, app: App, keys: set[str], now: datetime, actor: str,
                  client_id: int) -> int:
    """Delete blobs no live ModelFile row (of any client) still references."""
    still_used = set(session.exec(
        select(models.ModelFile.storage_key).where(
            col(models.ModelFile.storage_key).in_(keys), col(models.ModelFile.deleted_at).is_(None))
    ).all()) if keys else set()
    removed = sum(app.files.delete(key) for key in sorted(keys - still_used))
    audit(session, "deletion.blobs", at=now, actor=actor, client_id=client_id,
          deleted=removed, shared=len(keys & still_used))
    return removed
