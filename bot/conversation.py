"""Threading: which open case does a reply belong to?

A reply joins a case by In-Reply-To/References matched against the Message-IDs of mail both
received and sent on that case, then by the case tag in the subject; in both ways only when the
sender is the case's requester (anyone else starts a case of their own).
"""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from bot.cases import case_by_ref
from bot.mime import ParsedMessage
from storage import models


def case_tag_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(r"\[(" + re.escape(prefix) + r"-\d{6,})\]", re.IGNORECASE)


def find_case(session: Session, parsed: ParsedMessage, prefix: str) -> models.Case | None:
    """The case this message replies to, if the sender owns it (or was sent its live code)."""
    for case in _cases_by_message_ids(session, parsed):
        if _may_reply(session, case, parsed.from_addr):
            return case
    for ref in case_tag_pattern(prefix).findall(parsed.subject):
        case = case_by_ref(session, ref)
        if case is not None and _may_reply(session, case, parsed.from_addr):
            return case
    return None


def _may_reply(session: Session, case: models.Case, sender: str) -> bool:
    """The requester, or an address an active code of this case went to (a new email
    address proving itself)."""
    if case.requester == sender:
        return True
    query = select(models.VerificationCode.id).where(
        models.VerificationCode.case_id == case.id,
        models.VerificationCode.sent_to == sender,
        models.VerificationCode.status == "active")
    return session.exec(query).first() is not None


def _cases_by_message_ids(session: Session, parsed: ParsedMessage) -> list[models.Case]:
    ids = [*parsed.in_reply_to, *reversed(parsed.references)]
    found: list[models.Case] = []
    for message_id in dict.fromkeys(ids):
        query = (
            select(models.Case)
            .join(models.CaseMessageId, models.CaseMessageId.case_id == models.Case.id)
            .where(models.CaseMessageId.message_id == message_id)
        )
        found.extend(c for c in session.exec(query) if c not in found)
    return found


def cites_our_mail(session: Session, case: models.Case, parsed: ParsedMessage) -> bool:
    """The message replies to a mail we sent to its sender on this case. Our Message-IDs are
    random (bot.outbox.new_message_id), so only that mail's recipient can cite one: the token
    that CANCEL, NOT ME and counted code attempts need."""
    ids = list(dict.fromkeys([*parsed.in_reply_to, *parsed.references]))
    if not ids:
        return False
    query = select(models.Outbox.id).where(
        models.Outbox.case_id == case.id, models.Outbox.to_addr == parsed.from_addr,
        col(models.Outbox.message_id).in_(ids))
    return session.exec(query).first() is not None
