"""Staff in the staff chat: escalation buttons and "DENY <reason>" style replies.

Only the configured staff chat and the configured staff user ids are obeyed; everything else is
refused and audited. The commands themselves are `bot.staff_commands.run_command`, the same as
by mail, so the outcome reaches the client through the normal templates. Synchronous: the
channel calls these through `asyncio.to_thread`.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.cases import case_by_ref
from bot.context import App
from bot.staff_commands import COMMAND_RE, run_command
from storage.db import audit, unit_of_work

VERBS = ("approve", "deny", "extend", "take")
NEEDS_REASON = {"deny": "DENY <reason>", "extend": "EXTEND <days> <reason>"}


def keyboard(ref: str) -> InlineKeyboardMarkup:
    """Approve / Deny / Extend / Take for one case (callback data `staff:<verb>:<ref>`)."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(verb.capitalize(), callback_data=f"staff:{verb}:{ref}")
        for verb in VERBS
    ]])


def parse_data(data: str) -> tuple[str, str] | None:
    """(verb, case ref) from callback data, or None when it is not a staff button."""
    kind, _, rest = data.partition(":")
    verb, _, ref = rest.partition(":")
    if kind != "staff" or verb not in VERBS or not ref:
        return None
    return verb, ref.upper()


def ref_in(text: str, prefix: str) -> str | None:
    """The first case reference in a message (the escalation a staff member replies to)."""
    match = re.search(re.escape(prefix) + r"-\d{6,}", text or "", re.I)
    return match.group(0).upper() if match else None


def actor(user_id: int) -> str:
    return f"staff:telegram:{user_id}"


def allowed(app: App, chat_id: int | None, user_id: int) -> bool:
    staff_chat = app.settings.telegram_staff_chat_id
    return (staff_chat is not None and chat_id == staff_chat
            and user_id in app.settings.telegram_staff_user_ids)


def refuse(app: App, user_id: int, what: str, reason: str) -> None:
    """A button press or staff-chat reply that is not obeyed: audited, nothing else changes."""
    with app.write_lock, unit_of_work(app.engine) as session:
        audit(session, f"staff.{what}_refused", at=app.clock.now(),
              actor=f"telegram:{user_id}", reason=reason)


def press(app: App, verb: str, ref: str, user_id: int) -> str:
    """Run an allowed button: Approve = APPROVE, Take = NOTE; Deny/Extend ask for a reason."""
    with app.write_lock, unit_of_work(app.engine) as session:
        case = case_by_ref(session, ref)
        if case is None:
            result = f"no case {ref}; nothing changed"
        elif verb in NEEDS_REASON:
            result = (f"reply to the escalation of [{ref}] with {NEEDS_REASON[verb]} "
                      "to run it")
        else:
            command, rest = ("APPROVE", "") if verb == "approve" else (
                "NOTE", f"taken by {user_id}")
            result = run_command(session, app, case, command, rest, actor(user_id))
        audit(session, "staff.button", at=app.clock.now(), actor=actor(user_id),
              case_id=case.id if case else None, verb=verb)
    return result


def reply_command(app: App, ref: str, text: str, user_id: int) -> str | None:
    """Run the command in a staff reply to an escalation; None when there is no command."""
    match = COMMAND_RE.search(text)
    if match is None:
        return None
    verb, rest = match.group(1).upper(), match.group(2).strip()
    with app.write_lock, unit_of_work(app.engine) as session:
        case = case_by_ref(session, ref)
        if case is None:
            return f"no case {ref}; nothing changed"
        result = run_command(session, app, case, verb, rest, actor(user_id))
        audit(session, "staff.chat_command", at=app.clock.now(), actor=actor(user_id),
              case_id=case.id, command=verb)
    return f"{verb} on {ref}: {result}"
