"""Right to restriction and opt-out of non-essential communications.

Essential (service) mail is never blocked here: the outbox marks it `essential=True` and only
non-essential mail asks may_send_non_essential().
"""

from __future__ import annotations

from sqlmodel import Session, select

from bot.context import App
from bot.rights import ClientNotFound
from bot.rights.deletion import address_hash, suppress
from storage import models
from storage.db import audit


def _client(session: Session, client_id: int) -> models.Client:
    client = session.get(models.Client, client_id)
    if client is None:
        raise ClientNotFound(client_id)
    return client


def _set_flag(session: Session, app: App, client_id: int, flag: str, value: bool,
              action: str, actor: str) -> bool:
    """Set a boolean flag; returns True if it changed. Audited only when it changes."""
    client = _client(session, client_id)
    if getattr(client, flag) == value:
        return False
    setattr(client, flag, value)
    session.add(client)
    audit(session, action, at=app.clock.now(), actor=actor, client_id=client_id)
    return True


def restrict(session: Session, app: App, client_id: int, *, actor: str) -> bool:
    """Restrict processing: non-essential processing and mail skip the client."""
    return _set_flag(session, app, client_id, "restricted", True, "restriction.set", actor)


def lift_restriction(session: Session, app: App, client_id: int, *, actor: str) -> bool:
    return _set_flag(session, app, client_id, "restricted", False, "restriction.lifted", actor)


def set_marketing_opt_out(session: Session, app: App, client_id: int, opted_out: bool, *,
                          actor: str) -> bool:
    """Opt the client out of (or back into) non-essential communications.

    Opting out also suppresses the client's current addresses (so it outlives an erasure or an
    address moving to a new record); opting back in is explicit consent and lifts those entries.
    """
    action = "marketing.opted_out" if opted_out else "marketing.opted_in"
    changed = _set_flag(session, app, client_id, "marketing_opt_out", opted_out, action, actor)
    addresses = session.exec(select(models.ClientEmail.address).where(
        models.ClientEmail.client_id == client_id)).all()
    for address in addresses:
        if opted_out:
            suppress(session, app, address, "opt_out")
        else:
            _unsuppress(session, app, address)
    return changed


def _unsuppress(session: Session, app: App, address: str) -> None:
    digest = address_hash(app, address)
    for row in session.exec(select(models.Suppression).where(
            models.Suppression.address_hash == digest)).all():
        session.delete(row)


def may_send_non_essential(session: Session, app: App, address: str) -> bool:
    """False if the address is suppressed or belongs to a restricted or opted-out client."""
    digest = address_hash(app, address)
    query = select(models.Suppression.id).where(models.Suppression.address_hash == digest)
    if session.exec(query).first() is not None:
        return False
    client = session.exec(
        select(models.Client)
        .join(models.ClientEmail, models.ClientEmail.client_id == models.Client.id)
        .where(models.ClientEmail.address == address.strip().lower())
    ).first()
    return client is None or not (client.restricted or client.marketing_opt_out)
