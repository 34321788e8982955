"""Project requests by mail: status, new jobs, technical questions and change requests, invoices.

Who learns what:
- Status and invoice copies go only to a verified client: an address on file whose mail passed
  sender authentication (DMARC pass, or DKIM pass aligned with the From domain, as reported by
  a trusted server), otherwise after a one-time code sent to that address. The answer covers
  only the client's own projects and invoices.
- Anyone else gets a neutral answer that does not depend on what they asked about: a reference
  of another client reads exactly like a reference that does not exist.
- New jobs are accepted from anyone (`bot.projects.jobintake`); technical questions, change requests
  and billing disputes go to staff with the project's context when it is the sender's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot import codemail
from bot.cases import set_status
from bot.context import App
from bot.incoming import Incoming, reply_to
from bot.outbox import Threading, send_template
from bot.projects import jobintake
from bot.staff import escalate
from bot.understand import Understanding
from storage import models
from storage.db import audit

PROJECT_INTENTS = frozenset({"project_status", "new_project", "technical_question", "billing"})
LEFTOVER_STAFF_INTENTS = frozenset({"complaint", "other", "reminder"})
WAITING = "awaiting_requester"  # the same state privacy waits in; its on_reply takes the code
CLOSED_PROJECT_STATUSES = ("completed", "cancelled")
STATUS_TEXT = {
    "draft": "received; we are preparing your quote",
    "quoted": "quoted; waiting for your go-ahead",
    "in_progress": "in preparation",
    "delivered": "delivered",
    "completed": "completed",
    "cancelled": "cancelled",
}
# what the code mail says each gated action is (names known to templates/email/_intents.j2)
CODE_MAIL_NAMES = {"project_status": "project_status", "invoice_copy": "billing"}

_RESEND_RE = re.compile(
    r"\b(re-?send|send (?:it |this |that |them )?again|send (?:me |us )?(?:a |another |the )?"
    r"(?:copy|duplicate)|(?:a |another )?(?:copy|duplicate) of (?:the |my |our |this )?invoice"
    r"|(?:lost|misplaced|can'?t find) (?:the |my |our )?invoice"
    r"|(?:didn'?t|did not|never) (?:get|receive|got|received) (?:the |my |our |an? )?invoice)",
    re.IGNORECASE)
_DISPUTE_RE = re.compile(
    r"\b(disputes?|disputed|wrong|incorrect|overcharg\w*|charged (?:twice|double)"
    r"|double[- ]charged|too (?:much|high)|refunds?|mistake|error|chargeback"
    r"|(?:do not|don'?t) agree|disagree|not (?:correct|right))\b", re.IGNORECASE)
_INVOICE_PREFIX_RE = re.compile(r"^INV-?", re.IGNORECASE)


# --------------------------------------------------------------------------- entry point


def handles(meaning: Understanding) -> bool:
    """True when the message asks something this module answers."""
    return bool(PROJECT_INTENTS & set(meaning.names))


def start(session: Session, app: App, incoming: Incoming, case: models.Case,
          meaning: Understanding, client: models.Client | None) -> str | None:
    """Begin the project requests of a new case; returns a reason when staff must take over.

    Escalations that need the project's context are sent here (with a summary) and then
    None is returned, so the caller does not escalate the same message twice.
    """
    names = set(meaning.names)
    work = _Work()
    if "new_project" in names and jobintake.has_model_files(incoming.parsed.attachments):
        authenticated = incoming.authenticated
        work.reasons.append(jobintake.accept(session, app, incoming, case, client,
                                             authenticated=authenticated))
        names -= {"new_project", "technical_question"}  # the staff intake brief covers both
    if "project_status" in names:
        work.gated.append("project_status")
    if "billing" in names:
        _billing(session, incoming, meaning, client, work)
    if names & {"technical_question", "new_project"}:
        _with_context(session, app, incoming, case, meaning, client, sorted(names), work)
    if names & LEFTOVER_STAFF_INTENTS:
        work.reasons.append("needs a person: " + ", ".join(sorted(names &
                                                                   LEFTOVER_STAFF_INTENTS)))
    if work.gated:
        _gate(session, app, incoming, case, client, work)
    return _finish(session, app, incoming, case, work)


class _Work:
    """What one message needs: gated answers, reasons for staff, context for staff."""

    def __init__(self) -> None:
        self.gated: list[str] = []
        self.reasons: list[str | None] = []
        self.summary: dict[str, Any] = {}
        self.answered = False


def _finish(session: Session, app: App, incoming: Incoming, case: models.Case,
            work: _Work) -> str | None:
    reason = "; ".join(r for r in work.reasons if r) or None
    if reason and work.summary:
        escalate(session, app, case, reason=reason, inbound=incoming.row, summary=work.summary,
                 hold=case.status not in (WAITING, "closed", "awaiting_staff"))
        return None
    if reason is None and work.answered and case.status == "open":
        set_status(session, app, case, "closed", outcome="answered")
    return reason


# --------------------------------------------------------------------------- verification


def _gate(session: Session, app: App, incoming: Incoming, case: models.Case,
          client: models.Client | None, work: _Work) -> None:
    """Answer now (verified), ask for a code (on file), or answer neutrally (not on file)."""
    if client is None:
        for action in work.gated:
            _neutral(session, app, incoming, case, action)
        work.answered = True
        return
    if incoming.authenticated:
        audit(session, "verify.sender_authenticated", at=app.clock.now(), case_id=case.id,
              client_id=client.id, actions=",".join(work.gated))
        for action in work.gated:
            FULFIL[action](session, app, incoming, case)
        work.answered = True
        return
    _send_code(session, app, case, ",".join(work.gated), incoming.parsed.from_addr)


def _send_code(session: Session, app: App, case: models.Case, action: str, to: str) -> None:
    """The same code mail and waiting state as privacy's, bound to this case and action."""
    if not codemail.send_code_mail(session, app, case, action=action, to=to,
                                   shown=[CODE_MAIL_NAMES.get(a, a) for a in action.split(",")]):
        codemail.escalate_capped(session, app, case)
        return
    set_status(session, app, case, WAITING, action=action)
    case.waiting_since = app.clock.now()


