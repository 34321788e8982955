"""The privacy-rights workflow by email: verify, then fulfil; staff where a human must decide.

New request -> (opt-out applied at once, never gated) -> a one-time code to the address on file
-> the requester replies with it -> each verified right is fulfilled from `bot.rights` and
confirmed. Deletion is announced and final only after a grace period; blockers go to staff.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import Session, col, select, update

from bot import codemail, downloads, verify
from bot.cases import set_status
from bot.context import App
from bot.conversation import cites_our_mail
from bot.identity import is_chat_address
from bot.incoming import Incoming, reply_to
from bot.intake import forget_raw
from bot.outbox import FileAttachment, send_template
from bot.rights.correction import apply_corrections
from bot.rights.deletion import (
    FINISHED_PROJECT,
    OPEN_INVOICE,
    DeletionNeedsApproval,
    execute_deletion,
    plan_deletion,
    suppress,
)
from bot.rights.export import build_export, collect, generate_password
from bot.rights.restriction import restrict, set_marketing_opt_out
from bot.rights.summary import table_labels
from bot.rights.usage import usage_report
from bot.staff import escalate
from bot.understand import Understanding
from storage import models
from storage.db import audit

log = logging.getLogger(__name__)

VERIFIED_RIGHTS = ("access", "deletion", "correction", "restriction", "usage_report")
WAITING = "awaiting_requester"
NEW_EMAIL = "new_email"  # code action for proving a new login address
SCHEDULED = "deletion_scheduled"


def addresses_on_file(session: Session, client_id: int | None) -> list[str]:
    if client_id is None:
        return []
    query = select(models.ClientEmail.address).where(models.ClientEmail.client_id == client_id)
    return sorted(session.exec(query))


def owner_of(session: Session, address: str) -> int | None:
    query = select(models.ClientEmail.client_id).where(models.ClientEmail.address == address)
    return session.exec(query).first()


# --------------------------------------------------------------------------- new requests


def start(session: Session, app: App, incoming: Incoming, case: models.Case,
          meaning: Understanding, client: models.Client | None) -> str | None:
    """Begin the rights in a new case; returns a reason when staff must take it instead."""
    names = [i.name for i in meaning.intents]
    if "optout" in names:  # alone: confirmed in its own mail; else the ack says it
        _opt_out(session, app, incoming, case, client, confirm=len(names) == 1)
    gated = [n for n in names if n in VERIFIED_RIGHTS]
    if not gated:
        if "optout" in names and len(names) == 1:
            set_status(session, app, case, "closed", outcome="opted_out")
        return None
    reason = _refuse_reason(session, incoming, case, meaning, client)
    if reason:
        return reason
    _send_code(session, app, case, ",".join(gated), incoming.parsed.from_addr)
    return None


def code_destination(session: Session, case: models.Case, requester: str) -> str:
    """Email asks: the code goes back to that (on-file) address. Chat asks: to the client's
    email on file, and the requester types it in the chat."""
    if not is_chat_address(requester):
        return requester
    emails = [a for a in addresses_on_file(session, case.client_id) if not is_chat_address(a)]
    return emails[0] if emails else requester


def _refuse_reason(session: Session, incoming: Incoming, case: models.Case,
                   meaning: Understanding, client: models.Client | None) -> str | None:
    """Requests the bot must not fulfil alone; the requester still only gets a neutral answer."""
    sender = incoming.parsed.from_addr
    corrected = {value.lower() for field, value in meaning.entities.corrections
                 if field == "email"}
    others = [e for e in meaning.entities.emails if e != sender and e not in corrected]
    if client is None:
        if any(owner_of(session, e) for e in others):
            return "request names a client's address but comes from an address not on file"
        return "no client on file for the sender's address"
    own = set(addresses_on_file(session, client.id))
    if [e for e in others if e not in own]:
        return "asks for data to go to an address that is not on file"
    return None


def _send_code(session: Session, app: App, case: models.Case, action: str,
               requester: str) -> None:
    to = code_destination(session, case, requester)
    channel = "chat" if is_chat_address(requester) else "email"
    if not codemail.send_code_mail(session, app, case, action=action, to=to,
                                   shown=action.split(","), channel=channel):
        codemail.escalate_capped(session, app, case)
        return
    set_status(session, app, case, WAITING, action=action)
    case.waiting_since = app.clock.now()


def _opt_out(session: Session, app: App, incoming: Incoming, case: models.Case,
             client: models.Client | None, *, confirm: bool) -> None:
    """Opting out is never gated: applied at once, for unknown addresses too (suppression)."""
    sender = incoming.parsed.from_addr
    if client is not None:
        set_marketing_opt_out(session, app, client.id, True, actor="bot")
    suppress(session, app, sender, "opt_out")
    audit(session, "optout.applied", at=app.clock.now(), case_id=case.id,
          client_id=client.id if client else None)
    if confirm:
        reply_to(session, app, incoming, case, "optout_done")


# --------------------------------------------------------------------------- replies


def on_closed_reply(session: Session, app: App, incoming: Incoming,
                    case: models.Case) -> bool:
    """A code sent to a closed case is a replay: a neutral answer, nothing changes."""
    if verify.find_code(incoming.text) is None:
        return False
    audit(session, "verify.replay_on_closed_case", at=app.clock.now(), case_id=case.id,
          inbound_id=incoming.row.id)
    reply_to(session, app, incoming, case, "verify_used")
    return True


def on_reply(session: Session, app: App, incoming: Incoming, case: models.Case) -> bool:
    """Handle a requester's reply on a case waiting for them; False if it is not ours to take."""
    if case.status == SCHEDULED:
        return _on_scheduled_reply(session, app, incoming, case)
    if case.status != WAITING:
        return False
    trusted = _from_recipient(session, incoming, case)
    if trusted and verify.says_not_me(incoming.text):
        _cancel(session, app, incoming, case, "requester said the request was not theirs")
        return True
    candidate = verify.find_code(incoming.text)
    if candidate is None:  # a question (or an uncited NOT ME), not an attempt: nothing counted
        reply_to(session, app, incoming, case, "verify_waiting")
        return True
    check = verify.check_code(session, app, case, candidate, trusted=trusted)
    _HANDLERS[check.result](session, app, incoming, case, check)
    return True


