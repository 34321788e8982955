"""`stelloloxon-bot config check`: what an operator reads before a deployment — each setting's
value and source, no secret in clear, and what production would refuse (exit 1 in production)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import cli
from bot.config import Settings

SECRETS = {"STELLOLOXON_IMAP_PASSWORD": "imap-pass-7781",
           "STELLOLOXON_TELEGRAM_TOKEN": "123456:tg-token-9912",
           "STELLOLOXON_SUPPRESSION_KEY": "hmac-key-3341-very-real",
           "STELLOLOXON_DATABASE_URL": "postgresql+psycopg://bot:db-pass-5521@db:5432/bot"}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in Settings.model_fields:  # the machine's own environment must not leak in
        monkeypatch.delenv(f"STELLOLOXON_{name.upper()}", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _check(env: dict[str, str]) -> tuple[int, dict[str, tuple[str, str]], str]:
    result = CliRunner().invoke(cli, ["config", "check"], env=env)
    rows = {}
    for line in result.output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[0] in Settings.model_fields:
            rows[cells[0]] = (cells[1], cells[2])
    return result.exit_code, rows, result.output


def test_every_setting_with_its_source_and_secrets_masked(workdir: Path) -> None:
    (workdir / "stelloloxon.env").write_text("STELLOLOXON_COMPANY_NAME=Acme Prints\n"
                                             "STELLOLOXON_SMTP_PORT=2626\n")
    (workdir / ".env").write_text("STELLOLOXON_SMTP_PORT=2727\n")  # the later file wins
    code, rows, output = _check({**SECRETS, "STELLOLOXON_RESPONSE_DAYS": "20"})

    assert code == 0  # development: production's refusals are listed, not enforced
    assert set(rows) == set(Settings.model_fields)
    assert rows["response_days"] == ("20", "env")
    assert rows["company_name"] == ("Acme Prints", "file stelloloxon.env")
    assert rows["smtp_port"] == ("2727", "file .env")
    assert rows["case_prefix"] == ("SP-REQ", "default")
    assert rows["imap_password"] == ("********", "env")
    assert rows["telegram_token"] == ("********", "env")
    assert rows["suppression_key"] == ("********", "env")
    assert rows["relay_password"] == ("unset", "default")
    assert rows["database_url"] == ("postgresql+psycopg://bot:***@db:5432/bot", "env")
    for clear in ("imap-pass-7781", "tg-token-9912", "hmac-key-3341", "db-pass-5521"):
        assert clear not in output
    assert "production would refuse to start:" in output
    assert "production needs relay_host" in output


def test_production_with_refusals_exits_non_zero_listing_all_of_them(workdir: Path) -> None:
    code, rows, output = _check({"STELLOLOXON_ENVIRONMENT": "production",
                                 "STELLOLOXON_RELAY_PASSWORD": "changeme"})
    assert code == 1
    assert rows["environment"] == ("production", "env")
    assert "production needs suppression_key set to a real secret" in output
    assert "relay_password is a placeholder" in output
    assert "production needs relay_host" in output


def test_production_that_would_start_exits_zero(workdir: Path) -> None:
    code, _, output = _check({"STELLOLOXON_ENVIRONMENT": "production",
                              "STELLOLOXON_RELAY_HOST": "relay.example",
                              "STELLOLOXON_SUPPRESSION_KEY": "hmac-key-3341-very-real"})
    assert code == 0
    assert "environment production: production would start with this configuration" in output


def test_a_bad_value_is_one_clear_line(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["config", "check"], env={"STELLOLOXON_SMTP_PORT": "x"})
    assert result.exit_code == 2
    assert result.output.startswith("error: bad setting smtp_port")
