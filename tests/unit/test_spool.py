"""The SMTP spool: a message is a durable file before 250; importing is idempotent."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot.context import App
from bot.intake import store_raw
from bot.spool import Spool
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail


def _inbound(app: App) -> list[models.InboundMessage]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.InboundMessage)))


def test_drain_imports_in_order_and_removes_files(app: App, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    raws = [make_mail(f"message {n}") for n in range(3)]
    for raw in raws:
        spool.put(raw)
    seen: list[int] = []
    assert spool.drain(app, seen.append) == 3
    assert spool.pending() == []
    assert [m.raw for m in _inbound(app)] == raws and len(seen) == 3


def test_crash_between_import_and_unlink_imports_nothing_twice(app: App,
                                                               tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    path = spool.put(make_mail("hello"))
    store_raw(app, "smtp", path.read_bytes(), source_key=f"smtp:{path.stem}")  # then killed
    seen: list[int] = []
    spool.drain(app, seen.append)
    assert len(_inbound(app)) == 1 and len(seen) == 1 and spool.pending() == []


def test_drain_in_batches_keeps_order_and_imports_each_once(app: App, tmp_path: Path) -> None:
    from bot.spool import DRAIN_BATCH

    spool = Spool(tmp_path / "spool")
    raws = [make_mail(f"message {n}") for n in range(DRAIN_BATCH + 5)]
    for raw in raws:
        spool.put(raw)
    seen: list[int] = []
    assert spool.drain(app, seen.append) == len(raws)
    rows = _inbound(app)
    assert [m.raw for m in sorted(rows, key=lambda r: r.id or 0)] == raws
    assert sorted(seen) == sorted(r.id for r in rows) and spool.pending() == []
