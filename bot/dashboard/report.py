"""The compliance report: requests per month by right, time to close, overdue, extensions,
deletions and what they kept, legal holds; and the register of requests as CSV."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from bot.cases import OPEN_STATUSES
from bot.context import App
from bot.dashboard.queries import identity_state
from bot.understand import PRIVACY_INTENTS
from storage import models
from storage.db import unit_of_work

OTHER = "other requests"
KEPT_BASIS = {
    "invoices": "accounting and tax law: 7 years from the invoice date",
    "payments": "accounting and tax law: 7 years from the invoice date",
    "disclosures": "accountability (GDPR art. 5(2)); names no one once contact data is erased",
    "privacy_requests": "evidence the request was handled (GDPR art. 5(2))",
}
CSV_COLUMNS = ("reference", "received", "right", "intents", "channel", "identity", "status",
               "outcome", "reviewer", "due_original", "due", "extensions", "closed",
               "days_to_close")


@dataclass(frozen=True)
class DeletionRow:
    at: datetime
    case_ref: str
    kept: dict[str, int]


@dataclass
class ComplianceReport:
    months: list[str] = field(default_factory=list)
    rights: list[str] = field(default_factory=list)
    per_month: dict[str, dict[str, float]] = field(default_factory=dict)
    total: int = 0
    closed: int = 0
    median_days: float | None = None
    p95_days: float | None = None
    median_by_month: dict[str, float] = field(default_factory=dict)
    overdue_open: int = 0
    closed_late: int = 0
    extensions: int = 0
    extended_cases: int = 0
    deletions: list[DeletionRow] = field(default_factory=list)
    holds: list[models.LegalHold] = field(default_factory=list)
    basis: dict[str, str] = field(default_factory=lambda: dict(KEPT_BASIS))


def right_of(case: models.Case) -> str:
    return case.kind if case.kind in PRIVACY_INTENTS else OTHER


def days_to_close(case: models.Case) -> float | None:
    if case.closed_at is None:
        return None
    return round((case.closed_at - case.received_at).total_seconds() / 86400, 1)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the value below which q of the cases closed)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def build_report(app: App) -> ComplianceReport:
    now = app.clock.now()
    with unit_of_work(app.engine) as session:
        cases = list(session.exec(select(models.Case).order_by(col(models.Case.received_at))))
        report = ComplianceReport(total=len(cases))
        _volume(report, cases)
        _closing(report, cases, now)
        _extensions(report, session)
        report.deletions = _deletions(session, cases)
        report.holds = list(session.exec(select(models.LegalHold)
                                         .order_by(col(models.LegalHold.id))))
    return report


def _volume(report: ComplianceReport, cases: list[models.Case]) -> None:
    per_month: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for case in cases:
        per_month[f"{case.received_at:%Y-%m}"][right_of(case)] += 1
    report.months = sorted(per_month)
    seen = {right for month in per_month.values() for right in month}
    report.rights = sorted(seen - {OTHER}) + ([OTHER] if OTHER in seen else [])
    report.per_month = {m: dict(v) for m, v in per_month.items()}


def _closing(report: ComplianceReport, cases: list[models.Case], now: datetime) -> None:
    durations: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        days = days_to_close(case)
        if days is not None:
            durations[f"{case.received_at:%Y-%m}"].append(days)
            report.closed_late += case.closed_at is not None and case.closed_at > case.due_at
        elif case.status in OPEN_STATUSES and case.due_at < now:
            report.overdue_open += 1
    everything = [d for month in durations.values() for d in month]
    report.closed = len(everything)
    if everything:
        report.median_days = round(statistics.median(everything), 1)
        report.p95_days = percentile(everything, 0.95)
    report.median_by_month = {m: round(statistics.median(v), 1) for m, v in durations.items()}


def _extensions(report: ComplianceReport, session: Session) -> None:
    rows = session.exec(select(models.AuditLog.case_id)
                        .where(models.AuditLog.action == "case.extended")).all()
    report.extensions = len(rows)
    report.extended_cases = len(set(rows))


def _deletions(session: Session, cases: list[models.Case]) -> list[DeletionRow]:
    """Each executed deletion with the categories it kept (counts), newest first."""
    ref_by_client = {c.client_id: c.ref or "" for c in cases
                     if c.client_id is not None and "deletion" in (c.intents or c.kind)}
    entries = session.exec(select(models.AuditLog)
                           .where(models.AuditLog.action == "deletion.completed")
                           .order_by(col(models.AuditLog.id).desc())).all()
    rows = []
    for entry in entries:
        kept = json.loads(entry.details or "{}").get("kept", {})
        rows.append(DeletionRow(entry.at, ref_by_client.get(entry.client_id, ""),
                                {k: int(v) for k, v in kept.items() if int(v)}))
    return rows


# --------------------------------------------------------------------------- register (CSV)


def register_csv(app: App) -> str:
    """One row per request: what regulators ask for, no names or addresses."""
    with unit_of_work(app.engine) as session:
        cases = list(session.exec(select(models.Case).order_by(col(models.Case.id))))
        trail = _trail_by_case(session)
        codes = _codes_by_case(session)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for case in cases:
        writer.writerow([_cell(v) for v in _register_row(case, trail.get(case.id or 0, []),
                                                         codes.get(case.id or 0, []))])
    return out.getvalue()


def _register_row(case: models.Case, trail: list[models.AuditLog],
                  codes: list[models.VerificationCode]) -> list[object]:
    details = [(e, json.loads(e.details or "{}")) for e in trail]
    opened = next((d for e, d in details if e.action == "case.opened"), {})
    outcome = next((d.get("outcome") for e, d in reversed(details)
                    if e.action == "case.status" and d.get("outcome")), "")
    reviewer = next((e.actor for e in reversed(trail) if e.action == "staff.command"), "")
    closed = case.closed_at
    return [case.ref, _iso(case.received_at), right_of(case), case.intents, case.channel,
            identity_state(codes), case.status, outcome, reviewer,
            str(opened.get("due_at", ""))[:10], _iso(case.due_at),
            sum(1 for e in trail if e.action == "case.extended"),
            _iso(closed) if closed else "", days_to_close(case) if closed else ""]


def _trail_by_case(session: Session) -> dict[int, list[models.AuditLog]]:
    wanted = ("case.opened", "case.status", "case.extended", "staff.command")
    grouped: dict[int, list[models.AuditLog]] = defaultdict(list)
    for entry in session.exec(select(models.AuditLog)
                              .where(col(models.AuditLog.action).in_(wanted))
                              .order_by(col(models.AuditLog.id))):
        grouped[entry.case_id or 0].append(entry)
    return grouped


def _codes_by_case(session: Session) -> dict[int, list[models.VerificationCode]]:
    grouped: dict[int, list[models.VerificationCode]] = defaultdict(list)
    for code in session.exec(select(models.VerificationCode)):
        grouped[code.case_id].append(code)
    return grouped


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _cell(value: object) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
