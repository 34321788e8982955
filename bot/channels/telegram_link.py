"""Linking a Telegram chat to a client, and what a chat may ask about itself.

`/link a@b.c` opens a small `chat_link` case; a one-time code goes to that address only if it
is on file (the same hashed, expiring, attempt-limited codes as email verification), and the
chat always gets the same neutral answer. The code typed back in the chat adds the chat
identity to the client's addresses on file: that is what "linked" means. Synchronous: the
channel calls these through `asyncio.to_thread`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, func, select

from bot import verify
from bot.cases import OPEN_STATUSES, case_ref, client_for_address, days_left, due_date, set_status
from bot.context import App
from bot.identity import chat_address, is_chat_address
from bot.outbox import Threading, compose, enqueue_email
from storage import models
from storage.db import audit, unit_of_work

KIND = "chat_link"
LINKING = "linking"  # not one of OPEN_STATUSES: no requester reminders, not in /status
EMAIL_RE = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")


@dataclass(frozen=True)
class CaseLine:
    ref: str
    kind: str
    status: str
    days_left: int


# --------------------------------------------------------------------------- /link


def start_link(app: App, user_id: int, email: str) -> str:
    """Open the link case; returns "already_linked" or "requested" (never whether it is on
    file: the chat answer is the same either way)."""
    address, email = chat_address(user_id), email.strip().lower()
    with app.write_lock, unit_of_work(app.engine) as session:
        if client_for_address(session, address) is not None:
            return "already_linked"
        _close_open(session, app, address, "superseded")
        client_id = _owner(session, email)
        case = _open_case(session, app, address, client_id)
        sent = client_id is not None and _send_code(session, app, case, email)
        if not sent:  # a stranger, or a client past the cap: the same decoy, the same work
            _decoy_code(app, case)
            case.client_id = None
        audit(session, "chat.link_requested", at=app.clock.now(), case_id=case.id,
              client_id=client_id, on_file=client_id is not None, code_sent=sent)
    return "requested"


def _decoy_code(app: App, case: models.Case) -> None:
    """The costly part of sending a code (hashing, rendering) without sending it, so a
    stranger's /link takes as long as a client's (timing must not tell who is a client)."""
    verify.burn_hash()
    rendered = app.renderer.render("link_code", "en", medium="chat",
                                   code=verify.generate_code(),
                                   company=app.settings.company_name,
                                   minutes=int(app.settings.code_ttl_chat_minutes), case=case)
    compose(app, to=app.settings.bot_address, rendered=rendered, threading=Threading(),
            now=app.clock.now()).as_bytes()


def _owner(session: Session, email: str) -> int | None:
    if is_chat_address(email) or not EMAIL_RE.match(email):
        return None
    query = select(models.ClientEmail.client_id).where(models.ClientEmail.address == email)
    return session.exec(query).first()


def _open_case(session: Session, app: App, address: str, client_id: int | None) -> models.Case:
    now = app.clock.now()
    case = models.Case(kind=KIND, intents=KIND, status=LINKING, client_id=client_id,
                       requester=address, channel="telegram", subject="Telegram link",
                       received_at=now, due_at=due_date(app, now), waiting_since=now)
    session.add(case)
    session.flush()
    assert case.id is not None
    case.ref = case_ref(app.settings.case_prefix, case.id)
    audit(session, "case.opened", at=now, case_id=case.id, client_id=client_id, kind=KIND)
    return case


def _send_code(session: Session, app: App, case: models.Case, email: str) -> bool:
    """Mail the code to the on-file address, at most telegram_link_codes_per_day per day."""
    cap = app.settings.telegram_link_codes_per_day
    if _codes_today(session, app, case.requester, email) >= cap:
        return False
    code = verify.issue_code(session, app, case, action=KIND, sent_to=email, channel="chat")
    rendered = app.renderer.render(
        "link_code", "en", medium="chat", code=code, company=app.settings.company_name,
        minutes=int(app.settings.code_ttl_chat_minutes), case=case)
    enqueue_email(session, app, to=email, rendered=rendered, purpose="link_code",
                  idempotency_key=f"link-code:{case.id}", case=case, client_id=case.client_id)
    return True


def _codes_today(session: Session, app: App, requester: str, email: str) -> int:
    """Link codes in the last 24 h to this address or for this chat (no mail flooding)."""
    since = app.clock.now() - timedelta(days=1)
    query = (select(func.count()).select_from(models.VerificationCode)
             .join(models.Case, models.Case.id == models.VerificationCode.case_id)
             .where(models.VerificationCode.action == KIND,
                    models.VerificationCode.created_at >= since,
                    (col(models.VerificationCode.sent_to) == email)
                    | (col(models.Case.requester) == requester)))
    return int(session.exec(query).one())


# --------------------------------------------------------------------------- the typed code


def on_text(app: App, user_id: int, text: str) -> tuple[str, dict[str, object]] | None:
    """A code typed while a link is in progress: (outcome, context). None: not for linking."""
    candidate = verify.find_code(text)
    if candidate is None:
        return None
    address = chat_address(user_id)
    with app.write_lock, unit_of_work(app.engine) as session:
        case = _open_link(session, address)
        if case is None:
            return None
        if case.client_id is None:
            return _decoy_attempt(session, app, case)
        check = verify.check_code(session, app, case, candidate)
        return _after_check(session, app, case, check)


def _after_check(session: Session, app: App, case: models.Case,
                 check: verify.Check) -> tuple[str, dict[str, object]]:
    if check.result is verify.CheckResult.OK:
        _link(session, app, case)
        return "linked", {}
    if check.result is verify.CheckResult.WRONG:
        return "wrong", {"attempts_left": check.attempts_left}
    outcome = "locked" if check.result is verify.CheckResult.LOCKED else "expired"
    set_status(session, app, case, "closed", outcome=f"link_{outcome}")
    return outcome, {}


def _decoy_attempt(session: Session, app: App,
                   case: models.Case) -> tuple[str, dict[str, object]]:
    """No code was sent (not on file, or capped): answer exactly as a wrong code would,
    after the same hashing work."""
    verify.burn_hash()
    evidence = json.loads(case.evidence or "{}")
    evidence["attempts"] = attempts = int(evidence.get("attempts", 0)) + 1
    case.evidence = json.dumps(evidence)
    session.add(case)
    left = app.settings.code_max_attempts - attempts
    audit(session, "verify.wrong", at=app.clock.now(), case_id=case.id, attempts_left=left)
    if left > 0:
        return "wrong", {"attempts_left": left}
    set_status(session, app, case, "closed", outcome="link_locked")
    return "locked", {}


def _link(session: Session, app: App, case: models.Case) -> None:
    assert case.client_id is not None
    address = case.requester
    taken = session.exec(select(models.ClientEmail).where(
        models.ClientEmail.address == address)).first()
    if taken is None:
        session.add(models.ClientEmail(client_id=case.client_id, address=address))
    set_status(session, app, case, "closed", outcome="linked")
    audit(session, "chat.linked", at=app.clock.now(), case_id=case.id,
          client_id=case.client_id)


def _open_link(session: Session, address: str) -> models.Case | None:
    query = select(models.Case).where(models.Case.kind == KIND, models.Case.requester == address,
                                      models.Case.status == LINKING)
    return session.exec(query.order_by(col(models.Case.id).desc())).first()


# --------------------------------------------------------------------------- /cancel, sweeping


def cancel(app: App, user_id: int) -> bool:
    """Stop a linking in progress; False if there was none."""
    with app.write_lock, unit_of_work(app.engine) as session:
        return _close_open(session, app, chat_address(user_id), "link_cancelled") > 0


def _close_open(session: Session, app: App, address: str, outcome: str) -> int:
    query = select(models.Case).where(models.Case.kind == KIND, models.Case.requester == address,
                                      models.Case.status == LINKING)
    cases = list(session.exec(query))
    for case in cases:
        _void_codes(session, case)
        set_status(session, app, case, "closed", outcome=outcome)
    return len(cases)


def _void_codes(session: Session, case: models.Case) -> None:
    verify.void_codes(session, case.id)


def sweep_expired(app: App) -> int:
    """Close link cases whose code time is over, so no half-done link lingers for staff."""
    cutoff = app.clock.now() - timedelta(minutes=app.settings.code_ttl_chat_minutes)
    with app.write_lock, unit_of_work(app.engine) as session:
        query = select(models.Case).where(models.Case.kind == KIND,
                                          models.Case.status == LINKING,
                                          models.Case.received_at <= cutoff)
        cases = list(session.exec(query))
        for case in cases:
            _void_codes(session, case)
            set_status(session, app, case, "closed", outcome="link_expired")
    return len(cases)


# --------------------------------------------------------------------------- /status, threading


def open_cases(app: App, user_id: int) -> list[CaseLine] | None:
    """The linked client's open cases, oldest due first; None when the chat is not linked."""
    with unit_of_work(app.engine) as session:
        client = client_for_address(session, chat_address(user_id))
        if client is None:
            return None
        query = select(models.Case).where(models.Case.client_id == client.id,
                                          col(models.Case.status).in_(OPEN_STATUSES))
        now = app.clock.now()
        return [CaseLine(c.ref or "", c.kind, c.status, days_left(c, now))
                for c in session.exec(query.order_by(col(models.Case.due_at)))]


def latest_reply_id(app: App, address: str) -> str | None:
    """Message-ID of the newest outbox row to this chat identity (a reply threads under it)."""
    with unit_of_work(app.engine) as session:
        query = (select(models.Outbox.message_id).where(models.Outbox.to_addr == address)
                 .order_by(col(models.Outbox.id).desc()).limit(1))
        return session.exec(query).first()
