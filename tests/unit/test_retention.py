"""Retention: each rule deletes on the day after its anniversary and not a day earlier, the
file bytes leave the disk, protected clients keep everything, and the sweep is batched."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import SQLModel, col, select
from typer.testing import CliRunner

from bot.cli import cli
from bot.clock import FrozenClock
from bot.context import App
from bot.retention import months_before, sweep
from bot.rights.deletion import address_hash
from storage import models
from storage.db import unit_of_work


def at(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def add(app: App, *rows: SQLModel) -> list[int]:
    with unit_of_work(app.engine) as session:
        for row in rows:
            session.add(row)
            session.flush()
        return [row.id for row in rows]  # type: ignore[attr-defined]


RECENT = at(2026, 11, 1)
LONG_AGO = at(2015, 6, 1)


def client(app: App, *, last_active: datetime = RECENT, email: str | None = None,
           name: str = "Ada Client") -> int:
    [cid] = add(app, models.Client(name=name, phone="+1 555 0100", business_address="1 Road",
                                   company="Ada Ltd", created_at=at(2015, 1, 1),
                                   last_active_at=last_active))
    if email:
        add(app, models.ClientEmail(client_id=cid, address=email, is_primary=True))
    return cid


def project(app: App, client_id: int, *, completed: datetime | None,
            updated: datetime | None = None) -> int:
    [pid] = add(app, models.Project(
        reference=f"SP-{random.random():.12f}", client_id=client_id, title="Bracket",
        status="completed" if completed else "in_progress", created_at=at(2015, 1, 1),
        updated_at=updated or completed or at(2015, 1, 1), completed_at=completed))
    return pid


def model_file(app: App, client_id: int, project_id: int | None, data: bytes,
               uploaded: datetime = LONG_AGO) -> int:
    stored = app.files.put_bytes(data)
    [fid] = add(app, models.ModelFile(client_id=client_id, project_id=project_id,
                                      filename="part.stl", size=stored.size,
                                      sha256=stored.sha256, storage_key=stored.key,
                                      uploaded_at=uploaded))
    return fid


def comm(app: App, client_id: int | None, occurred: datetime, *, project_id: int | None = None,
         case_id: int | None = None, inbound_id: int | None = None) -> int:
    [cid] = add(app, models.Communication(client_id=client_id, project_id=project_id,
                                          case_id=case_id, channel="email", direction="in",
                                          address="ada@example.com", occurred_at=occurred,
                                          inbound_id=inbound_id))
    return cid


def exists(app: App, model: type[SQLModel], row_id: int) -> bool:
    with unit_of_work(app.engine) as session:
        return session.get(model, row_id) is not None


def sweep_on(app: App, clock: FrozenClock, when: datetime, **kw: Any) -> Any:
    clock.set(when)
    return sweep(app, **kw)


# --------------------------------------------------------------------------- dates


def test_months_before_clamps_to_the_month_end() -> None:
    assert months_before(at(2027, 2, 28), 36) == at(2024, 2, 28)
    assert months_before(at(2028, 2, 29), 12) == at(2027, 2, 28)
    assert months_before(at(2026, 3, 31), 1) == at(2026, 2, 28)
    assert months_before(at(2026, 1, 15), 24) == at(2024, 1, 15)


# --------------------------------------------------------------------------- each rule


def test_project_files_leave_disk_the_day_after_the_third_anniversary(
    app: App, clock: FrozenClock
) -> None:
    cid = client(app)
    done = project(app, cid, completed=at(2023, 6, 10, 15))
    running = project(app, cid, completed=None, updated=at(2026, 11, 1))
    own = model_file(app, cid, done, b"solid 1")
    shared = model_file(app, cid, done, b"solid shared")
    keeps_shared = model_file(app, cid, running, b"solid shared")
    own_path = app.files.path(app.files.key_for(_sha(app, own)))
    assert own_path.exists()

    sweep_on(app, clock, at(2026, 6, 10, 23))
    assert exists(app, models.ModelFile, own) and own_path.exists()

    report = sweep_on(app, clock, at(2026, 6, 11, 0))
    assert not exists(app, models.ModelFile, own) and not own_path.exists()
    assert not exists(app, models.ModelFile, shared)
    assert exists(app, models.ModelFile, keeps_shared)
    assert app.files.exists(app.files.key_for(_sha(app, keeps_shared)))  # still needed
    assert report.counts["project_files"]["modelfile"] == 2 and report.files_deleted == 1
    [entry] = _audits(app, "retention.deleted")
    details = json.loads(entry.details)
    assert (details["rule"], sorted(details["ids"])) == ("project_files", sorted([own, shared]))


def _sha(app: App, file_id: int) -> str:
    with unit_of_work(app.engine) as session:
        row = session.get(models.ModelFile, file_id)
        assert row is not None
        return row.sha256


def _audits(app: App, action: str) -> list[models.AuditLog]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.AuditLog).where(models.AuditLog.action == action)
                                 .order_by(col(models.AuditLog.id))))


def test_communications_and_their_raw_mail(app: App, clock: FrozenClock) -> None:
    cid = client(app)
    done = project(app, cid, completed=at(2024, 1, 1))
    linked = comm(app, cid, at(2023, 12, 1), project_id=done)
    after_completion = comm(app, cid, at(2024, 2, 1), project_id=done)
    [inbound] = add(app, models.InboundMessage(channel="imap", source_key="k1", sha256="0",
                                               raw=b"From: ada@example.com\r\n\r\nhello",
                                               received_at=at(2022, 1, 1),
                                               sender="ada@example.com"))
    loose = comm(app, cid, at(2022, 1, 1), inbound_id=inbound)  # waits for the last project
    anonymous = comm(app, None, at(2023, 3, 3))

    sweep_on(app, clock, at(2026, 3, 3, 23))
    assert exists(app, models.Communication, anonymous)
    sweep_on(app, clock, at(2026, 3, 4, 1))
    assert not exists(app, models.Communication, anonymous)

    sweep_on(app, clock, at(2027, 1, 1, 23))
    assert all(exists(app, models.Communication, i) for i in (linked, loose, after_completion))
    sweep_on(app, clock, at(2027, 1, 2, 1))
    assert not exists(app, models.Communication, linked)
    assert not exists(app, models.Communication, loose)
    assert exists(app, models.Communication, after_completion)
    with unit_of_work(app.engine) as session:
        raw = session.get(models.InboundMessage, inbound)
        assert raw is not None and raw.raw == b"" and raw.sender is None
    sweep_on(app, clock, at(2027, 2, 2, 1))
    assert not exists(app, models.Communication, after_completion)


def test_contact_information_anonymised_two_years_after_last_activity(
    app: App, clock: FrozenClock
) -> None:
    gone = client(app, last_active=at(2024, 11, 20, 10), email="old@example.com")
    busy = client(app, last_active=at(2024, 1, 1), email="busy@example.com")
    project(app, busy, completed=None, updated=at(2026, 10, 1))  # an active project

    sweep_on(app, clock, at(2026, 11, 20, 23))
    assert _client(app, gone).anonymised_at is None
    sweep_on(app, clock, at(2026, 11, 21, 2))
    row = _client(app, gone)
    assert row.name == f"deleted client #{gone}"
    assert (row.phone, row.business_address, row.company) == (None, None, None)
    assert row.anonymised_at == at(2026, 11, 21, 2)
    with unit_of_work(app.engine) as session:
        emails = [e.address for e in session.exec(select(models.ClientEmail))]
        hashes = [s.address_hash for s in session.exec(select(models.Suppression))]
    assert emails == ["busy@example.com"]
    assert hashes == [address_hash(app, "old@example.com")]
    assert "old@example.com" not in hashes[0]
    [entry] = _audits(app, "retention.anonymised")
    assert entry.client_id == gone and json.loads(entry.details)["rule"] == "contact_information"
    assert _client(app, busy).anonymised_at is None


def _client(app: App, client_id: int) -> models.Client:
    with unit_of_work(app.engine) as session:
        row = session.get(models.Client, client_id)
        assert row is not None
        return row


def test_financial_records_kept_seven_years(app: App, clock: FrozenClock) -> None:
    cid = client(app)
    [alone, paid_late] = add(
        app,
        models.Invoice(number="1", client_id=cid, amount_cents=100, issued_at=at(2019, 11, 20)),
        models.Invoice(number="2", client_id=cid, amount_cents=100, issued_at=at(2019, 11, 20)),
    )
    [payment] = add(app, models.Payment(invoice_id=paid_late, amount_cents=100,
                                        paid_at=at(2019, 12, 1)))
    sweep_on(app, clock, at(2026, 11, 20, 23))
    assert exists(app, models.Invoice, alone)
    sweep_on(app, clock, at(2026, 11, 21, 0))
    assert not exists(app, models.Invoice, alone)
    assert exists(app, models.Invoice, paid_late) and exists(app, models.Payment, payment)
    sweep_on(app, clock, at(2026, 12, 2, 0))
    assert not exists(app, models.Payment, payment)
    assert not exists(app, models.Invoice, paid_late)


def test_website_usage_rolled_into_aggregates(app: App, clock: FrozenClock) -> None:
    rows = [models.WebsiteUsage(path=p, occurred_at=at(2024, 11, 20, h))
            for p, h in (("/quote", 1), ("/quote", 2), ("/quote", 3), ("/pricing", 4))]
    kept = [models.WebsiteUsage(path="/quote", occurred_at=at(2020, 1, 1), anonymised=True),
            models.WebsiteUsage(path="/quote", occurred_at=at(2024, 11, 28))]
    ids = add(app, *rows, *kept)
    sweep_on(app, clock, at(2026, 11, 20, 23))
    assert all(exists(app, models.WebsiteUsage, i) for i in ids)
    sweep_on(app, clock, at(2026, 11, 21, 0))
    assert [exists(app, models.WebsiteUsage, i) for i in ids] == [False] * 4 + [True, True]
    assert _aggregates(app) == {("2024-11", "/quote"): 3, ("2024-11", "/pricing"): 1}
    sweep_on(app, clock, at(2026, 11, 29, 0))
    assert _aggregates(app) == {("2024-11", "/quote"): 4, ("2024-11", "/pricing"): 1}
    assert exists(app, models.WebsiteUsage, ids[4])  # anonymised rows stay


def _aggregates(app: App) -> dict[tuple[str, str], int]:
    with unit_of_work(app.engine) as session:
        return {(a.month, a.path): a.hits for a in session.exec(select(models.UsageAggregate))}


# --------------------------------------------------------------------------- protection


def _old_data(app: App, email: str) -> dict[str, tuple[type[SQLModel], int]]:
    cid = client(app, last_active=at(2018, 1, 1), email=email)
    pid = project(app, cid, completed=at(2018, 1, 1))
    [inv] = add(app, models.Invoice(number=email, client_id=cid, amount_cents=1,
                                    issued_at=at(2018, 1, 1)))
    [usage] = add(app, models.WebsiteUsage(client_id=cid, path="/", occurred_at=at(2018, 1, 1)))
    return {"client": (models.Client, cid), "invoice": (models.Invoice, inv),
            "file": (models.ModelFile, model_file(app, cid, pid, email.encode())),
            "comm": (models.Communication, comm(app, cid, at(2018, 1, 1), project_id=pid)),
            "usage": (models.WebsiteUsage, usage)}


def _untouched(app: App, data: dict[str, tuple[type[SQLModel], int]]) -> bool:
    alive = all(exists(app, model, i) for model, i in data.values())
    return alive and _client(app, data["client"][1]).anonymised_at is None


def test_open_case_and_legal_hold_protect_everything(app: App, clock: FrozenClock) -> None:
    with_case, held, released = (_old_data(app, e) for e in ("a@x.org", "b@x.org", "c@x.org"))
    [case_id] = add(app, models.Case(kind="deletion", requester="a@x.org", status="open",
                                     client_id=with_case["client"][1],
                                     received_at=at(2026, 11, 1), due_at=at(2026, 12, 1)))
    add(app, models.LegalHold(client_id=held["client"][1], reason="litigation",
                              created_at=at(2026, 1, 1)),
        models.LegalHold(client_id=released["client"][1], reason="audit",
                         created_at=at(2026, 1, 1), released_at=at(2026, 6, 1)))
    sweep_on(app, clock, at(2026, 11, 25, 3))
    assert _untouched(app, with_case) and _untouched(app, held)
    assert not _untouched(app, released)
    assert _client(app, released["client"][1]).anonymised_at is not None

    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, case_id)
        assert case is not None
        case.status = "closed"
        session.add(case)
    sweep_on(app, clock, at(2026, 11, 26, 3))
    assert not exists(app, models.Communication, with_case["comm"][1])
    assert _untouched(app, held)


# --------------------------------------------------------------------------- batches, dry run, CLI


def test_dry_run_deletes_nothing_and_sweep_is_batched(make_app: Callable[..., App],
                                                      clock: FrozenClock) -> None:
    app = make_app(retention_batch_size=5)
    ids = add(app, *(models.WebsiteUsage(path="/", occurred_at=at(2020, 1, 1))
                     for _ in range(12)))
    dry = sweep(app, dry_run=True)
    assert dry.counts["website_usage"]["websiteusage"] == 12 and dry.total == 12
    assert all(exists(app, models.WebsiteUsage, i) for i in ids)
    assert _audits(app, "retention.deleted") == []
    seen: list[int] = []
    report = sweep(app, progress=lambda step, n: seen.append(n))
    assert report.total == 12 and seen == [5, 5, 2]
    entries = [json.loads(e.details) for e in _audits(app, "retention.deleted")]
    assert sorted(i for e in entries for i in e["ids"]) == ids
    assert {e["rule"] for e in entries} == {"website_usage"}


def test_cli_retention_dry_run_then_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          make_app: Callable[..., App]) -> None:
    monkeypatch.setenv("STELLOLOXON_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("STELLOLOXON_DEMO_DATA", "false")
    monkeypatch.chdir(tmp_path)
    app = make_app()
    gone = client(app, last_active=at(2019, 1, 1), email="old@example.com")
    dry = CliRunner().invoke(cli, ["retention", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "contact_information" in dry.output and "1 rows would be removed" in dry.output
    assert _client(app, gone).anonymised_at is None
    real = CliRunner().invoke(cli, ["retention"])
    assert real.exit_code == 0, real.output
    assert "1 rows removed" in real.output
    assert _client(app, gone).anonymised_at is not None


# --------------------------------------------------------------------------- simulated days


def anniversary_plus_one(when: datetime, years: int) -> date:
    """Independent of the code under test: the first day the record may be gone."""
    day = when.date()
    try:
        anniversary = day.replace(year=day.year + years)
    except ValueError:  # 29 February
        anniversary = day.replace(year=day.year + years, day=28)
    return anniversary + timedelta(days=1)


def test_each_rule_deletes_on_its_day_not_a_day_earlier(app: App, clock: FrozenClock) -> None:
    rng = random.Random(5)

    def moment(start: date, span: int) -> datetime:
        day = start + timedelta(days=rng.randrange(span))
        return datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60),
                        tzinfo=UTC)

    expected: dict[tuple[type[SQLModel], int], date] = {}
    owner = client(app, last_active=at(2030, 1, 1))  # never due itself
    for _ in range(8):
        done = moment(date(2023, 10, 1), 150)  # includes 29 February 2024
        pid = project(app, owner, completed=done)
        expected[(models.ModelFile, model_file(app, owner, pid, rng.randbytes(16),
                                               uploaded=done - timedelta(days=3)))] = (
            anniversary_plus_one(done, 3))
        expected[(models.Communication, comm(app, owner, done - timedelta(days=1),
                                             project_id=pid))] = anniversary_plus_one(done, 3)
        last = moment(date(2024, 10, 1), 120)
        expected[(models.Client, client(app, last_active=last))] = anniversary_plus_one(last, 2)
        issued = moment(date(2019, 10, 1), 120)
        [inv] = add(app, models.Invoice(number=f"I{rng.random()}", amount_cents=1,
                                        issued_at=issued))
        expected[(models.Invoice, inv)] = anniversary_plus_one(issued, 7)
        seen = moment(date(2024, 10, 1), 120)
        [usage] = add(app, models.WebsiteUsage(path="/", occurred_at=seen))
        expected[(models.WebsiteUsage, usage)] = anniversary_plus_one(seen, 2)

    gone_on: dict[tuple[type[SQLModel], int], date] = {}
    day = date(2026, 9, 25)
    while day <= date(2027, 3, 5):
        clock.set(datetime(day.year, day.month, day.day, rng.randrange(24), tzinfo=UTC))
        sweep(app)
        for key in _gone(app, expected.keys() - gone_on.keys()):
            gone_on[key] = day
        day += timedelta(days=1)
    assert gone_on == expected


def _gone(app: App, keys: set[tuple[type[SQLModel], int]]) -> set[tuple[type[SQLModel], int]]:
    """Which of these rows are gone (clients: anonymised)."""
    with unit_of_work(app.engine) as session:
        present = {(m, i) for m in {k[0] for k in keys}
                   for i in session.exec(select(m.id))}  # type: ignore[attr-defined]
        anonymised = {(models.Client, c.id) for c in session.exec(
            select(models.Client).where(col(models.Client.anonymised_at).is_not(None)))}
    return {k for k in keys if k not in present or k in anonymised}
