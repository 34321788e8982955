"""Every real-world message in the shared corpus goes through `inject` without an unhandled
exception: handled, or quarantined with a reason; robots and duplicates get no reply."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import cli
from bot.context import App
from bot.intake import store_raw
from bot.pipeline import process_inbound
from storage import models
from storage.db import unit_of_work
from tests.conftest import SHARED

CORPUS = SHARED / "corpus" / "emails"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")


def _corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file())


def test_every_corpus_message_is_handled_or_quarantined(app: App) -> None:
    files = _corpus_files()
    assert len(files) >= 300
    statuses: Counter[str] = Counter()
    for path in files:
        inbound_id, _ = store_raw(app, "inject", path.read_bytes())
        statuses[process_inbound(app, inbound_id)] += 1
    with unit_of_work(app.engine) as session:
        rows = list(session.exec(select(models.InboundMessage)))
        replies = list(session.exec(select(models.Outbox)))
    internal = [r.reason for r in rows if (r.reason or "").startswith("internal error")]
    assert internal == [], f"handlers crashed on {len(internal)} messages: {internal[:5]}"
    assert all(r.reason for r in rows if r.status == "quarantined")
    assert set(statuses) <= {"processed", "robot", "quarantined", "duplicate"}
    assert statuses["processed"] >= 100
    quarantined = {r.reason for r in rows if r.status == "quarantined"}
    strict_from = {r for r in quarantined if r.startswith("From refused: ")}  # bot.authn
    assert quarantined - strict_from <= {"unparseable: no mail headers found",
                                         "no usable From address"}
    answered = {r.sender for r in rows if r.status == "processed"}
    robots = {r.sender for r in rows if r.status == "robot"} - answered
    staff = app.settings.staff_address
    assert not [r for r in replies if r.to_addr in robots and r.to_addr != staff]


def test_inject_command_reports_each_file(
    make_settings: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STELLOLOXON_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("STELLOLOXON_DEMO_DATA", "false")
    files = [str(p) for p in _corpus_files()[:5]]
    result = CliRunner().invoke(cli, ["inject", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count("inbound #") == 5
