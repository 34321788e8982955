"""Staff act by replying to an escalation: APPROVE, DENY <reason>, EXTEND <days> <reason>,
NOTE <text>. Only configured staff addresses are obeyed, and only on replies carrying the
case's token; anything else is ignored and audited.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlmodel import Session

from bot.cases import case_by_ref, set_status
from bot.context import App
from bot.conversation import case_tag_pattern
from bot.deadlines import ExtensionError, extend_case
from bot.incoming import Incoming
from bot.outbox import Threading, enqueue_email, send_template
from bot.privacy import SCHEDULED, schedule_deletion
from bot.staff import original_of
from storage import models
from storage.db import audit

COMMAND_RE = re.compile(r"^[ \t]*(APPROVE|DENY|EXTEND|NOTE)\b[ \t:]*(.*)$", re.I | re.M)


def is_staff(app: App, address: str) -> bool:
    """Mail From a staff address is a staff command, obeyed only when authenticated."""
    return address in app.settings.staff_senders


def handle_staff_mail(session: Session, app: App, incoming: Incoming) -> None:
    """Run the first command in a staff reply on the case named in its subject.

    Only an authenticated sender is obeyed (bot.authn: DMARC or aligned DKIM, from our MX or
    our own check): a forged From alone cannot approve a deletion or mail a client.
    """
    actor = f"staff:{incoming.parsed.from_addr}"
    case = _tagged_case(session, app, incoming)
    match = COMMAND_RE.search(incoming.text)
    reason = None
    if not incoming.authenticated:
        reason = "sender not authenticated"
        _tell_staff_refused(session, app, incoming)
    elif case is None or match is None:
        reason = "no case token in subject" if case is None else "no command"
    if reason:
        audit(session, "staff.ignored", at=app.clock.now(), actor=actor,
              inbound_id=incoming.row.id, reason=reason)
        return
    assert case is not None and match is not None
    incoming.row.case_id = case.id
    verb, rest = match.group(1).upper(), match.group(2).strip()
    result = run_command(session, app, case, verb, rest, actor)
    _confirm(session, app, incoming, case, verb, result)


def _tell_staff_refused(session: Session, app: App, incoming: Incoming) -> None:
    """Staff learn (at their own address, never the sender's) why a command was not obeyed
    and how to make genuine ones count; the original rides along."""
    row = incoming.row
    rendered = app.renderer.render(
        "staff_command_refused", "en", inbound=row, company=app.settings.company_name,
        trusted=app.settings.trusted_authserv_ids, verdict=row.auth_reason or row.auth_result)
    enqueue_email(session, app, to=app.settings.staff_address, rendered=rendered,
                  purpose="staff_command_refused", idempotency_key=f"staff-refused:{row.id}",
                  attachments=[original_of(row)], auto_submitted="auto-generated")


def run_command(session: Session, app: App, case: models.Case, verb: str, rest: str,
                actor: str) -> str:
    """Run one staff command (from mail or a chat button); returns what happened."""
    audit(session, "staff.command", at=app.clock.now(), actor=actor, case_id=case.id,
          command=verb)
    return _COMMANDS[verb.upper()](session, app, case, rest, actor)


def _tagged_case(session: Session, app: App, incoming: Incoming) -> models.Case | None:
    for ref in case_tag_pattern(app.settings.case_prefix).findall(incoming.parsed.subject):
        if (case := case_by_ref(session, ref)) is not None:
            return case
    return None


def _approve(session: Session, app: App, case: models.Case, rest: str, actor: str) -> str:
    if case.pending_action == "deletion" and case.status != SCHEDULED:
        case.pending_action = "deletion_approved"
        schedule_deletion(session, app, case, actor=actor)
        return f"deletion approved; it runs on {case.act_at:%Y-%m-%d} unless the client cancels"
    return "nothing on this case is waiting for approval; nothing changed"


def _deny(session: Session, app: App, case: models.Case, rest: str, actor: str) -> str:
    if not rest:
        return "DENY needs a reason the requester can read; nothing changed"
    if case.status == "closed":
        return "the case is already closed; nothing changed"
    case.pending_action = None
    send_template(session, app, case=case, to=case.requester, purpose="request_denied",
                  key=f"denied:{case.id}", reason=rest)
    set_status(session, app, case, "closed", actor=actor, outcome="denied")
    return "request denied; the requester was told why"


def _extend(session: Session, app: App, case: models.Case, rest: str, actor: str) -> str:
    days, _, reason = rest.partition(" ")
    if not days.isdigit():
        return "usage: EXTEND <days> <reason>; nothing changed"
    try:
        extend_case(session, app, case, int(days), reason.strip(), actor)
    except ExtensionError as exc:
        return f"not extended: {exc}"
    return f"extended; now due {case.due_at:%Y-%m-%d}; the requester was told why"


def _note(session: Session, app: App, case: models.Case, rest: str, actor: str) -> str:
    audit(session, "staff.note", at=app.clock.now(), actor=actor, case_id=case.id, note=rest)
    return "note added to the case"


_COMMANDS: dict[str, Callable[[Session, App, models.Case, str, str], str]] = {
    "APPROVE": _approve,
    "DENY": _deny,
    "EXTEND": _extend,
    "NOTE": _note,
}


def _confirm(session: Session, app: App, incoming: Incoming, case: models.Case, verb: str,
             result: str) -> None:
    rendered = app.renderer.render("staff_command_result", "en", case=case, verb=verb,
                                   result=result)
    parsed = incoming.parsed
    enqueue_email(session, app, to=parsed.from_addr, rendered=rendered,
                  purpose="staff_command_result", idempotency_key=f"staffcmd:{incoming.row.id}",
                  case=case, threading=Threading(parsed.message_id, tuple(parsed.references)),
                  auto_submitted="auto-generated")