def _from_recipient(session: Session, incoming: Incoming, case: models.Case) -> bool:
    """As far as we can tell, the reply comes from whoever received our mail on this case."""
    return incoming.authenticated or cites_our_mail(session, case, incoming.parsed)


def _verified(session: Session, app: App, incoming: Incoming, case: models.Case,
              check: verify.Check) -> None:
    assert check.code is not None
    set_status(session, app, case, "open", verified=True)
    case.waiting_since = None
    if check.code.action.startswith(NEW_EMAIL + ":"):
        _fulfil_new_email(session, app, incoming, case, check.code.action.partition(":")[2])
    else:
        for action in check.code.action.split(","):
            _FULFIL[action](session, app, incoming, case)
    if case.status == "open":
        set_status(session, app, case, "closed", outcome="fulfilled")


def _wrong(session: Session, app: App, incoming: Incoming, case: models.Case,
           check: verify.Check) -> None:
    reply_to(session, app, incoming, case, "verify_wrong", attempts_left=check.attempts_left)


def _locked(session: Session, app: App, incoming: Incoming, case: models.Case,
            check: verify.Check) -> None:
    reply_to(session, app, incoming, case, "verify_locked")
    escalate(session, app, case, reason="verification locked after failed attempts",
             inbound=incoming.row)


def _expired(session: Session, app: App, incoming: Incoming, case: models.Case,
             check: verify.Check) -> None:
    if verify.codes_issued(session, case.id) < app.settings.codes_per_case and case.client_id:
        last = check.code.action if check.code else case.intents
        _send_code(session, app, case, last, case.requester)
        return
    reply_to(session, app, incoming, case, "verify_expired")
    set_status(session, app, case, "closed", outcome="verification_expired")


def _used(session: Session, app: App, incoming: Incoming, case: models.Case,
          check: verify.Check) -> None:
    reply_to(session, app, incoming, case, "verify_used")


def _no_code(session: Session, app: App, incoming: Incoming, case: models.Case,
             check: verify.Check) -> None:
    reply_to(session, app, incoming, case, "verify_wrong",
             attempts_left=_attempts_left(session, app, case))


