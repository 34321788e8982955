"""Asking a real SpamAssassin spamd (started on 127.0.0.1 on a free port): spam it flags gets
no reply and opens no case; ham is answered; spamd unreachable fails open (answered)."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select

from bot.context import App
from bot.intake import store_raw
from bot.pipeline import process_inbound
from bot.spam import ask_spamd
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail
from tests.servers import free_port
from tests.servers.spamd import GTUBE, SpamdServer


def _inject(app: App, raw: bytes) -> str:
    inbound_id, _ = store_raw(app, "inject", raw)
    return process_inbound(app, inbound_id)


def _outbox(app: App) -> list[models.Outbox]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.Outbox)))


def test_spamd_protocol(spamd_server: SpamdServer) -> None:
    spam = ask_spamd(make_mail(f"Buy now {GTUBE}"), spamd_server.host, spamd_server.port)
    assert spam.is_spam and spam.score >= 1000 and spam.threshold == 5.0
    ham = ask_spamd(make_mail("Please send me a copy of my data."), spamd_server.host,
                    spamd_server.port)
    assert not ham.is_spam


def test_spam_flagged_by_spamd_is_filed_not_answered(
    make_app: Callable[..., App], spamd_server: SpamdServer
) -> None:
    app = make_app(spamd_host=spamd_server.host, spamd_port=spamd_server.port)
    assert _inject(app, make_mail(f"Cheap pills {GTUBE}", sender="pills@spam.example")) == "spam"
    assert _outbox(app) == []
    assert _inject(app, make_mail("Please send me a copy of my data.")) == "processed"
    assert "jane@example.com" in {r.to_addr for r in _outbox(app)}
    assert "pills@spam.example" not in {r.to_addr for r in _outbox(app)}
    with unit_of_work(app.engine) as session:
        cases = session.exec(select(models.Case)).all()
        spam_row = session.exec(select(models.InboundMessage).where(
            models.InboundMessage.status == "spam")).one()
    assert len(cases) == 1
    assert spam_row.reason and spam_row.reason.startswith("spamd: score 100")


def test_spamd_down_fails_open(make_app: Callable[..., App]) -> None:
    app = make_app(spamd_host="127.0.0.1", spamd_port=free_port(), spamd_timeout_seconds=2)
    assert _inject(app, make_mail(f"Please send me a copy of my data. {GTUBE}")) == "processed"
