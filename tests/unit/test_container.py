"""The container files, checked without a container engine (none runs here): the Dockerfile's
user, volume and healthcheck rules, and compose.yaml the way `docker compose config` would see
it, down to the bot's settings passing production's checks. bench/container_sim.py goes
further (wheel, fresh venv, run as the image's uid); README "Running in containers" says so.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from typer.testing import CliRunner

from bot.cli import cli
from bot.config import REPO_ROOT, Settings, production_problems
from tests.servers import free_port, is_root, wait_for_port
from tests.servers.dovecot import dovecot_binary
from tests.servers.fixtures import require_dovecot

DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE = REPO_ROOT / "compose.yaml"
DOVECOT_CONF = REPO_ROOT / "deploy" / "dovecot" / "dovecot.conf"
INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")
DOT_ENV = {"POSTGRES_PASSWORD": "pg-5521", "IMAP_PASSWORD": "imap-7781",
           "STELLOLOXON_SUPPRESSION_KEY": "hmac-3341-a-real-key"}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), " ".join(rest.split())))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def _arg_default(name: str) -> str:
    for word, rest in instructions(DOCKERFILE.read_text()):
        if word == "ARG" and rest.startswith(f"{name}="):
            return rest.partition("=")[2]
    raise AssertionError(f"no ARG {name}")


def test_base_image_is_pinned_by_a_full_version_tag() -> None:
    image = _arg_default("PYTHON_IMAGE")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", image), image
    froms = [rest for word, rest in instructions(DOCKERFILE.read_text()) if word == "FROM"]
    assert all(rest.startswith("${PYTHON_IMAGE}") for rest in froms)


def test_data_volume_is_made_for_the_unprivileged_user_before_it_is_declared() -> None:
    steps = final_stage()
    words = [word for word, _ in steps]
    user = next(rest for word, rest in steps if word == "USER")
    assert user not in {"root", "0"}
    made = next(i for i, (word, rest) in enumerate(steps)
                if word == "RUN" and "mkdir -p /data" in rest)
    assert f"chown {user}:{user} /data" in steps[made][1]
    assert "useradd" in steps[made][1] and user in steps[made][1]
    volume = words.index("VOLUME")
    assert steps[volume][1] == '["/data"]' and made < volume
    assert words.index("USER") < words.index("CMD")
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "STELLOLOXON_DATA_DIR=/data" in env and "STELLOLOXON_SMTP_HOST=0.0.0.0" in env


def test_package_is_installed_from_a_wheel_not_editable() -> None:
    runs = " ".join(rest for word, rest in final_stage() if word == "RUN")
    assert "pip install --no-cache-dir /wheels/*.whl" in runs
    assert " -e " not in runs and "--editable" not in runs
    copied = {rest.split()[0] for word, rest in instructions(DOCKERFILE.read_text())
              if word == "COPY" and not rest.startswith("--from")}
    assert {"pyproject.toml", "bot", "storage", "templates"} <= copied
    for path in copied:
        assert (REPO_ROOT / path).exists(), path
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert not {"bot", "storage", "templates", "README.md", "pyproject.toml"} & set(ignored)


def test_healthcheck_runs_the_health_command_the_cli_has() -> None:
    health = next(rest for word, rest in final_stage() if word == "HEALTHCHECK")
    assert health.endswith('CMD ["stelloloxon-bot", "health"]')
    result = CliRunner().invoke(cli, ["health", "--help"])
    assert result.exit_code == 0 and "heartbeat" in result.output


# --------------------------------------------------------------------------- compose.yaml


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} on every string."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.groups()
        if env.get(name):
            return env[name]
        if op and op.endswith("?"):
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return INTERPOLATION.sub(one, value)


def compose(env: dict[str, str]) -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    return interpolate(loaded, env)  # type: ignore[no-any-return]


def test_compose_needs_the_secrets_from_dot_env() -> None:
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        compose({})


def test_compose_runs_the_bot_on_postgresql_and_dovecot_after_db_upgrade() -> None:
    services = compose(DOT_ENV)["services"]
    assert {"postgres", "dovecot", "migrate", "bot"} <= set(services)
    bot, migrate = services["bot"], services["migrate"]
    assert migrate["command"] == ["stelloloxon-bot", "db", "upgrade"]
    assert migrate["environment"] == bot["environment"]
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["depends_on"]["dovecot"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("postgres", "dovecot", "bot"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    assert bot["healthcheck"]["test"] == ["CMD", "stelloloxon-bot", "health"]
    assert "botdata:/data" in bot["volumes"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    env = bot["environment"]
    assert env["STELLOLOXON_DATABASE_URL"] == "postgresql+psycopg://bot:pg-5521@postgres:5432/bot"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pg-5521"
    assert env["STELLOLOXON_IMAP_HOST"] == "dovecot"
    assert env["STELLOLOXON_IMAP_PASSWORD"] == services["dovecot"]["environment"]["IMAP_PASSWORD"]


def test_compose_settings_pass_production_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    env = compose(DOT_ENV)["services"]["bot"]["environment"]
    for name in Settings.model_fields:
        monkeypatch.delenv(f"STELLOLOXON_{name.upper()}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "production"
    assert production_problems(settings) == []
    assert (settings.imap_port, settings.imap_ssl, settings.relay_host) == (143, False, "mailpit")


def test_dovecot_image_and_config_are_consistent() -> None:
    services = compose(DOT_ENV)["services"]
    context = REPO_ROOT / services["dovecot"]["build"]
    assert (context / "Dockerfile").is_file() and (context / "dovecot.conf").is_file()
    assert "port = 143" in DOVECOT_CONF.read_text()
    assert services["dovecot"]["volumes"] == ["mail:/srv/mail"]


def _local_dovecot_conf(directory: Path, port: int) -> str:
    """The compose config with its paths and port moved into a test directory."""
    return (DOVECOT_CONF.read_text()
            .replace("/srv/mail", f"{directory}/mail")
            .replace("listen = *", f"listen = 127.0.0.1\nbase_dir = {directory}/run\n"
                                   f"state_dir = {directory}/run")
            .replace("log_path = /dev/stderr", f"log_path = {directory}/dovecot.log")
            .replace("port = 143", f"port = {port}"))


@pytest.mark.dovecot
def test_compose_dovecot_config_logs_the_bot_in_with_imap_password() -> None:
    """The real Dovecot with deploy/dovecot/dovecot.conf: the bot's user and IMAP_PASSWORD
    log in and see an INBOX; a wrong password does not."""
    require_dovecot()
    if not is_root():
        pytest.skip("the mail directory must be chowned to the dovecot user (needs root)")
    with tempfile.TemporaryDirectory(prefix="compose-dovecot-", dir="/tmp") as tmp:
        _login_through_compose_config(Path(tmp))  # pytest's tmp_path is closed to dovecot


def _login_through_compose_config(tmp_path: Path) -> None:
    binary = dovecot_binary()
    assert binary is not None
    tmp_path.chmod(0o755)
    (tmp_path / "run").mkdir(mode=0o755)
    (tmp_path / "mail").mkdir()
    shutil.chown(tmp_path / "mail", "dovecot", "dovecot")
    port = free_port()
    conf = tmp_path / "dovecot.conf"
    conf.write_text(_local_dovecot_conf(tmp_path, port))
    subprocess.run([binary, "-c", str(conf)], check=True, env={"IMAP_PASSWORD": "imap-7781"})
    try:
        assert wait_for_port("127.0.0.1", port)
        with IMAPClient("127.0.0.1", port=port, ssl=False) as client:
            client.login("info@stelloloxonpro.com", "imap-7781")
            assert client.select_folder("INBOX")[b"EXISTS"] == 0
        with IMAPClient("127.0.0.1", port=port, ssl=False) as client, pytest.raises(
                LoginError):
            client.login("info@stelloloxonpro.com", "wrong")
    finally:
        os.kill(int((tmp_path / "run" / "master.pid").read_text()), signal.SIGTERM)