def _untrusted(session: Session, app: App, incoming: Incoming, case: models.Case,
               check: verify.Check) -> None:
    reply_to(session, app, incoming, case, "verify_waiting")


def _attempts_left(session: Session, app: App, case: models.Case) -> int:
    codes = verify.active_codes(session, case.id)
    return app.settings.code_max_attempts - codes[0].attempts if codes else 0


_HANDLERS = {
    verify.CheckResult.OK: _verified,
    verify.CheckResult.WRONG: _wrong,
    verify.CheckResult.LOCKED: _locked,
    verify.CheckResult.EXPIRED: _expired,
    verify.CheckResult.USED: _used,
    verify.CheckResult.NO_CODE: _no_code,
    verify.CheckResult.UNTRUSTED: _untrusted,
}


def _cancel(session: Session, app: App, incoming: Incoming, case: models.Case,
            why: str) -> None:
    verify.void_codes(session, case.id)
    reply_to(session, app, incoming, case, "request_cancelled")
    escalate(session, app, case, reason=why, inbound=incoming.row)
    set_status(session, app, case, "closed", outcome="cancelled", why=why)


# --------------------------------------------------------------------------- fulfilment


def _in_cooloff(session: Session, app: App, case: models.Case) -> bool:
    """The requester's address became the email of record recently: no data goes to it yet
    (a takeover of the address would otherwise be one export away)."""
    row = session.exec(select(models.ClientEmail).where(
        models.ClientEmail.address == case.requester)).first()
    since = app.clock.now() - timedelta(days=app.settings.email_change_cooloff_days)
    return row is not None and row.added_at is not None and row.added_at > since


def _hold_for_cooloff(session: Session, app: App, incoming: Incoming,
                      case: models.Case) -> bool:
    if not _in_cooloff(session, app, case):
        return False
    audit(session, "access.held_cooloff", at=app.clock.now(), case_id=case.id,
          client_id=case.client_id)
    escalate(session, app, case, inbound=incoming.row,
             reason="email of record changed recently; the data was not sent (cool-off)")
    return True


def _fulfil_access(session: Session, app: App, incoming: Incoming, case: models.Case) -> None:
    assert case.client_id is not None
    if _hold_for_cooloff(session, app, incoming, case):
        return
    password = generate_password()
    exports = app.settings.data_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    result = build_export(session, app, case.client_id, exports, password=password,
                          language=case.language)
    to = case.requester
    labels = table_labels(app.renderer.env_for(case.language))
    if result.size <= app.settings.export_attach_max_bytes:
        attachment = FileAttachment(result.path.name, result.path.read_bytes(),
                                    "application/zip")
        send_template(session, app, case=case, to=to, purpose="export_ready",
                      key=f"export:{case.id}", attachments=[attachment],
                      categories=result.categories, size=result.size, labels=labels)
        result.path.unlink()  # the mail carries it now; no copy lingers on disk
    elif app.settings.download_enabled:
        url = downloads.issue_link(session, app, case, result.path)
        send_template(session, app, case=case, to=to, purpose="export_link",
                      key=f"export:{case.id}", url=url, categories=result.categories,
                      labels=labels,
                      size=result.size, hours=int(app.settings.download_ttl_hours),
                      count=app.settings.download_max_count)
    else:
        escalate(session, app, case, reason="export too large to attach; send it by hand",
                 inbound=incoming.row, summary={"export": result.path.name,
                                                "size": result.size})
        return
    send_template(session, app, case=case, to=to, purpose="export_password",
                  key=f"export-password:{case.id}", password=password)
    audit(session, "access.delivered", at=app.clock.now(), case_id=case.id,
          client_id=case.client_id, size=result.size)


def _fulfil_usage(session: Session, app: App, incoming: Incoming, case: models.Case) -> None:
    assert case.client_id is not None
    if _hold_for_cooloff(session, app, incoming, case):
        return
    report = usage_report(session, app, case.client_id)
    send_template(session, app, case=case, to=case.requester, purpose="usage_report",
                  key=f"usage:{case.id}", report=report)
    audit(session, "usage_report.delivered", at=app.clock.now(), case_id=case.id,
          client_id=case.client_id)


