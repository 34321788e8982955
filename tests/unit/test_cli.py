"""The command line: clear one-line errors for bad configuration, and the case listings."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import cli
from tests.helpers import make_mail
from tests.servers import free_port


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STELLOLOXON_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("STELLOLOXON_DEMO_DATA", "false")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_bad_database_url_is_one_clear_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLOLOXON_DATABASE_URL", "not a url")
    code, output = _run("requests")
    assert code == 2
    assert output.strip().startswith("error: bad database URL")
    assert len(output.strip().splitlines()) == 1


def test_unreachable_database_is_one_clear_line(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STELLOLOXON_DATABASE_URL",
                       f"postgresql+psycopg://u:hunter2@127.0.0.1:{free_port()}/db")
    code, output = _run("requests")
    assert code == 2
    assert "cannot connect to database" in output
    assert "hunter2" not in output


def test_unreachable_imap_is_one_clear_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLOLOXON_IMAP_HOST", "127.0.0.1")
    monkeypatch.setenv("STELLOLOXON_IMAP_PORT", str(free_port()))
    monkeypatch.setenv("STELLOLOXON_IMAP_SSL", "false")
    monkeypatch.setenv("STELLOLOXON_IMAP_USER", "bot")
    monkeypatch.setenv("STELLOLOXON_IMAP_PASSWORD", "pw")
    code, output = _run("run")
    assert code == 2
    assert output.strip().startswith("error: cannot use IMAP mailbox INBOX on 127.0.0.1")


def test_smtp_port_in_use_is_one_clear_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("STELLOLOXON_SMTP_PORT", str(port))
        monkeypatch.setenv("STELLOLOXON_SCHEDULER_ENABLED", "false")
        monkeypatch.setenv("STELLOLOXON_DOWNLOAD_ENABLED", "false")
        code, output = _run("run")  # returns: the daemon does not wait for a listener forever
    assert code == 2
    assert output.strip() == (f"error: cannot listen for SMTP on 127.0.0.1:{port}: "
                              "Address already in use")


def test_dashboard_port_in_use_is_one_clear_line(env: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("STELLOLOXON_SMTP_PORT", "0")
        monkeypatch.setenv("STELLOLOXON_DASHBOARD_PORT", str(port))
        monkeypatch.setenv("STELLOLOXON_SCHEDULER_ENABLED", "false")
        monkeypatch.setenv("STELLOLOXON_DOWNLOAD_ENABLED", "false")
        code, output = _run("run")
    assert code == 2
    assert output.strip() == (f"error: cannot serve the dashboard on 127.0.0.1:{port}: "
                              "Address already in use")


def test_bad_setting_value_is_named(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLOLOXON_SMTP_PORT", "twenty-five")
    code, output = _run("requests")
    assert code == 2
    assert "smtp_port" in output


def test_requests_lists_open_case_with_days_left_and_show_details(env: Path) -> None:
    mail = env / "request.eml"
    mail.write_bytes(make_mail("Please send me a copy of all my data."))
    code, output = _run("inject", str(mail))
    assert code == 0, output
    assert "processed" in output
    code, output = _run("requests")
    assert code == 0
    assert "SP-REQ-000001" in output and "access" in output and "30" in output
    code, output = _run("show", "sp-req-000001")
    assert code == 0
    assert "What was understood" in output and "en.access." in output
    assert "case.opened" in output and "outbox #1" in output and "Audit trail" in output
    code, output = _run("show", "sp-req-000001", "--json")
    record = json.loads(output)
    assert record["rights"] == ["access"] and record["days_left"] == 30
    first = record["outbound"][0]
    assert (first["purpose"], first["to"]) == ("ack", "jane@example.com")
    [inbound] = record["inbound"]  # the stored authentication verdict
    assert (inbound["from"], inbound["status"], inbound["sender_verdict"]) == (
        "jane@example.com", "processed", "none: no DKIM signature")
    assert (env / "var" / "outbox" / "00000001-ack.eml").exists()


def test_staff_commands_from_the_shell(env: Path) -> None:
    mail = env / "complaint.eml"
    mail.write_bytes(make_mail("I want to complain to the authority about you.",
                               subject="Complaint"))
    assert _run("inject", str(mail))[0] == 0
    code, output = _run("extend", "SP-REQ-000001", "10", "we need the accountant's records")
    assert code == 0, output
    from datetime import UTC, datetime, timedelta

    due = (datetime.now(UTC) + timedelta(days=40)).strftime("%Y-%m-%d")
    assert f"extended; now due {due}" in output
    code, output = _run("deny", "SP-REQ-000001", "this is not a request we can act on")
    assert code == 0 and "request denied" in output
    code, output = _run("approve", "SP-REQ-000099")
    assert code == 2 and "no case SP-REQ-000099" in output
    code, output = _run("show", "SP-REQ-000001", "--json")
    record = json.loads(output)
    assert ("cli", "staff.command") in {(e["actor"], e["action"]) for e in record["audit"]}
    assert record["status"] == "closed" and record["days_left"] is None


def test_closed_cases_show_when_they_closed_not_days_left(env: Path) -> None:
    mail = env / "optout.eml"
    mail.write_bytes(make_mail("Please stop sending me newsletters and marketing emails."))
    assert _run("inject", str(mail))[0] == 0
    code, output = _run("requests", "--closed")
    assert code == 0, output
    [row] = [line for line in output.splitlines() if "SP-REQ-000001" in line]
    assert "closed 20" in row and not row.rstrip(" │").endswith(("30", "29"))
    assert _run("requests")[1].strip() == "no open cases"
    assert _run("requests", "--overdue", "--closed")[1].strip() == "no cases"


def test_version_and_help_without_type_labels_on_flags(env: Path) -> None:
    code, output = _run("--version")
    assert code == 0 and output.startswith("stelloloxon-bot ")
    assert output.split()[1][0].isdigit()
    for command in ([], ["requests"], ["retention"], ["notify-policy-change"]):
        code, output = _run(*command, "--help")
        assert code == 0, output
        assert "<bool>" not in output, command
    assert "--no-closed" not in _run("requests", "--help")[1]


def test_notify_policy_change_says_who_sends_the_mail(env: Path) -> None:
    code, output = _run("demo")
    assert code == 0, output
    code, output = _run("notify-policy-change")
    assert code == 0, output
    assert "3 notices queued" in output
    assert "Nothing is sent by this command" in output and "deliver" in output
    assert "stelloloxon-bot run" in output


def test_long_work_shows_a_progress_bar_on_a_terminal(env: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from bot import cli as cli_module

    screen = io.StringIO()
    monkeypatch.setattr(cli_module, "_console",
                        lambda: Console(file=screen, force_terminal=True, width=120))
    assert _run("demo")[0] == 0
    assert _run("notify-policy-change")[0] == 0
    assert "queueing notices" in screen.getvalue() and "100%" in screen.getvalue()
    screen.seek(0)
    screen.truncate()
    assert _run("retention", "--dry-run")[0] == 0
    assert "contact_information/client" in screen.getvalue()  # a bar per rule, while it runs


def test_eval_understanding_reports_every_item(env: Path) -> None:
    folder = env / "labelled"
    folder.mkdir()
    (folder / "set.jsonl").write_text(
        json.dumps({"id": "a", "lang": "en", "intents": ["deletion"],
                    "text": "Please delete my account and all my data."}) + "\n", "utf-8")
    code, output = _run("eval-understanding", str(folder))
    assert code == 0 and output.startswith("items: 1 ")
    assert "privacy recall 1.000 (1/1)" in output
    assert _run("eval-understanding", str(env / "empty"))[0] == 2