def _neutral(session: Session, app: App, incoming: Incoming, case: models.Case,
             action: str) -> None:
    """What a sender not on file gets: the same words whatever reference they gave."""
    purpose = "project_pick" if action == "project_status" else "invoice_copy"
    reply_to(session, app, incoming, case, purpose, known=False, projects=[], invoices=[],
             choices=[], unmatched=False)
    audit(session, "project.neutral_answer", at=app.clock.now(), case_id=case.id,
          inbound_id=incoming.row.id, action=action)


# --------------------------------------------------------------------------- fulfilment


def fulfil_status(session: Session, app: App, incoming: Incoming, case: models.Case) -> None:
    """Status of the client's referenced projects, else a list of their open ones to pick."""
    assert case.client_id is not None
    refs = _evidence(case, "project_refs")
    own = {p.reference: p for p in client_projects(session, case.client_id)}
    matched = [own[r] for r in refs if r in own]
    unmatched = any(r not in own for r in refs)
    open_ones = [p for p in own.values() if p.status not in CLOSED_PROJECT_STATUSES]
    if not refs and len(open_ones) == 1:
        matched = open_ones
    if matched:
        _answer(session, app, incoming, case, "project_status",
                projects=[project_view(p) for p in matched], unmatched=unmatched)
    else:
        _answer(session, app, incoming, case, "project_pick", known=True,
                projects=[project_view(p) for p in open_ones], unmatched=bool(refs))
    audit(session, "project.status_sent", at=app.clock.now(), case_id=case.id,
          client_id=case.client_id, projects=[p.id for p in matched])


def fulfil_invoice(session: Session, app: App, incoming: Incoming, case: models.Case) -> None:
    """A copy (as mail) of each referenced invoice of the client; else their invoices to pick."""
    assert case.client_id is not None
    asked = [_invoice_key(n) for n in _evidence(case, "invoice_numbers")]
    own = client_invoices(session, case.client_id)
    matched = [i for i in own if _invoice_key(i.number) in asked]
    refs = _project_refs(session, [i.project_id for i in matched])
    _answer(session, app, incoming, case, "invoice_copy", known=True,
            invoices=[invoice_view(i, refs) for i in matched],
            choices=[] if matched else [invoice_view(i, refs) for i in own[:10]],
            unmatched=len(matched) < len(set(asked)) or not asked)
    audit(session, "invoice.copy_sent", at=app.clock.now(), case_id=case.id,
          client_id=case.client_id, invoices=[i.id for i in matched])


def _answer(session: Session, app: App, incoming: Incoming, case: models.Case, purpose: str,
            **ctx: object) -> None:
    """To the requester (the address on file the code went to), threaded under the reply."""
    parsed = incoming.parsed
    send_template(session, app, case=case, to=case.requester, purpose=purpose,
                  key=f"{purpose}:{case.id}:{incoming.row.id}",
                  threading=Threading(parsed.message_id, tuple(parsed.references)), **ctx)


FULFIL: dict[str, Callable[[Session, App, Incoming, models.Case], None]] = {
    "project_status": fulfil_status,
    "invoice_copy": fulfil_invoice,
}


# --------------------------------------------------------------------------- records