def _fulfil_correction(session: Session, app: App, incoming: Incoming,
                       case: models.Case) -> None:
    assert case.client_id is not None
    asked = [tuple(c) for c in json.loads(case.evidence or "{}")
             .get("entities", {}).get("corrections", [])]
    result = apply_corrections(session, app, case.client_id, asked,  # type: ignore[arg-type]
                               actor="bot")
    send_template(session, app, case=case, to=case.requester, purpose="correction_done",
                  key=f"correction:{case.id}", result=result)
    new_email = _single_new_email(session, result.needs_verification)
    if new_email and not result.needs_staff:
        _send_new_email_code(session, app, case, new_email)
    elif result.needs_staff or result.needs_verification or not asked:
        escalate(session, app, case, reason="correction needs a person (unclear or new email)",
                 inbound=incoming.row,
                 summary={"fields": ", ".join(f for f, _ in
                                              result.needs_staff + result.needs_verification)})


def _single_new_email(session: Session, asked: list[tuple[str, str]]) -> str | None:
    """The one new address asked for, if it is plausible and nobody else's."""
    values = {value.strip().lower() for _, value in asked}
    if len(values) != 1:
        return None
    address = values.pop()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address) or owner_of(session, address):
        return None
    return address


def _send_new_email_code(session: Session, app: App, case: models.Case, address: str) -> None:
    """A new login email is used only once a code sent to it comes back."""
    code = verify.issue_code(session, app, case, action=f"{NEW_EMAIL}:{address}",
                             sent_to=address)
    send_template(session, app, case=case, to=address, purpose="verify_new_email",
                  key=f"new-email-code:{case.id}:{verify.codes_issued(session, case.id)}",
                  code=code, hours=int(app.settings.code_ttl_email_hours), keep_record=False)
    set_status(session, app, case, WAITING, action=NEW_EMAIL)
    case.waiting_since = app.clock.now()


def _fulfil_new_email(session: Session, app: App, incoming: Incoming, case: models.Case,
                      address: str) -> None:
    """The new address proved itself: it becomes the primary address on file."""
    assert case.client_id is not None
    rows = session.exec(select(models.ClientEmail).where(
        models.ClientEmail.client_id == case.client_id)).all()
    old = next((r.address for r in rows if r.is_primary), case.requester)
    for row in rows:
        if row.is_primary or row.address == case.requester:
            session.delete(row)
    session.add(models.ClientEmail(client_id=case.client_id, address=address, is_primary=True,
                                   added_at=app.clock.now()))
    audit(session, "correction.email_changed", at=app.clock.now(), case_id=case.id,
          client_id=case.client_id)
    for n, to in enumerate(dict.fromkeys([old, address])):
        send_template(session, app, case=case, to=to, purpose="email_changed",
                      key=f"email-changed:{case.id}:{n}", new=address, old=old)


def _fulfil_restriction(session: Session, app: App, incoming: Incoming,
                        case: models.Case) -> None:
    assert case.client_id is not None
    restrict(session, app, case.client_id, actor="bot")
    send_template(session, app, case=case, to=case.requester, purpose="restriction_done",
                  key=f"restriction:{case.id}")


def _fulfil_deletion(session: Session, app: App, incoming: Incoming, case: models.Case) -> None:
    """Blockers go to staff for approval; otherwise announce and schedule after the grace."""
    assert case.client_id is not None
    plan = plan_deletion(session, app, case.client_id)
    case.pending_action = "deletion"
    if plan.needs_approval:
        escalate(session, app, case, inbound=incoming.row,
                 reason="deletion needs approval: " + "; ".join(plan.blockers))
        _tell_deletion_under_review(session, app, incoming, case)
        return
    schedule_deletion(session, app, case)


def _tell_deletion_under_review(session: Session, app: App, incoming: Incoming,
                                case: models.Case) -> None:
    """The code is good but staff must approve: say so, why, and by when they decide."""
    records = collect(session, case.client_id)  # type: ignore[arg-type]
    reply_to(session, app, incoming, case, "deletion_review",
             projects=[p.reference for p in records.projects
                       if p.status not in FINISHED_PROJECT],
             invoices=[i.number for i in records.invoices if i.status in OPEN_INVOICE])


