"""Unit tests for bot.rights usage, correction and restriction."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.context import App
from bot.rights import PURPOSES, ClientNotFound, add_months, add_years
from bot.rights.correction import Change, apply_corrections
from bot.rights.deletion import execute_deletion
from bot.rights.restriction import (
    lift_restriction,
    may_send_non_essential,
    restrict,
    set_marketing_opt_out,
)
from bot.rights.usage import usage_report
from storage import models
from storage.db import unit_of_work
from tests.unit.test_rights_export import seed_client

# --------------------------------------------------------------------------- usage


def test_usage_report_from_disclosure_log_and_purposes(app: App) -> None:
    seeded = seed_client(app, "alice")
    seed_client(app, "bob")
    now = app.clock.now()
    with unit_of_work(app.engine) as session:
        session.add(models.Disclosure(client_id=seeded.client_id, recipient="Stripe (payments)",
                                      categories="name, refund amount", purpose="refund",
                                      disclosed_at=now - timedelta(days=2)))
        session.add(models.Disclosure(client_id=seeded.client_id, recipient="Backblaze (storage)",
                                      categories="model files", purpose="backup",
                                      disclosed_at=now - timedelta(days=1)))
    with unit_of_work(app.engine) as session:
        report = usage_report(session, app, seeded.client_id)
    assert report.purposes == PURPOSES
    assert [d.recipient for d in report.disclosures] == [
        "Stripe (payments)", "Stripe (payments)", "Backblaze (storage)"]
    stripe = next(r for r in report.recipients if r.recipient.startswith("Stripe"))
    assert stripe.times == 2
    assert stripe.categories == ("name", "email", "invoice amounts", "refund amount")
    assert stripe.purposes == ("payment processing", "refund")
    assert stripe.first < stripe.last
    assert [r.recipient for r in report.recipients] == ["Backblaze (storage)",
                                                       "Stripe (payments)"]
    assert report.counts["model_files"] == 2 and report.counts["emails"] == 2
    financial = next(c for c in report.categories if c.key == "financial")
    assert financial.records == 2 and "7 years" in financial.retention


def test_usage_report_unknown_client(app: App) -> None:
    with pytest.raises(ClientNotFound), unit_of_work(app.engine) as session:
        usage_report(session, app, 42)


# --------------------------------------------------------------------------- correction


def test_corrections_applied_routed_and_audited(app: App) -> None:
    seeded = seed_client(app, "alice")
    changes = [("Phone number", "+44 20 7946 0958"), ("Business address", "2 New  Road"),
               ("Company", "Alice Ltd"), ("E-mail", "new@example.com"),
               ("favourite colour", "blue"), ("name", "Name alice")]
    with unit_of_work(app.engine) as session:
        result = apply_corrections(session, app, seeded.client_id, changes, actor="bot")
    assert result.applied == [
        Change("phone", "+1 941 555 0100", "+44 20 7946 0958"),
        Change("business_address", "1 alice Street", "2 New Road"),
        Change("company", "alice GmbH", "Alice Ltd"),
    ]
    assert result.needs_verification == [("E-mail", "new@example.com")]
    assert result.needs_staff == [("favourite colour", "blue")]
    assert result.unchanged == ["name"]
    with unit_of_work(app.engine) as session:
        client = session.get(models.Client, seeded.client_id)
        assert client is not None and client.company == "Alice Ltd"
        emails = session.exec(select(models.ClientEmail.address)).all()
        assert "new@example.com" not in emails
        entries = session.exec(select(models.AuditLog).where(
            models.AuditLog.action == "correction.applied")).all()
    assert sorted(json.loads(e.details)["field"] for e in entries) == [
        "business_address", "company", "phone"]
    assert not any("Alice Ltd" in e.details or "7946" in e.details for e in entries)


def test_ambiguous_corrections_go_to_staff(app: App) -> None:
    seeded = seed_client(app, "alice")
    changes = [("name", "A. One"), ("name", "A. Two"), ("phone", "call me maybe"),
               ("company", "   ")]
    with unit_of_work(app.engine) as session:
        result = apply_corrections(session, app, seeded.client_id, changes, actor="bot")
    assert result.applied == []
    assert sorted(f for f, _ in result.needs_staff) == ["company", "name", "name", "phone"]


def test_corrections_on_an_erased_client_go_to_staff(app: App) -> None:
    seeded = seed_client(app, "alice")
    with unit_of_work(app.engine) as session:
        execute_deletion(session, app, seeded.client_id, actor="bot")
        result = apply_corrections(session, app, seeded.client_id, [("name", "Back")],
                                   actor="bot")
    assert result.applied == [] and result.needs_staff == [("name", "Back")]


# --------------------------------------------------------------------------- restriction


def test_restriction_and_opt_out_gate_non_essential_mail(app: App) -> None:
    seeded = seed_client(app, "alice")
    with unit_of_work(app.engine) as session:
        assert may_send_non_essential(session, app, "alice@example.com")
        assert may_send_non_essential(session, app, "stranger@example.net")
        assert restrict(session, app, seeded.client_id, actor="bot")
        assert not restrict(session, app, seeded.client_id, actor="bot")  # already
        assert not may_send_non_essential(session, app, "Alice@Example.com")
        assert lift_restriction(session, app, seeded.client_id, actor="bot")
        assert may_send_non_essential(session, app, "alice@example.com")
        assert set_marketing_opt_out(session, app, seeded.client_id, True, actor="bot")
        assert not may_send_non_essential(session, app, "alice.alt@example.org")
        session.flush()
        assert len(session.exec(select(models.Suppression)).all()) == 2
        assert set_marketing_opt_out(session, app, seeded.client_id, False, actor="bot")
        session.flush()
        assert may_send_non_essential(session, app, "alice@example.com")
        assert session.exec(select(models.Suppression)).all() == []
    with unit_of_work(app.engine) as session:
        actions = [e.action for e in session.exec(
            select(models.AuditLog).order_by(models.AuditLog.id)).all()]
    assert actions == ["restriction.set", "restriction.lifted", "marketing.opted_out",
                       "marketing.opted_in"]


def test_suppressed_address_stays_suppressed_when_it_reappears(app: App) -> None:
    seeded = seed_client(app, "alice")
    with unit_of_work(app.engine) as session:
        execute_deletion(session, app, seeded.client_id, actor="bot")
    fresh = seed_client(app, "carol")
    with unit_of_work(app.engine) as session:
        session.add(models.ClientEmail(client_id=fresh.client_id, address="alice@example.com"))
    with unit_of_work(app.engine) as session:
        assert not may_send_non_essential(session, app, "alice@example.com")
        assert may_send_non_essential(session, app, "carol@example.com")


def test_restrict_unknown_client(app: App) -> None:
    with pytest.raises(ClientNotFound), unit_of_work(app.engine) as session:
        restrict(session, app, 404, actor="bot")


# --------------------------------------------------------------------------- dates


def test_calendar_arithmetic(app: App) -> None:
    leap = app.clock.now().replace(year=2028, month=2, day=29)
    assert add_years(leap, 7).date().isoformat() == "2035-02-28"
    assert add_months(leap.replace(month=1, day=31), 25).date().isoformat() == "2030-02-28"
    assert add_months(leap, 24).date().isoformat() == "2030-02-28"
