"""The same pipeline on a real PostgreSQL server: schema, case, audit, outbox, threading."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select

from bot.channels.outbound import deliver_due, make_transport
from bot.context import App
from bot.demo import seed_demo
from bot.intake import store_raw
from bot.pipeline import process_inbound
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail, outbox_messages


def test_request_and_reply_on_postgres(make_app: Callable[..., App], postgres_url: str) -> None:
    app = make_app(database_url=postgres_url)
    assert app.engine.dialect.name == "postgresql"
    seed_demo(app)
    first, _ = store_raw(app, "inject", make_mail("Please correct my phone number to +1 555 0199",
                                                  msgid="<pg-1@example.com>"))
    assert process_inbound(app, first) == "processed"
    again, created = store_raw(app, "imap", b"x", source_key="imap:k:1:1")
    same, created_again = store_raw(app, "imap", b"x", source_key="imap:k:1:1")
    assert (created, created_again, same) == (True, False, again)
    deliver_due(app, make_transport(app))
    reply, code_mail = outbox_messages(app)
    assert "verification code" in code_mail["Subject"]
    with unit_of_work(app.engine) as session:
        case = session.exec(select(models.Case)).one()
        actions = {a.action for a in session.exec(select(models.AuditLog))}
    assert case.kind == "correction"
    assert reply["In-Reply-To"] == "<pg-1@example.com>"
    assert {"case.opened", "outbox.queued", "outbox.sent"} <= actions


def test_audit_log_is_append_only_on_postgres(
    make_app: Callable[..., App], postgres_url: str
) -> None:
    app = make_app(database_url=postgres_url)
    store_raw(app, "inject", make_mail("hello"))
    with pytest.raises(PermissionError), unit_of_work(app.engine) as session:
        entry = session.exec(select(models.AuditLog)).first()
        assert entry is not None
        entry.action = "tampered"
        session.add(entry)
        session.flush()