def schedule_deletion(session: Session, app: App, case: models.Case, *,
                      actor: str = "bot") -> None:
    """Announce the deletion to every address on file; it runs after the grace period."""
    case.act_at = app.clock.now() + timedelta(days=app.settings.deletion_grace_days)
    set_status(session, app, case, SCHEDULED, actor=actor, act_at=case.act_at.isoformat())
    for n, address in enumerate(addresses_on_file(session, case.client_id)):
        send_template(session, app, case=case, to=address, purpose="deletion_scheduled",
                      key=f"deletion-notice:{case.id}:{n}", act_at=case.act_at)


def _on_scheduled_reply(session: Session, app: App, incoming: Incoming,
                        case: models.Case) -> bool:
    if not (verify.says_cancel(incoming.text) and _from_recipient(session, incoming, case)):
        reply_to(session, app, incoming, case, "follow_up_ack")
        return True
    case.pending_action = None
    case.act_at = None
    set_status(session, app, case, "closed", outcome="deletion_cancelled")
    reply_to(session, app, incoming, case, "deletion_cancelled")
    return True


def run_due_deletions(session: Session, app: App) -> int:
    """Execute every scheduled deletion whose grace period is over; returns how many ran."""
    now = app.clock.now()
    query = select(models.Case).where(models.Case.status == SCHEDULED,
                                      models.Case.act_at <= now)  # type: ignore[operator]
    done = 0
    for case in session.exec(query):
        _execute(session, app, case)
        done += 1
    return done


def _execute(session: Session, app: App, case: models.Case) -> None:
    """Run one deletion; a blocker that appeared during the grace period goes to staff."""
    assert case.client_id is not None
    recipients = addresses_on_file(session, case.client_id) or [case.requester]
    try:
        certificate = execute_deletion(session, app, case.client_id, actor="scheduler",
                                       approved=case.pending_action == "deletion_approved")
    except DeletionNeedsApproval as exc:
        case.act_at = None
        set_status(session, app, case, "awaiting_staff", actor="scheduler")
        _escalate_without_message(session, app, case, f"deletion needs approval: {exc}")
        return
    _erase_stored_mail(session, app, case, recipients)
    for n, address in enumerate(recipients):
        send_template(session, app, case=case, to=address, purpose="deletion_certificate",
                      key=f"deletion-certificate:{case.id}:{n}", certificate=certificate,
                      keep_record=False)
    case.pending_action = None
    set_status(session, app, case, "closed", actor="scheduler", outcome="deleted")


def _erase_stored_mail(session: Session, app: App, case: models.Case,
                       addresses: list[str]) -> None:
    """Raw mail from and to the client is personal data too: its bytes go with the rest.

    The rows stay (ids, dates, statuses) so the audit trail still adds up.
    """
    from_client = col(models.InboundMessage.sender).in_(addresses)
    erased_in = len(session.exec(select(models.InboundMessage.id).where(from_client)).all())
    forget_raw(session, app, from_client, reason="erased")
    outbound = update(models.Outbox).where(
        col(models.Outbox.to_addr).in_(addresses),
        models.Outbox.status != "pending").values(raw=b"")
    erased_out = session.exec(outbound).rowcount  # type: ignore[call-overload]
    audit(session, "deletion.stored_mail", at=app.clock.now(), actor="scheduler",
          case_id=case.id, client_id=case.client_id, inbound=erased_in, outbound=erased_out)


def _escalate_without_message(session: Session, app: App, case: models.Case,
                              reason: str) -> None:
    """Escalate from a scheduled job: the last inbound message of the case rides along."""
    query = select(models.InboundMessage).where(models.InboundMessage.case_id == case.id)
    last = session.exec(query.order_by(col(models.InboundMessage.id).desc())).first()
    if last is not None:
        escalate(session, app, case, reason=reason, inbound=last)


_FULFIL = {
    "access": _fulfil_access,
    "usage_report": _fulfil_usage,
    "correction": _fulfil_correction,
    "restriction": _fulfil_restriction,
    "deletion": _fulfil_deletion,
}


def register_fulfilment(actions: dict[str, Callable[[Session, App, Incoming, models.Case],
                                                    None]]) -> None:
    """Other workflows (project status, invoice copies) verified by the same codes."""
    _FULFIL.update(actions)
