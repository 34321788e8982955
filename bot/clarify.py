"""Ask when unsure: list the rights, let the requester answer with their number(s).

A message whose right is not clear, or whose rights conflict (delete and correct), or that
would trigger an immediate action (opt-out is applied without verification) without being
clearly and only that, is answered with the numbered list of rights in the requester's
language. The answer ("2", "1 and 3") continues the same case and its clock; an answer that
is still unclear goes to staff.
"""

from __future__ import annotations

import re

from sqlmodel import Session

from bot.cases import set_status
from bot.context import App
from bot.incoming import Incoming, reply_to
from bot.understand import PRIVACY_INTENTS, Intent, Understanding
from bot.understand.core import CONFLICTING_RIGHTS
from storage import models
from storage.db import audit

ASKING = "awaiting_choice"
# The numbered list, in the order the reply shows it (the policy's order).
CHOICES: tuple[str, ...] = ("access", "correction", "deletion", "restriction", "optout",
                            "usage_report")
ACT_AT_ONCE = frozenset({"optout"})
CLEAR = 0.8  # probability an act-at-once right needs, with no other right in sight
IN_SIGHT = 0.2  # a right this likely counts as "mentioned"
MAX_ANSWER_CHARS = 300  # a choice is short; a long mail is read as a new message
_CHOICE = re.compile(r"(?<![\w./-])([1-6])(?![\w/-]|[.,]\d)")


def reason_to_ask(meaning: Understanding) -> str | None:
    """Why this message must be answered with the list of rights, or None to go ahead."""
    names = set(meaning.names)
    rights_in_sight = _in_sight(meaning)
    if meaning.unsure and rights_in_sight:
        return "no right is clear: " + ", ".join(sorted(rights_in_sight))
    for pair in CONFLICTING_RIGHTS:
        if pair <= names:
            return "conflicting rights: " + " and ".join(sorted(pair))
    for name in ACT_AT_ONCE & names:
        if not _clear_enough_to_act(meaning, name):
            return f"'{name}' acts at once but is not clearly and only what is asked"
    return None


def _in_sight(meaning: Understanding) -> set[str]:
    probs = meaning.probabilities or {i.name: i.confidence for i in meaning.intents}
    return {n for n, p in probs.items() if n in PRIVACY_INTENTS and p >= IN_SIGHT}


def _clear_enough_to_act(meaning: Understanding, name: str) -> bool:
    probs = meaning.probabilities or {i.name: i.confidence for i in meaning.intents}
    return (
        not meaning.unsure
        and name not in meaning.negated
        and probs.get(name, 0.0) >= CLEAR
        and _in_sight(meaning) == {name}
    )


def ask(session: Session, app: App, incoming: Incoming, case: models.Case,
        reason: str) -> None:
    """Reply with the numbered rights; the case waits for the choice."""
    reply_to(session, app, incoming, case, "clarify", choices=CHOICES)
    set_status(session, app, case, ASKING, reason=reason)
    case.waiting_since = app.clock.now()
    session.add(case)


def choices_in(text: str) -> tuple[str, ...]:
    """The rights a short answer picks by number, in list order; () when it picks none."""
    text = text.strip()
    if not text or len(text) > MAX_ANSWER_CHARS:
        return ()
    picked = {int(m.group(1)) for m in _CHOICE.finditer(text)}
    return tuple(CHOICES[n - 1] for n in sorted(picked))


def chosen(session: Session, app: App, case: models.Case, picks: tuple[str, ...],
           inbound_id: int | None) -> Understanding:
    """Record the requester's choice on the case and return it as what the case asks for."""
    case.intents = ",".join(picks)
    session.add(case)
    audit(session, "case.clarified", at=app.clock.now(), case_id=case.id,
          inbound_id=inbound_id, intents=list(picks))
    conflicts = [pair for pair in CONFLICTING_RIGHTS if pair <= set(picks)]
    return Understanding(  # rights that conflict even when chosen are for staff to settle
        intents=tuple(Intent(n, 1.0, ("clarify.answer",)) for n in picks),
        language=case.language,
        unsure=bool(conflicts),
        reasons=tuple("chosen rights conflict: " + " and ".join(sorted(p)) for p in conflicts),
        probabilities=dict.fromkeys(picks, 1.0),
    )
