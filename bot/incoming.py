"""One inbound message in flight, and replying to it (threaded, rate-limited per sender)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from bot.context import App
from bot.mime import ParsedMessage
from bot.outbox import Threading, replies_sent_recently, reply_subject, send_template
from storage import models
from storage.db import audit


@dataclass(frozen=True)
class Incoming:
    """A stored message and its parse, handed from step to step."""

    row: models.InboundMessage
    parsed: ParsedMessage

    @property
    def authenticated(self) -> bool:
        """The stored verdict of bot.authn says the From is who wrote it."""
        return self.row.auth_result == "pass"

    @property
    def text(self) -> str:
        """What the sender wrote now (quotes and signature stripped)."""
        return self.parsed.new_text or self.parsed.text


def reply_to(session: Session, app: App, incoming: Incoming, case: models.Case,
             purpose: str, **ctx: object) -> bool:
    """Reply to the sender, threaded, unless the per-sender rate limit says stop."""
    row, parsed = incoming.row, incoming.parsed
    to = parsed.from_addr
    if replies_sent_recently(session, app, to) >= app.settings.reply_rate_limit:
        audit(session, "reply.rate_limited", at=app.clock.now(), case_id=case.id,
              inbound_id=row.id, purpose=purpose)
        return False
    send_template(
        session, app, case=case, to=to, purpose=purpose, key=f"reply:{row.id}:{purpose}",
        threading=Threading(parsed.message_id, tuple(parsed.references)),
        subject=reply_subject(parsed.subject), **ctx,
    )
    return True
