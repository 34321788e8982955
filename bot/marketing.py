"""Non-essential mail: sent only to those who may get it, always with one-click unsubscribe.

Every non-essential message checks the opt-out, restriction and suppression list first and
carries `List-Unsubscribe` (mailto and https) with `List-Unsubscribe-Post` (RFC 8058). The
link's token is the address plus an HMAC, so no table is needed; opting out is never gated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from sqlmodel import Session

from bot.cases import client_for_address
from bot.context import App
from bot.downloads import base_url
from bot.outbox import enqueue_email
from bot.replies import Rendered
from bot.rights.deletion import suppress
from bot.rights.restriction import may_send_non_essential, set_marketing_opt_out
from storage import models
from storage.db import audit

UNSUBSCRIBE_PATH = "/unsubscribe/"


def _mac(app: App, address: str) -> str:
    key = app.settings.suppression_key.get_secret_value().encode()
    return hmac.new(key, b"unsubscribe:" + address.encode(), hashlib.sha256).hexdigest()[:32]


def unsubscribe_token(app: App, address: str) -> str:
    encoded = base64.urlsafe_b64encode(address.lower().encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(app, address.lower())}"


def address_from_token(app: App, token: str) -> str | None:
    """The address a genuine token was made for; None for anything forged or garbled."""
    encoded, _, mac = token.partition(".")
    try:
        address = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return address if hmac.compare_digest(mac, _mac(app, address)) else None


def unsubscribe(session: Session, app: App, address: str, *, via: str) -> None:
    """Opt the address out of non-essential mail (and its client, if it has one)."""
    client = client_for_address(session, address)
    if client is not None:
        set_marketing_opt_out(session, app, client.id, True, actor=via)  # type: ignore[arg-type]
    suppress(session, app, address, "opt_out")
    audit(session, "optout.applied", at=app.clock.now(), actor=via,
          client_id=client.id if client else None)


def send_non_essential(session: Session, app: App, *, to: str, rendered: Rendered,
                       purpose: str, key: str) -> models.Outbox | None:
    """Queue a non-essential message unless the address opted out, is restricted or
    suppressed (then audited and skipped)."""
    if not may_send_non_essential(session, app, to):
        audit(session, "outbox.suppressed", at=app.clock.now(), purpose=purpose)
        return None
    token = unsubscribe_token(app, to)
    headers = {
        "List-Unsubscribe": f"<mailto:{app.settings.bot_address}?subject=unsubscribe>, "
                            f"<{base_url(app)}{UNSUBSCRIBE_PATH}{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    client = client_for_address(session, to)
    return enqueue_email(session, app, to=to, rendered=rendered, purpose=purpose,
                         idempotency_key=key, client_id=client.id if client else None,
                         essential=False, headers=headers, auto_submitted="auto-generated")
