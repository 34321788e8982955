"""Policy-change notices: every client with an address, once, opt-outs included, staggered by
the per-minute cap, and resumable after a crash without a second copy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from bot import notices
from bot.channels.outbound import deliver_due, make_transport
from bot.cli import cli
from bot.clock import FrozenClock
from bot.context import App
from bot.notices import UnknownTemplate, notify_policy_change
from storage import models
from storage.db import unit_of_work
from tests.helpers import outbox_messages


def seed_clients(app: App, n: int) -> list[int]:
    """n clients with addresses (every third opted out), plus one anonymised, one without."""
    now = app.clock.now()
    ids = []
    with unit_of_work(app.engine) as session:
        for i in range(n):
            c = models.Client(name=f"Client {i}", created_at=now, last_active_at=now,
                              marketing_opt_out=i % 3 == 0, language="de" if i == 1 else None)
            session.add(c)
            session.flush()
            session.add(models.ClientEmail(client_id=c.id, address=f"c{i}@example.com",
                                           is_primary=True))
            session.add(models.ClientEmail(client_id=c.id, address=f"c{i}.alt@example.com"))
            ids.append(c.id)
        session.add(models.Client(name="deleted client #x", created_at=now, last_active_at=now,
                                  anonymised_at=now))
        session.add(models.Client(name="No Address", created_at=now, last_active_at=now))
    return ids


def notice_rows(app: App) -> list[models.Outbox]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.Outbox)
                                 .where(col(models.Outbox.idempotency_key).startswith("policy:"))
                                 .order_by(col(models.Outbox.id))))


def test_every_client_once_opt_outs_included_staggered(make_app: Callable[..., App],
                                                       clock: FrozenClock) -> None:
    app = make_app(notice_rate_per_minute=10)
    ids = seed_clients(app, 25)
    report = notify_policy_change(app)
    rows = notice_rows(app)
    assert report.queued == 25 and len(rows) == 25
    assert sorted(r.to_addr for r in rows) == sorted(f"c{i}@example.com" for i in range(25))
    assert {r.idempotency_key for r in rows} == {f"policy:policy_change:{i}" for i in ids}
    assert all(r.essential for r in rows)
    start = clock.now()
    slots = [r.next_attempt_at - start for r in rows]
    assert slots == [timedelta(minutes=i // 10) for i in range(25)]
    again = notify_policy_change(app)
    assert (again.queued, again.already) == (0, 25) and len(notice_rows(app)) == 25


def test_outbox_releases_at_most_the_cap_per_minute(make_app: Callable[..., App],
                                                    clock: FrozenClock) -> None:
    app = make_app(notice_rate_per_minute=10)
    seed_clients(app, 25)
    notify_policy_change(app)
    transport = make_transport(app)
    assert deliver_due(app, transport) == 10
    assert deliver_due(app, transport) == 0
    clock.advance(minutes=1)
    assert deliver_due(app, transport) == 10
    clock.advance(minutes=1)
    assert deliver_due(app, transport) == 5
    messages = outbox_messages(app)
    assert len({m["To"] for m in messages}) == 25
    assert messages[0]["Subject"] == "We have updated our privacy policy"
    assert "Hello Client 0," in messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_resumes_after_a_crash_without_second_copies(make_app: Callable[..., App],
                                                     clock: FrozenClock,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(notice_rate_per_minute=10)
    seed_clients(app, 45)
    real = notices._queue_one
    calls = {"n": 0}

    def crash_at_30(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 30:
            raise RuntimeError("power cut")
        real(*args, **kwargs)

    monkeypatch.setattr(notices, "_queue_one", crash_at_30)
    with pytest.raises(RuntimeError):
        notify_policy_change(app, batch_size=20)
    assert len(notice_rows(app)) == 20  # the first batch committed, the second rolled back
    monkeypatch.setattr(notices, "_queue_one", real)
    clock.advance(seconds=30)
    report = notify_policy_change(app, batch_size=20)
    rows = notice_rows(app)
    assert (report.queued, report.already) == (25, 20)
    assert len(rows) == len({r.to_addr for r in rows}) == 45
    first_run_last = max(r.next_attempt_at for r in rows[:20])
    resumed = sorted(r.next_attempt_at for r in rows[20:])
    assert resumed[0] == first_run_last + timedelta(minutes=1)
    per_minute: dict[Any, int] = {}
    for r in rows:
        per_minute[r.next_attempt_at] = per_minute.get(r.next_attempt_at, 0) + 1
    assert max(per_minute.values()) <= 10


def test_unknown_template_is_refused(app: App) -> None:
    seed_clients(app, 2)
    with pytest.raises(UnknownTemplate):
        notify_policy_change(app, "no_such_template")
    assert notice_rows(app) == []


def test_cli_notify_policy_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  make_app: Callable[..., App]) -> None:
    monkeypatch.setenv("STELLOLOXON_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("STELLOLOXON_DEMO_DATA", "false")
    monkeypatch.chdir(tmp_path)
    app = make_app()
    seed_clients(app, 3)
    result = CliRunner().invoke(cli, ["notify-policy-change", "--template", "policy_change"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("3 notices queued, 0 already queued")
    again = CliRunner().invoke(cli, ["notify-policy-change"])
    assert again.output.startswith("0 notices queued, 3 already queued")
    bad = CliRunner().invoke(cli, ["notify-policy-change", "--template", "nope"])
    assert bad.exit_code == 2 and bad.output.startswith("error: no template")
    assert len(notice_rows(app)) == 3
