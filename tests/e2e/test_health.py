"""`stelloloxon-bot health` (the container HEALTHCHECK) against a running daemon: healthy while
it serves, unhealthy with a reason once it stopped or when its SMTP listener is gone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import cli
from bot.context import App
from bot.health import HEARTBEAT_FILE
from tests.servers import free_port


def _health(app: App, *args: str) -> tuple[int, str]:
    env = {"STELLOLOXON_DATA_DIR": str(app.settings.data_dir),
           "STELLOLOXON_DATABASE_URL": app.settings.database_url}
    result = CliRunner().invoke(cli, ["health", *args], env=env)
    return result.exit_code, result.output


def test_health_follows_the_daemon(make_app: Callable[..., App], run_daemon: Callable) -> None:
    app = make_app(smtp_enabled=True)
    with run_daemon(app) as daemon:
        code, output = _health(app)
        assert code == 0, output
        lines = output.splitlines()
        assert lines[0] == "ok   database: database schema is at 0001_baseline (this release's)"
        assert lines[1].startswith("ok   daemon: heartbeat 0 s ago")
        assert lines[2] == f"ok   smtp: 127.0.0.1:{daemon.smtp_port} answers"
    code, output = _health(app)
    assert code == 1
    assert "FAIL daemon: no heartbeat: is `stelloloxon-bot run` running?" in output


def test_a_stale_heartbeat_or_a_dead_listener_is_unhealthy(app: App, tmp_path: Path) -> None:
    beat = app.settings.data_dir / HEARTBEAT_FILE
    beat.write_text(json.dumps({"at": 0, "pid": 1,
                                "smtp": {"host": "0.0.0.0", "port": free_port()}}))
    code, output = _health(app)
    assert code == 1
    assert "FAIL daemon: stale: heartbeat" in output
    assert "FAIL smtp: 127.0.0.1:" in output and "does not answer" in output
