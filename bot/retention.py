"""Retention: delete what the privacy policy no longer lets us keep, exactly on time.

The policy's periods (/work/shared/privacy-policy.txt, "Data Retention"), as rules:

project_files         ModelFile rows and their bytes, 3 years after the project's completion
                      (Project.completed_at). A file with no project: 3 years after the later
                      of its upload and the client's last project event (below).
communications        Communication rows linked to a project: 3 years after the later of the
                      project's completion and the message. Not linked to a project: 3 years
                      after the later of the message and the client's last project event, i.e.
                      the latest completion, or last update of a project not completed (so
                      messages about running work stay). The raw mail behind a deleted row
                      (InboundMessage.raw / Outbox.raw, and the inbound sender) is blanked too.
financial_records     Payment 7 years from paid_at; Invoice 7 years from issued_at, and not
                      before its last payment is due too (the payment row references it).
website_usage         WebsiteUsage 24 months from occurred_at; rows flagged anonymised stay.
                      Deleted rows are first counted into UsageAggregate(month, path, hits).
contact_information   Client anonymised 2 years after the later of last_active_at and their
                      last project event: name -> "deleted client #id", phone, address and
                      company cleared, ClientEmail rows deleted (a keyed HMAC of each address
                      goes to Suppression first), anonymised_at set.

"N years after D" means: kept through D's N-th anniversary (calendar years; 29 February counts
as 28 February), deleted from the following day, whatever hour the sweep runs. Nothing of a
client with a case not closed, or under an active LegalHold, is touched; nor a communication
on a case that is not closed.

The sweep is batched: each batch selects up to `retention_batch_size` ids by keyset, then runs
set-based DELETE/UPDATE ... WHERE id IN (...) in its own transaction, with one audit entry
(rule, table, ids, cutoff) per batch, and one per anonymised client.
"""

from __future__ import annotations

import calendar
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, cast, delete, func, insert, literal, or_, union, update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect
from sqlmodel import Session, SQLModel, col, select

from bot.context import App
from bot.intake import forget_raw
from bot.rights.deletion import address_hash
from storage import models
from storage.db import unit_of_work

log = logging.getLogger(__name__)

ACTOR = "retention"
CLOSED = "closed"


# --------------------------------------------------------------------------- dates


def months_before(day: datetime, months: int) -> datetime:
    """The same calendar day `months` earlier, clamped to the month's end (29 Feb -> 28 Feb)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def cutoff(now: datetime, months: int) -> datetime:
    """Records dated before this are due: the N-month anniversary fell before today."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return months_before(midnight, months)


@dataclass(frozen=True)
class Cutoffs:
    project: datetime  # 3 years
    contact: datetime  # 2 years
    financial: datetime  # 7 years
    usage: datetime  # 24 months

    @classmethod
    def at(cls, now: datetime) -> Cutoffs:
        return cls(project=cutoff(now, 36), contact=cutoff(now, 24),
                   financial=cutoff(now, 84), usage=cutoff(now, 24))


# --------------------------------------------------------------------------- who is protected


def protected_clients() -> CompoundSelect:
    """Clients with a case not closed or an active legal hold (never NULL: safe in NOT IN)."""
    open_cases = select(models.Case.client_id).where(
        models.Case.status != CLOSED, col(models.Case.client_id).is_not(None))
    holds = select(models.LegalHold.client_id).where(col(models.LegalHold.released_at).is_(None))
    return union(open_cases, holds)


def _free(client_id: Any) -> ColumnElement[bool]:
    """The row's client (if any) is not protected."""
    return or_(client_id.is_(None), client_id.not_in(protected_clients()))


def _recent_project(client_id: Any, cut: datetime) -> ColumnElement[bool]:
    """The client's last project event (completion, or last update if not completed) is on or
    after the cutoff. Correlated EXISTS: one index probe per row, no per-batch table scan."""
    pr = models.Project
    event = func.coalesce(pr.completed_at, pr.updated_at)
    return select(pr.id).where(col(pr.client_id) == client_id, event >= cut).exists()


