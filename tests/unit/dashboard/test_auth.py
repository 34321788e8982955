"""Staff accounts: hashed passwords, sessions that end, a login rate limit, every login audited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import cli
from bot.clock import FrozenClock
from bot.context import App
from bot.dashboard.auth import (
    LoginLimiter,
    StaffAccountError,
    add_staff,
    current_user,
    disable_staff,
    hash_password,
    log_in,
    log_out,
    set_password,
    verify_password,
)
from storage import models
from storage.db import unit_of_work

PASSWORD = "correct horse battery"


def _audits(app: App, action: str) -> list[models.AuditLog]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.AuditLog).where(models.AuditLog.action == action)))


def test_password_is_stored_as_a_scrypt_hash_only(app: App) -> None:
    add_staff(app, username="Anna", display_name="Anna Berg", password=PASSWORD)
    with unit_of_work(app.engine) as session:
        account = session.exec(select(models.StaffAccount)).one()
    assert account.username == "anna"
    assert PASSWORD not in account.password_hash
    assert account.password_hash.startswith("scrypt$")
    assert verify_password(PASSWORD, account.password_hash)
    assert not verify_password("wrong horse battery", account.password_hash)


def test_same_password_hashes_differently() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_short_password_and_duplicate_user_are_refused(app: App) -> None:
    with pytest.raises(StaffAccountError, match="at least 12"):
        add_staff(app, username="anna", display_name="", password="short")
    add_staff(app, username="anna", display_name="", password=PASSWORD)
    with pytest.raises(StaffAccountError, match="exists"):
        add_staff(app, username="ANNA", display_name="", password=PASSWORD)


def test_login_opens_a_session_that_logout_and_expiry_end(app: App, clock: FrozenClock) -> None:
    add_staff(app, username="anna", display_name="Anna Berg", password=PASSWORD)
    assert log_in(app, "anna", "nope nope nope") is None
    token = log_in(app, "anna", PASSWORD)
    assert token is not None
    user = current_user(app, token)
    assert user is not None and user.display_name == "Anna Berg"
    assert current_user(app, token + "x") is None
    log_out(app, token)
    assert current_user(app, token) is None
    second = log_in(app, "anna", PASSWORD)
    clock.advance(hours=app.settings.dashboard_session_hours, seconds=1)
    assert current_user(app, second) is None


def test_new_password_or_disabling_ends_open_sessions(app: App) -> None:
    add_staff(app, username="anna", display_name="", password=PASSWORD)
    token = log_in(app, "anna", PASSWORD)
    set_password(app, "anna", "another long password")
    assert current_user(app, token) is None
    assert log_in(app, "anna", PASSWORD) is None
    token = log_in(app, "anna", "another long password")
    assert current_user(app, token) is not None
    disable_staff(app, "anna")
    assert current_user(app, token) is None
    assert log_in(app, "anna", "another long password") is None
    with pytest.raises(StaffAccountError, match="no staff account bob"):
        disable_staff(app, "bob")


def test_every_login_is_audited_without_the_typed_name_of_unknown_users(app: App) -> None:
    add_staff(app, username="anna", display_name="", password=PASSWORD)
    log_in(app, "anna", PASSWORD)
    log_in(app, "anna", "wrong password here")
    log_in(app, "jane@example.com", PASSWORD)
    assert [a.actor for a in _audits(app, "dashboard.login")] == ["dashboard:anna"]
    failed = _audits(app, "dashboard.login_failed")
    assert [a.actor for a in failed] == ["dashboard:anna", "dashboard"]
    assert all("example.com" not in a.details for a in failed)
    assert json.loads(failed[1].details) == {"known_account": False}


def test_limiter_blocks_after_the_attempts_until_the_window_passes(clock: FrozenClock) -> None:
    limiter = LoginLimiter(3, timedelta(minutes=15))
    for _ in range(3):
        assert not limiter.blocked(["user:anna"], clock.now())
        limiter.failed(["user:anna", "ip:1"], clock.now())
    assert limiter.blocked(["user:anna"], clock.now())
    assert limiter.blocked(["user:bob", "ip:1"], clock.now())
    clock.advance(minutes=15, seconds=1)
    assert not limiter.blocked(["user:anna", "ip:1"], clock.now())


def test_cli_staff_add_prompts_for_the_password(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLOLOXON_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("STELLOLOXON_DEMO_DATA", "false")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["staff", "add", "anna", "--name", "Anna Berg"],
                                input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "staff account anna added" in result.output
    assert PASSWORD not in result.output
    listed = CliRunner().invoke(cli, ["staff", "list"])
    assert "Anna Berg" in listed.output
    again = CliRunner().invoke(cli, ["staff", "add", "anna"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 2 and "exists" in again.output
    new = "a different long password"
    changed = CliRunner().invoke(cli, ["staff", "password", "anna"], input=f"{new}\n{new}\n")
    assert changed.exit_code == 0 and "sessions ended" in changed.output
    disabled = CliRunner().invoke(cli, ["staff", "disable", "anna"])
    assert disabled.exit_code == 0 and "disabled" in disabled.output
