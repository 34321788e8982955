"""What staff do from the dashboard, through the same code as the mail commands.

Case actions call `bot.staff_commands.run_command` (as APPROVE / DENY / EXTEND / NOTE mail and
the CLI do); "take" is a NOTE, as the Telegram button's is. Inbound actions are the CLI's
`process` and a release from the list, each audited with the staff member's name.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from bot import spam
from bot.cases import case_by_ref
from bot.context import App
from bot.dashboard.auth import StaffUser
from bot.pipeline import process_inbound
from bot.staff_commands import run_command
from storage import models
from storage.db import audit, unit_of_work

log = logging.getLogger(__name__)
CASE_ACTIONS = ("approve", "deny", "extend", "note", "take")
RELEASABLE = ("quarantined", "robot", "spam", "backlog")


class ActionError(ValueError):
    """The action cannot run as asked; the message is shown to the staff member."""


def command_for(user: StaffUser, action: str, text: str, days: str) -> tuple[str, str]:
    """The mail command (verb, rest) a dashboard form stands for."""
    text = " ".join(text.split())
    if action == "approve":
        return "APPROVE", ""
    if action == "take":
        return "NOTE", f"taken by {user.display_name}"
    if action == "extend":
        if not days.strip().isdigit():
            raise ActionError("extend needs a number of days")
        return "EXTEND", f"{days.strip()} {text}"
    if action in ("deny", "note"):
        if not text:
            raise ActionError(f"{action} needs a text")
        return action.upper(), text
    raise ActionError("unknown action")


def run_case_action(app: App, user: StaffUser, ref: str, action: str, text: str = "",
                    days: str = "") -> str:
    """Run one staff action on a case; returns what happened (as the mail reply says it)."""
    verb, rest = command_for(user, action, text, days)
    with app.write_lock, unit_of_work(app.engine) as session:
        case = case_by_ref(session, ref)
        if case is None:
            raise ActionError("no such case")
        result = run_command(session, app, case, verb, rest, user.actor)
        case_id = case.id
    log.info("case %s: dashboard %s by staff %s", case_id, verb, user.username)
    return result


def process_now(app: App, user: StaffUser, inbound_id: int) -> str:
    """Run a filed message through the pipeline now (the CLI's `process`)."""
    with app.write_lock, unit_of_work(app.engine) as session:
        row = _filed(session, inbound_id)
        audit(session, "inbound.requeued", at=app.clock.now(), actor=user.actor,
              inbound_id=row.id, old=row.status)
        # staff chose to process filed spam or robot mail: they vouch that a person wrote it
        row.reason = spam.RELEASED if row.status in ("spam", "robot") else None
        row.status = "new"
        session.add(row)
    status = process_inbound(app, inbound_id)
    log.info("inbound %s: processed from the dashboard by %s -> %s", inbound_id,
             user.username, status)
    return f"message #{inbound_id} processed: {status}"


def release(app: App, user: StaffUser, inbound_id: int) -> str:
    """Take a message off its list as reviewed (kept, never answered); audited."""
    with app.write_lock, unit_of_work(app.engine) as session:
        row = _filed(session, inbound_id)
        audit(session, "inbound.released", at=app.clock.now(), actor=user.actor,
              inbound_id=row.id, old=row.status)
        row.status = "released"
        session.add(row)
    log.info("inbound %s: released from the dashboard by %s", inbound_id, user.username)
    return f"message #{inbound_id} released"


def _filed(session: Session, inbound_id: int) -> models.InboundMessage:
    row = session.get(models.InboundMessage, inbound_id)
    if row is None or row.status not in RELEASABLE:
        raise ActionError("no such message on the inbound lists")
    return row