def _completed_before(project_id: Any, cut: datetime) -> ColumnElement[bool]:
    """The row's project was completed before the cutoff, and its client is not protected."""
    pr = models.Project
    return select(pr.id).where(col(pr.id) == project_id, col(pr.completed_at).is_not(None),
                               col(pr.completed_at) < cut,
                               col(pr.client_id).not_in(protected_clients())).exists()


def _open_case_ids() -> Any:
    return select(models.Case.id).where(models.Case.status != CLOSED)


# --------------------------------------------------------------------------- conditions


def _model_files_due(c: Cutoffs) -> ColumnElement[bool]:
    mf = models.ModelFile
    linked = and_(col(mf.project_id).is_not(None), col(mf.uploaded_at) < c.project,
                  _completed_before(mf.project_id, c.project))
    loose = and_(col(mf.project_id).is_(None), col(mf.uploaded_at) < c.project,
                 ~_recent_project(mf.client_id, c.project))
    return and_(or_(linked, loose), _free(col(mf.client_id)))


def _communications_due(c: Cutoffs) -> ColumnElement[bool]:
    cm = models.Communication
    linked = and_(col(cm.project_id).is_not(None), _completed_before(cm.project_id, c.project))
    loose = and_(col(cm.project_id).is_(None),
                 or_(col(cm.client_id).is_(None), ~_recent_project(cm.client_id, c.project)))
    return and_(col(cm.occurred_at) < c.project, or_(linked, loose), _free(col(cm.client_id)),
                or_(col(cm.case_id).is_(None), col(cm.case_id).not_in(_open_case_ids())))


def _invoice_protected() -> Any:
    inv = models.Invoice
    return select(inv.id).where(col(inv.client_id).in_(protected_clients()))


def _payments_due(c: Cutoffs) -> ColumnElement[bool]:
    pay = models.Payment
    return and_(col(pay.paid_at) < c.financial, col(pay.invoice_id).not_in(_invoice_protected()))


def _invoices_due(c: Cutoffs) -> ColumnElement[bool]:
    inv, pay = models.Invoice, models.Payment
    kept_payments = select(pay.invoice_id).where(col(pay.paid_at) >= c.financial)
    return and_(col(inv.issued_at) < c.financial, _free(col(inv.client_id)),
                col(inv.id).not_in(kept_payments))


def _usage_due(c: Cutoffs) -> ColumnElement[bool]:
    wu = models.WebsiteUsage
    return and_(col(wu.occurred_at) < c.usage, col(wu.anonymised).is_(False),
                _free(col(wu.client_id)))


def _clients_due(c: Cutoffs) -> ColumnElement[bool]:
    cl = models.Client
    return and_(col(cl.anonymised_at).is_(None), col(cl.last_active_at) < c.contact,
                col(cl.id).not_in(protected_clients()), ~_recent_project(cl.id, c.contact))


# --------------------------------------------------------------------------- actions


@dataclass
class Batch:
    """One batch of due rows, handed to a step's action inside its transaction."""

    session: Session
    app: App
    ids: list[int]
    client_ids: list[int]
    extras: list[tuple[Any, ...]]  # the step's extra columns, per row, in id order
    cutoff: datetime
    now: datetime
    files_deleted: int = 0


def _delete_rows(model: type[SQLModel]) -> Callable[[Batch], None]:
    def action(batch: Batch) -> None:
        _delete_ids(batch.session, model, batch.ids)
    return action


def _delete_ids(session: Session, model: type[SQLModel], ids: list[int]) -> None:
    table_id = model.id  # type: ignore[attr-defined]
    session.exec(delete(model).where(table_id.in_(ids))
                 .execution_options(synchronize_session=False))


def _delete_model_files(batch: Batch) -> None:
    """Bytes first (idempotent), then rows: a crash in between leaves rows the next sweep
    finishes, never orphaned bytes. Bytes shared with a file that stays are kept."""
    mf = models.ModelFile
    keys = set(batch.session.exec(select(mf.storage_key).where(col(mf.id).in_(batch.ids))))
    still_used = set(batch.session.exec(select(mf.storage_key).where(
        col(mf.storage_key).in_(keys), col(mf.id).not_in(batch.ids))))
    for key in sorted(keys - still_used):
        batch.files_deleted += int(batch.app.files.delete(key))
    _delete_ids(batch.session, mf, batch.ids)