def client_projects(session: Session, client_id: int) -> list[models.Project]:
    query = select(models.Project).where(models.Project.client_id == client_id)
    return list(session.exec(query.order_by(col(models.Project.created_at).desc())))


def client_invoices(session: Session, client_id: int) -> list[models.Invoice]:
    query = select(models.Invoice).where(models.Invoice.client_id == client_id)
    return list(session.exec(query.order_by(col(models.Invoice.issued_at).desc())))


def project_view(project: models.Project) -> dict[str, Any]:
    return {"reference": project.reference, "title": project.title, "status": project.status,
            "status_text": STATUS_TEXT.get(project.status, project.status),
            "updated_at": project.updated_at, "promised_delivery": project.promised_delivery}


def invoice_view(invoice: models.Invoice, refs: dict[int, str]) -> dict[str, Any]:
    return {"number": invoice.number, "issued_at": invoice.issued_at,
            "amount": f"{invoice.amount_cents / 100:,.2f} {invoice.currency}",
            "status": invoice.status, "project": refs.get(invoice.project_id or 0)}


def _project_refs(session: Session, ids: list[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    query = select(models.Project).where(col(models.Project.id).in_(wanted))
    return {p.id: p.reference for p in session.exec(query) if p.id is not None}


def _invoice_key(number: str) -> str:
    return _INVOICE_PREFIX_RE.sub("", number.strip()).lstrip("0").upper()


def _evidence(case: models.Case, name: str) -> list[str]:
    return list(json.loads(case.evidence or "{}").get("entities", {}).get(name, []))


# --------------------------------------------------------------------------- staff


def _billing(session: Session, incoming: Incoming, meaning: Understanding,
             client: models.Client | None, work: _Work) -> None:
    """A plain "resend invoice N" is answered; everything else about money goes to staff."""
    text = incoming.text + "\n" + incoming.parsed.subject
    wants_copy = bool(meaning.entities.invoice_numbers) and bool(_RESEND_RE.search(text))
    if wants_copy and not _DISPUTE_RE.search(text):
        work.gated.append("invoice_copy")
        return
    work.reasons.append("billing: dispute or question about an invoice or payment")
    if client is None:
        return
    asked = {_invoice_key(n) for n in meaning.entities.invoice_numbers}
    own = client_invoices(session, client.id)
    refs = _project_refs(session, [i.project_id for i in own])
    for invoice in own:
        if not asked or _invoice_key(invoice.number) in asked:
            view = invoice_view(invoice, refs)
            work.summary[f"invoice {invoice.number}"] = (
                f"{view['amount']}, {view['status']}, issued {invoice.issued_at:%Y-%m-%d}"
                + (f", project {view['project']}" if view["project"] else ""))


def _with_context(session: Session, app: App, incoming: Incoming, case: models.Case,
                  meaning: Understanding, client: models.Client | None, names: list[str],
                  work: _Work) -> None:
    """Technical questions and change requests: to staff, with the sender's project attached."""
    what = ", ".join(n for n in names if n in ("technical_question", "new_project"))
    refs = list(meaning.entities.project_refs)
    own = {p.reference: p for p in client_projects(session, client.id)} if client else {}
    matched = [own[r] for r in refs if r in own]
    if not matched:
        work.reasons.append(f"needs a person: {what}" + (
            "; the project reference is not one of the sender's projects" if refs else ""))
        return
    work.reasons.append(f"needs a person: {what} on {', '.join(p.reference for p in matched)}")
    for project in matched:
        work.summary.update(_project_summary(session, project))
        _link_project(session, app, incoming, case, project)


def _project_summary(session: Session, project: models.Project) -> dict[str, str]:
    files = session.exec(select(models.ModelFile).where(
        models.ModelFile.project_id == project.id,
        col(models.ModelFile.deleted_at).is_(None))).all()
    ref = project.reference
    return {
        f"{ref} title": project.title,
        f"{ref} status": f"{project.status} (last update {_day(project.updated_at)})",
        f"{ref} promised delivery": _day(project.promised_delivery),
        f"{ref} printer / material": f"{project.printer or '-'} / {project.material or '-'}",
        f"{ref} specs": " | ".join(project.specs.splitlines()) or "-",
        f"{ref} files": ", ".join(f"{f.filename} (#{f.id}, {f.size} bytes)" for f in files)
        or "none on file",
    }


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "not set"


def _link_project(session: Session, app: App, incoming: Incoming, case: models.Case,
                  project: models.Project) -> None:
    """The inbound message joins the project's communications record."""
    rows = session.exec(select(models.Communication).where(
        models.Communication.inbound_id == incoming.row.id)).all()
    for row in rows:
        row.project_id = project.id
        session.add(row)
    audit(session, "case.project_linked", at=app.clock.now(), case_id=case.id,
          client_id=project.client_id, project_id=project.id)
