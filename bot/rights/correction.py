"""Right to rectification: apply clear corrections to contact fields, route the rest.

An email change is never applied here: the new address must be verified first (the caller
sends it a code). Unknown or ambiguous fields, empty or implausible values, and contradictory
changes of one field go to staff. The audit log records field names, never values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmodel import Session

from bot.context import App
from bot.rights import ClientNotFound
from storage import models
from storage.db import audit

FIELDS = {  # how requesters name a field -> Client attribute
    "name": "name", "full name": "name", "full_name": "name",
    "phone": "phone", "phone number": "phone", "telephone": "phone", "tel": "phone",
    "mobile": "phone",
    "address": "business_address", "business address": "business_address",
    "business_address": "business_address", "postal address": "business_address",
    "company": "company", "company name": "company", "company_name": "company",
}
EMAIL_FIELDS = {"email", "e-mail", "email address", "e-mail address", "mail"}
MAX_LENGTH = 300
PHONE = re.compile(r"^\+?[\d\s().\-/]{5,40}(\s*(ext\.?|x)\s*\d{1,6})?$", re.IGNORECASE)


@dataclass(frozen=True)
class Change:
    field: str  # Client attribute
    old: str | None
    new: str


@dataclass
class CorrectionResult:
    applied: list[Change] = field(default_factory=list)
    needs_verification: list[tuple[str, str]] = field(default_factory=list)  # email changes
    needs_staff: list[tuple[str, str]] = field(default_factory=list)  # (field, value) as asked
    unchanged: list[str] = field(default_factory=list)  # fields already holding the value


def apply_corrections(session: Session, app: App, client_id: int,
                      changes: list[tuple[str, str]], *, actor: str) -> CorrectionResult:
    """Apply unambiguous contact-field corrections; one audit entry per applied change."""
    client = session.get(models.Client, client_id)
    if client is None:
        raise ClientNotFound(client_id)
    result = CorrectionResult()
    wanted = _route(changes, result, anonymised=client.anonymised_at is not None)
    now = app.clock.now()
    for attr, value in wanted.items():
        old = getattr(client, attr)
        if old == value:
            result.unchanged.append(attr)
            continue
        setattr(client, attr, value)
        result.applied.append(Change(attr, old, value))
        audit(session, "correction.applied", at=now, actor=actor, client_id=client_id,
              field=attr)
    if result.applied:
        session.add(client)
    return result


def field_key(name: str) -> str:
    """How a requester named a field, normalised ("E-Mail" -> "e-mail")."""
    return " ".join(name.strip().lower().replace("-", " ").split()).replace("e mail", "e-mail")


def _route(changes: list[tuple[str, str]], result: CorrectionResult, *,
           anonymised: bool) -> dict[str, str]:
    """Sort requested changes; returns attr -> clean value for those that can be applied."""
    proposed: dict[str, set[str]] = {}
    raw: dict[str, list[tuple[str, str]]] = {}
    for name, value in changes:
        key = field_key(name)
        clean = " ".join(value.split())
        if key in EMAIL_FIELDS:
            result.needs_verification.append((name, clean))
            continue
        attr = FIELDS.get(key)
        if anonymised or attr is None or not _plausible(attr, clean):
            result.needs_staff.append((name, value))
            continue
        proposed.setdefault(attr, set()).add(clean)
        raw.setdefault(attr, []).append((name, value))
    wanted = {}
    for attr, values in proposed.items():
        if len(values) == 1:
            wanted[attr] = values.pop()
        else:  # two different values for one field: ask a human
            result.needs_staff.extend(raw[attr])
    return wanted


def _plausible(attr: str, value: str) -> bool:
    if not value or len(value) > MAX_LENGTH:
        return False
    return attr != "phone" or bool(PHONE.match(value))
