"""The one-time-code mail: says exactly what a confirmed request will do, and is capped.

Privacy rights and project requests send their codes through here, so every code mail names
the right, the change (a new email address masked), where the result goes and how to stop it,
and no client gets more than `code_mails_per_client_per_day` of them across all cases: a
forged From can start requests, but cannot flood the real client with code mails.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, col, func, select

from bot import verify
from bot.context import App
from bot.identity import is_chat_address
from bot.outbox import send_template
from bot.rights.correction import EMAIL_FIELDS, field_key
from bot.staff import escalate
from storage import models
from storage.db import audit

SHOWN_VALUE_MAX = 80  # a corrected value is shown, cut to this length


def mask_address(address: str) -> str:
    """`eve@evil.net` -> `e**@evil.net`: enough to recognise, not to copy."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 2)}@{domain}"


def code_mails_today(session: Session, app: App, client_id: int | None) -> int:
    if client_id is None:
        return 0
    since = app.clock.now() - timedelta(days=1)
    query = select(func.count()).select_from(models.VerificationCode).where(
        models.VerificationCode.client_id == client_id,
        models.VerificationCode.created_at >= since)
    return int(session.exec(query).one())


def capped(session: Session, app: App, case: models.Case) -> bool:
    return code_mails_today(session, app, case.client_id) >= app.settings.code_mails_per_day


def send_code_mail(session: Session, app: App, case: models.Case, *, action: str, to: str,
                   shown: list[str], channel: str = "email") -> bool:
    """Issue a code for `action` and mail it to `to`; False (nothing sent) when the client's
    daily cap is reached."""
    if capped(session, app, case):
        audit(session, "verify.code_mail_capped", at=app.clock.now(), case_id=case.id,
              client_id=case.client_id)
        return False
    code = verify.issue_code(session, app, case, action=action, sent_to=to, channel=channel)
    issued = verify.codes_issued(session, case.id)
    send_template(session, app, case=case, to=to, purpose="verify_code",
                  key=f"code:{case.id}:{issued}", code=code, actions=shown,
                  effects=effects(app, case), hours=int(app.settings.code_ttl_email_hours),
                  channel=channel, minutes=int(app.settings.code_ttl_chat_minutes))
    return True


def escalate_capped(session: Session, app: App, case: models.Case) -> None:
    """The client's daily code mails are used up: staff decide; the client is not mailed."""
    query = select(models.InboundMessage).where(models.InboundMessage.case_id == case.id)
    last = session.exec(query.order_by(col(models.InboundMessage.id).desc())).first()
    if last is not None:
        escalate(session, app, case, inbound=last,
                 reason="code mail cap for this client reached today; no code sent")


def effects(app: App, case: models.Case) -> dict[str, object]:
    """What the code mail says will happen: destination, grace, changes, masked new email."""
    asked = json.loads(case.evidence or "{}").get("entities", {}).get("corrections", [])
    emails = [value.strip().lower() for field, value in asked if field_key(field) in EMAIL_FIELDS]
    changes = [(field, " ".join(value.split())[:SHOWN_VALUE_MAX]) for field, value in asked
               if field_key(field) not in EMAIL_FIELDS]
    return {
        "to": "Telegram" if is_chat_address(case.requester) else case.requester,
        "grace_days": app.settings.deletion_grace_days,
        "changes": changes,
        "new_email": mask_address(emails[0]) if len(set(emails)) == 1 else None,
        "cooloff_days": app.settings.email_change_cooloff_days,
    }
