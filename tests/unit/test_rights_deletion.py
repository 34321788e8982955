"""Unit tests for bot.rights.deletion: the erasure plan, its execution and the certificate."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import pytest
from sqlmodel import select

from bot.context import App
from bot.rights.deletion import (
    DeletionNeedsApproval,
    address_hash,
    execute_deletion,
    plan_deletion,
)
from storage import models
from storage.db import unit_of_work
from tests.unit.test_rights_export import seed_client


def test_plan_lists_actions_and_financial_hold(app: App) -> None:
    seeded = seed_client(app, "alice")
    with unit_of_work(app.engine) as session:
        plan = plan_deletion(session, app, seeded.client_id)
    actions = {i.category: (i.action, i.count) for i in plan.items}
    assert actions["emails"] == ("delete", 2)
    assert actions["model_files"] == ("delete", 2)
    assert actions["contact"] == ("anonymise", 1)
    assert actions["invoices"] == ("keep", 1)
    assert actions["payments"] == ("keep", 1)
    invoices = next(i for i in plan.items if i.category == "invoices")
    assert invoices.until is not None
    assert invoices.until.year == app.clock.now().year + 7
    assert {k.label for k in plan.kept_records} == {"INV-alice", "payment of invoice INV-alice"}
    assert not plan.needs_approval and plan.blockers == []
    assert sorted(f.filename for f in plan.files) == ["alice-bracket.stl", "alice-lid.3mf"]


@pytest.mark.parametrize(("status", "invoice_status", "blocker"), [
    ("in_progress", "paid", "project SP-2026-ALICE is still in_progress"),
    ("completed", "open", "invoice INV-alice is open"),
    ("delivered", "disputed", "invoice INV-alice is disputed"),
])
def test_active_project_or_open_invoice_needs_approval(app: App, status: str,
                                                       invoice_status: str,
                                                       blocker: str) -> None:
    seeded = seed_client(app, "alice", status=status, invoice_status=invoice_status)
    with unit_of_work(app.engine) as session:
        plan = plan_deletion(session, app, seeded.client_id)
        assert plan.needs_approval and plan.blockers == [blocker]
        with pytest.raises(DeletionNeedsApproval):
            execute_deletion(session, app, seeded.client_id, actor="bot")
    with unit_of_work(app.engine) as session:
        cert = execute_deletion(session, app, seeded.client_id, actor="staff:boss",
                                approved=True)
    assert cert.deleted["model_files"] == 2


def test_execute_erases_keeps_financial_and_suppresses(app: App) -> None:
    mine = seed_client(app, "alice")
    other = seed_client(app, "bob")
    with unit_of_work(app.engine) as session:
        cert = execute_deletion(session, app, mine.client_id, actor="bot")

    for key in mine.file_keys:
        assert not app.files.exists(key)
    for key in other.file_keys:
        assert app.files.exists(key)
    with unit_of_work(app.engine) as session:
        client = session.get(models.Client, mine.client_id)
        assert client is not None
        assert client.name == f"Deleted client #{mine.client_id}"
        assert (client.phone, client.business_address, client.company) == (None, None, None)
        assert client.anonymised_at == app.clock.now()
        assert not session.exec(select(models.ClientEmail).where(
            models.ClientEmail.client_id == mine.client_id)).all()
        files = session.exec(select(models.ModelFile).where(
            models.ModelFile.client_id == mine.client_id)).all()
        assert all(f.deleted_at is not None and "alice" not in f.filename for f in files)
        project = session.exec(select(models.Project).where(
            models.Project.client_id == mine.client_id)).one()
        assert "alice" not in project.title.lower() and project.specs == ""
        for model in (models.Communication, models.WebsiteUsage):
            assert not session.exec(select(model).where(
                model.client_id == mine.client_id)).all()
        invoice = session.exec(select(models.Invoice).where(
            models.Invoice.number == "INV-alice")).one()
        assert invoice.client_id == mine.client_id and invoice.amount_cents == 12000
        assert session.exec(select(models.Payment).where(
            models.Payment.invoice_id == invoice.id)).one()
        assert session.exec(select(models.Disclosure).where(
            models.Disclosure.client_id == mine.client_id)).one()
        hashes = set(session.exec(select(models.Suppression.address_hash)).all())
        assert address_hash(app, "Alice@Example.com") in hashes
        assert address_hash(app, "alice.alt@example.org") in hashes
        assert address_hash(app, "bob@example.com") not in hashes
        bob = session.get(models.Client, other.client_id)
        assert bob is not None and bob.name == "Name bob"

    assert cert.deleted == {"emails": 2, "communications": 1, "website_usage": 1,
                            "model_files": 2}
    assert cert.anonymised == {"contact": 1, "projects": 1}
    assert {(f.filename, f.sha256) for f in cert.files} == {
        (f.filename, f.sha256) for f in _files_of(app, mine.file_bytes)}
    assert {k.category for k in cert.kept} >= {"invoices", "payments", "disclosures"}
    assert all(k.until.year == app.clock.now().year + 7 for k in cert.kept_records)
    assert cert.notify_recipients == ["Stripe (payments)"]
    assert json.dumps(cert.to_dict(), default=str)


def _files_of(app: App, file_bytes: dict[str, bytes]) -> list[SimpleNamespace]:
    return [SimpleNamespace(filename=n, sha256=hashlib.sha256(d).hexdigest())
            for n, d in file_bytes.items()]


def test_deletion_steps_audited_with_counts_only(app: App) -> None:
    seeded = seed_client(app, "alice")
    with unit_of_work(app.engine) as session:
        execute_deletion(session, app, seeded.client_id, actor="staff:boss@stelloloxonpro.com")
    with unit_of_work(app.engine) as session:
        entries = session.exec(select(models.AuditLog).where(
            models.AuditLog.client_id == seeded.client_id)).all()
    actions = {e.action for e in entries}
    assert {"deletion.started", "deletion.emails", "deletion.contact", "deletion.projects",
            "deletion.communications", "deletion.website_usage", "deletion.model_files",
            "deletion.blobs", "deletion.completed"} <= actions
    for entry in entries:
        assert "alice" not in entry.details.lower() and "example" not in entry.details


def test_shared_blob_survives_for_its_other_owner(app: App) -> None:
    mine = seed_client(app, "alice")
    other = seed_client(app, "bob")
    shared = app.files.put_bytes(mine.file_bytes["alice-bracket.stl"])
    with unit_of_work(app.engine) as session:
        session.add(models.ModelFile(client_id=other.client_id, filename="copy.stl",
                                     size=shared.size, sha256=shared.sha256,
                                     storage_key=shared.key, uploaded_at=app.clock.now()))
    with unit_of_work(app.engine) as session:
        execute_deletion(session, app, mine.client_id, actor="bot")
    assert app.files.exists(shared.key)
    assert not app.files.exists(mine.file_keys[1])


def test_execute_is_idempotent(app: App) -> None:
    seeded = seed_client(app, "alice")
    with unit_of_work(app.engine) as session:
        execute_deletion(session, app, seeded.client_id, actor="bot")
    with unit_of_work(app.engine) as session:
        again = execute_deletion(session, app, seeded.client_id, actor="bot")
        assert len(session.exec(select(models.Suppression)).all()) == 2
    assert again.deleted == {"emails": 0, "communications": 0, "website_usage": 0,
                             "model_files": 0}
