"""Handling in batches (issue #18): a batch's prefetched lookups (bot.batchcache) must give
the same outcome as handling the same mail one message after the other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trimesh
from sqlmodel import col, select

from bot import pipeline
from bot.context import App
from bot.demo import seed_demo
from bot.intake import store_raw
from bot.pipeline import process_inbound, process_pending
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail
from tests.unit.test_projects import DMARC_PASS, TRUSTED, job_mail, stl

STRANGER = "stranger@example.org"
CUBE = stl(trimesh.creation.box(extents=(20, 20, 20)))


def _mails() -> list[bytes]:
    """Mail whose handling depends on what earlier mail of the same batch wrote."""
    trace = (f"Authentication-Results: {DMARC_PASS}",)
    return [
        make_mail("Please send me a copy of my data.", sender=STRANGER, msgid="<a1@x.org>"),
        make_mail("Please send me a copy of my data!", sender=STRANGER, msgid="<a2@x.org>"),
        make_mail("Please send me a copy of my data.", sender=STRANGER, msgid="<a1@x.org>"),
        make_mail("Please delete my data.", sender="jane@example.com", msgid="<j1@x.com>"),
        make_mail("Please delete my data.", sender="jane@example.com", msgid="<j2@x.com>"),
        job_mail("Could you prepare this model for 3D printing?", {"part.stl": CUBE},
                 sender="Nora Newcomer <nora@new.example>"),
        make_mail("Please send me a copy of my data.", sender="nora@new.example",
                  msgid="<n2@new.example>", trace=trace),
        make_mail("Any news?", sender=STRANGER, subject="Re: [SP-000001] Privacy request",
                  msgid="<a3@x.org>"),
        make_mail("Unsubscribe me please.", sender="max@example.de", msgid="<m1@x.de>"),
        make_mail("Out of office", sender=STRANGER, msgid="<a4@x.org>",
                  headers={"Auto-Submitted": "auto-replied"}),
    ]


def _outcome(app: App) -> dict[str, Any]:
    """What handling left behind, without random Message-IDs and timestamps."""
    with unit_of_work(app.engine) as session:
        def rows(model: Any, *fields: str) -> list[tuple[Any, ...]]:
            found = session.exec(select(model).order_by(col(model.id)))
            return [tuple(getattr(r, f) for f in fields) for r in found]
        return {
            "inbound": rows(models.InboundMessage, "id", "status", "reason", "case_id"),
            "cases": rows(models.Case, "id", "kind", "intents", "status", "requester",
                          "client_id"),
            "clients": rows(models.ClientEmail, "client_id", "address"),
            "outbox": rows(models.Outbox, "idempotency_key", "purpose", "to_addr", "case_id"),
            "links": rows(models.CaseMessageId, "case_id", "direction"),
            "audit": rows(models.AuditLog, "action", "case_id", "inbound_id"),
        }


def _store_all(app: App, mails: list[bytes]) -> list[int]:
    return [store_raw(app, "inject", raw)[0] for raw in mails]


@pytest.fixture
def pair(make_app: Callable[..., App], tmp_path: Path) -> tuple[App, App]:
    apps = []
    for name in ("batch", "single"):
        app = make_app(data_dir=tmp_path / name, trusted_authserv_ids=[TRUSTED])
        seed_demo(app)
        apps.append(app)
    return apps[0], apps[1]


def test_a_batch_handles_mail_as_if_one_after_the_other(pair: tuple[App, App]) -> None:
    batch, single = pair
    _store_all(batch, _mails())
    for inbound_id in _store_all(single, _mails()):
        process_inbound(single, inbound_id)
    assert process_pending(batch) == len(_mails())
    assert _outcome(batch) == _outcome(single)


def test_two_mails_from_one_sender_in_one_batch_share_the_case(make_app) -> None:
    app = make_app()
    first, second = _store_all(app, _mails()[:2])
    assert process_pending(app) == 2
    with unit_of_work(app.engine) as session:
        rows = [session.get(models.InboundMessage, i) for i in (first, second)]
        cases = session.exec(select(models.Case)).all()
        joined = session.exec(select(models.AuditLog).where(
            models.AuditLog.action == "case.follow_up")).all()
    assert [r.status for r in rows if r] == ["processed", "processed"]
    assert len(cases) == 1
    assert {r.case_id for r in rows if r} == {cases[0].id}
    assert [a.inbound_id for a in joined] == [second]


def test_a_failed_message_leaves_no_trace_for_the_next_in_its_batch(
        pair: tuple[App, App], monkeypatch: pytest.MonkeyPatch) -> None:
    """The second mail opens a case and then fails: its savepoint takes the case back, and
    the third mail of the same sender opens a case of its own, as it would alone."""
    batch, single = pair
    start = pipeline._start

    def failing(session: Any, app: App, incoming: Any, *args: Any) -> None:
        if incoming.parsed.message_id == "<b2@x.org>":
            raise RuntimeError("boom")
        start(session, app, incoming, *args)

    monkeypatch.setattr(pipeline, "_start", failing)
    mails = [make_mail("Please delete my data.", sender=STRANGER, msgid="<b1@x.org>"),
             make_mail("Please send me a copy of my data.", sender="o@x.org", msgid="<b2@x.org>"),
             make_mail("Please send me a copy of my data.", sender="o@x.org", msgid="<b3@x.org>")]
    _store_all(batch, mails)
    for inbound_id in _store_all(single, mails):
        process_inbound(single, inbound_id)
    assert process_pending(batch) == 3
    outcome = _outcome(batch)
    assert [status for _, status, _, _ in outcome["inbound"]] == [
        "processed", "quarantined", "processed"]
    assert outcome == _outcome(single)


def test_the_reply_rate_limit_counts_replies_queued_earlier_in_the_batch(
        make_app: Callable[..., App], tmp_path: Path) -> None:
    mails = [make_mail(f"Please send me a copy of my data ({n})", msgid=f"<rl{n}@x.com>")
             for n in range(6)]
    batch = make_app(data_dir=tmp_path / "batch", reply_rate_limit=3)
    single = make_app(data_dir=tmp_path / "single", reply_rate_limit=3)
    _store_all(batch, mails)
    for inbound_id in _store_all(single, mails):
        process_inbound(single, inbound_id)
    assert process_pending(batch) == 6
    outcome = _outcome(batch)
    assert len([r for r in outcome["outbox"] if r[2] == "jane@example.com"]) == 3
    assert outcome == _outcome(single)