def _delete_communications(batch: Batch) -> None:
    """The raw mail is the communication itself: blank it with the index row."""
    inbound, outbox = models.InboundMessage, models.Outbox
    inbound_ids = sorted({i for i, _ in batch.extras if i is not None})
    outbox_ids = sorted({o for _, o in batch.extras if o is not None})
    no_sync = {"synchronize_session": False}
    if inbound_ids:  # large mail kept as a file goes with its row's bytes
        batch.files_deleted += forget_raw(batch.session, batch.app,
                                          col(inbound.id).in_(inbound_ids), sender=None)
    if outbox_ids:
        batch.session.exec(update(outbox).where(col(outbox.id).in_(outbox_ids))
                           .values(raw=b"").execution_options(**no_sync))
    _delete_ids(batch.session, models.Communication, batch.ids)


def _aggregate_and_delete_usage(batch: Batch) -> None:
    agg = models.UsageAggregate
    counts = Counter((when.strftime("%Y-%m"), path) for when, path in batch.extras)
    months = {m for m, _ in counts}
    existing = batch.session.exec(select(agg).where(col(agg.month).in_(months)))
    for row in existing:
        hits = counts.pop((row.month, row.path), 0)
        if hits:
            row.hits += hits
            batch.session.add(row)
    for (month, path), hits in counts.items():
        batch.session.add(agg(month=month, path=path, hits=hits))
    batch.session.flush()
    _delete_ids(batch.session, models.WebsiteUsage, batch.ids)


def _anonymise_clients(batch: Batch) -> None:
    session, ce, cl = batch.session, models.ClientEmail, models.Client
    addresses = session.exec(select(ce.address).where(col(ce.client_id).in_(batch.ids)))
    hashes = {address_hash(batch.app, a) for a in addresses}
    known = set(session.exec(select(models.Suppression.address_hash)
                             .where(col(models.Suppression.address_hash).in_(hashes))))
    new = [{"address_hash": h, "reason": "retention", "created_at": batch.now}
           for h in sorted(hashes - known)]
    if new:
        session.exec(insert(models.Suppression), params=new)
    session.exec(delete(ce).where(col(ce.client_id).in_(batch.ids))
                 .execution_options(synchronize_session=False))
    session.exec(update(cl).where(col(cl.id).in_(batch.ids)).values(
        name=literal("deleted client #") + cast(cl.id, String), phone=None,
        business_address=None, company=None, anonymised_at=batch.now,
    ).execution_options(synchronize_session=False))
    details = json.dumps({"cutoff": batch.cutoff.isoformat(), "rule": "contact_information"},
                         sort_keys=True)
    session.exec(insert(models.AuditLog), params=[
        {"at": batch.now, "actor": ACTOR, "action": "retention.anonymised", "client_id": cid,
         "details": details}
        for cid in batch.ids
    ])


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Step:
    """One table under one rule; steps run in this order (payments before invoices)."""

    rule: str
    table: str
    model: type[SQLModel]
    client_column: str | None
    condition: Callable[[Cutoffs], ColumnElement[bool]]
    cutoff_of: Callable[[Cutoffs], datetime]
    action: Callable[[Batch], None]
    extra: tuple[str, ...] = ()  # columns the action needs, fetched with the batch ids


STEPS: tuple[Step, ...] = (
    Step("project_files", "modelfile", models.ModelFile, "client_id", _model_files_due,
         lambda c: c.project, _delete_model_files),
    Step("communications", "communication", models.Communication, "client_id",
         _communications_due, lambda c: c.project, _delete_communications,
         ("inbound_id", "outbox_id")),
    Step("financial_records", "payment", models.Payment, None, _payments_due,
         lambda c: c.financial, _delete_rows(models.Payment)),
    Step("financial_records", "invoice", models.Invoice, "client_id", _invoices_due,
         lambda c: c.financial, _delete_rows(models.Invoice)),
    Step("website_usage", "websiteusage", models.WebsiteUsage, "client_id", _usage_due,
         lambda c: c.usage, _aggregate_and_delete_usage, ("occurred_at", "path")),
    Step("contact_information", "client", models.Client, "id", _clients_due,
         lambda c: c.contact, _anonymise_clients),
)


