"""Non-essential mail: List-Unsubscribe (RFC 8058 one-click) served by the bot's link server,
suppression honoured, service mail unaffected."""

from __future__ import annotations

import re
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from sqlmodel import select

from bot.context import App
from bot.demo import seed_demo
from bot.marketing import send_non_essential
from bot.replies import Rendered
from storage import models
from storage.db import unit_of_work
from tests.servers import free_port

NEWS = Rendered(subject="Our new resin printers", text="News!", html=None, language="en")


def _send(app: App, key: str) -> models.Outbox | None:
    with unit_of_work(app.engine) as session:
        return send_non_essential(session, app, to="jane@example.com", rendered=NEWS,
                                  purpose="newsletter", key=key)


def _client(app: App) -> models.Client:
    with unit_of_work(app.engine) as session:
        return session.exec(select(models.Client).where(models.Client.id == 1)).one()


def test_one_click_unsubscribe(make_app: Callable[..., App], run_daemon: Callable) -> None:
    app = make_app(download_enabled=True, download_port=free_port())
    seed_demo(app)
    row = _send(app, "news:1")
    assert row is not None and not row.essential
    message = BytesParser(policy=policy.default).parsebytes(row.raw)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<mailto:info@stelloloxonpro.com?subject=unsubscribe>" in message["List-Unsubscribe"]
    url = re.search(r"<(http://[^>]+)>", message["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    with run_daemon(app):
        page = urlopen(url, timeout=10).read().decode()  # a GET (link scanner) changes nothing
        assert "<form method=\"post\">" in page
        assert _client(app).marketing_opt_out is False
        post = Request(url, data=b"List-Unsubscribe=One-Click", method="POST")
        assert urlopen(post, timeout=10).status == 200
        forged = Request(url[:-3] + "abc", data=b"List-Unsubscribe=One-Click", method="POST")
        with pytest.raises(HTTPError) as refused:
            urlopen(forged, timeout=10)
    assert refused.value.code == 404
    assert _client(app).marketing_opt_out is True
    assert _send(app, "news:2") is None  # suppressed from now on
    with unit_of_work(app.engine) as session:
        actions = [a.action for a in session.exec(select(models.AuditLog))]
    assert "outbox.suppressed" in actions and "optout.applied" in actions


def test_restricted_client_gets_no_non_essential_mail(app: App) -> None:
    seed_demo(app)
    with unit_of_work(app.engine) as session:
        client = session.get(models.Client, 1)
        assert client is not None
        client.restricted = True
        session.add(client)
    assert _send(app, "news:3") is None
