"""Right to know how data was used and shared: the disclosure log plus the policy's purposes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.context import App
from bot.rights import CATEGORIES, PURPOSES
from bot.rights.export import collect


@dataclass(frozen=True)
class CategoryUse:
    key: str
    title: str
    records: int
    purposes: tuple[str, ...]
    recipients: tuple[str, ...]  # recipient categories from the policy
    retention: str


@dataclass(frozen=True)
class DisclosureEntry:
    recipient: str
    categories: tuple[str, ...]
    purpose: str
    disclosed_at: datetime


@dataclass(frozen=True)
class RecipientSummary:
    recipient: str
    categories: tuple[str, ...]
    purposes: tuple[str, ...]
    times: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class UsageReport:
    client_id: int
    generated_at: datetime
    purposes: tuple[str, ...]
    categories: list[CategoryUse]
    disclosures: list[DisclosureEntry]  # oldest first
    recipients: list[RecipientSummary]  # one per processor, by name
    counts: dict[str, int]  # table -> records held


def usage_report(session: Session, app: App, client_id: int) -> UsageReport:
    """How the client's data is used (purposes per category) and who received what, when, why."""
    records = collect(session, client_id)
    counts = records.counts()
    disclosures = [
        DisclosureEntry(d.recipient, _split(d.categories), d.purpose, d.disclosed_at)
        for d in records.disclosures
    ]
    return UsageReport(
        client_id=client_id,
        generated_at=app.clock.now(),
        purposes=PURPOSES,
        categories=[
            CategoryUse(c.key, c.title, sum(counts.get(t, 0) for t in c.tables), c.purposes,
                        c.recipients, c.retention)
            for c in CATEGORIES
        ],
        disclosures=disclosures,
        recipients=_by_recipient(disclosures),
        counts=counts,
    )


def _split(categories: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in categories.split(",") if part.strip())


def _by_recipient(disclosures: list[DisclosureEntry]) -> list[RecipientSummary]:
    groups: dict[str, list[DisclosureEntry]] = {}
    for entry in disclosures:
        groups.setdefault(entry.recipient, []).append(entry)
    return [
        RecipientSummary(
            recipient=name,
            categories=tuple(dict.fromkeys(c for e in entries for c in e.categories)),
            purposes=tuple(dict.fromkeys(e.purpose for e in entries)),
            times=len(entries),
            first=min(e.disclosed_at for e in entries),
            last=max(e.disclosed_at for e in entries),
        )
        for name, entries in sorted(groups.items())
    ]