@dataclass
class SweepReport:
    """Rows (would be) removed per rule and table, and files deleted from the store."""

    now: datetime
    dry_run: bool
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    files_deleted: int = 0

    def add(self, step: Step, n: int) -> None:
        per_rule = self.counts.setdefault(step.rule, {})
        per_rule[step.table] = per_rule.get(step.table, 0) + n

    @property
    def total(self) -> int:
        return sum(sum(t.values()) for t in self.counts.values())


def due_counts(app: App, now: datetime | None = None) -> list[tuple[Step, int]]:
    """How many rows each step would touch now (one COUNT per step; for progress bars)."""
    cuts = Cutoffs.at(now or app.clock.now())
    with unit_of_work(app.engine) as session:
        return [(step, int(session.exec(select(func.count()).select_from(step.model)
                                        .where(step.condition(cuts))).one()))
                for step in STEPS]


def sweep(app: App, *, dry_run: bool = False,
          progress: Callable[[Step, int], None] | None = None) -> SweepReport:
    """Delete (or, dry run, count) everything due; `progress(step, n)` after each batch."""
    now = app.clock.now()
    cuts = Cutoffs.at(now)
    report = SweepReport(now=now, dry_run=dry_run)
    for step in STEPS:
        report.counts.setdefault(step.rule, {}).setdefault(step.table, 0)
        for n in _run_step(app, step, cuts, now, report, dry_run):
            report.add(step, n)
            if progress is not None:
                progress(step, n)
    log.info("retention %s: %s", "dry run" if dry_run else "sweep", _summary(report))
    return report


def _summary(report: SweepReport) -> str:
    parts = [f"{rule}.{table}={n}" for rule, tables in report.counts.items()
             for table, n in tables.items()]
    return ", ".join(parts) + f", files={report.files_deleted}"


def _run_step(app: App, step: Step, cuts: Cutoffs, now: datetime, report: SweepReport,
              dry_run: bool) -> Iterator[int]:
    """Keyset over the due ids; each batch is one transaction (under the write lock)."""
    size, last = app.settings.retention_batch_size, 0
    while True:
        if dry_run:
            with unit_of_work(app.engine) as session:
                rows = _select_batch(session, step, cuts, last, size)
        else:
            with app.write_lock, unit_of_work(app.engine) as session:
                rows = _select_batch(session, step, cuts, last, size)
                if rows:
                    report.files_deleted += _apply(session, app, step, rows, cuts, now)
        if not rows:
            return
        last = rows[-1][0]
        yield len(rows)


Row = tuple[Any, ...]  # (id, client id or None, *step.extra)


def _select_batch(session: Session, step: Step, cuts: Cutoffs, last: int,
                  size: int) -> list[Row]:
    table_id = step.model.id  # type: ignore[attr-defined]
    client = getattr(step.model, step.client_column) if step.client_column else literal(None)
    extra = [getattr(step.model, name) for name in step.extra]
    query = (select(table_id, client, *extra).where(step.condition(cuts), table_id > last)
             .order_by(table_id).limit(size))
    return [tuple(row) for row in session.exec(query)]


def _apply(session: Session, app: App, step: Step, rows: list[Row], cuts: Cutoffs,
           now: datetime) -> int:
    batch = Batch(session=session, app=app, ids=[r[0] for r in rows],
                  client_ids=sorted({r[1] for r in rows if r[1] is not None}),
                  extras=[r[2:] for r in rows], cutoff=step.cutoff_of(cuts), now=now)
    step.action(batch)
    if step.rule != "contact_information":  # anonymisation audits per client itself
        _audit_batch(batch, step)
    return batch.files_deleted


def _audit_batch(batch: Batch, step: Step) -> None:
    details = {"rule": step.rule, "table": step.table, "ids": batch.ids,
               "client_ids": batch.client_ids, "cutoff": batch.cutoff.isoformat(),
               "count": len(batch.ids)}
    if step.table == "modelfile":
        details["files_deleted"] = batch.files_deleted
    batch.session.exec(insert(models.AuditLog), params=[{
        "at": batch.now, "actor": ACTOR, "action": "retention.deleted",
        "details": json.dumps(details, sort_keys=True),
    }])
