"""The SMTP listener runs in a child process: it answers 451 when it cannot keep a message,
comes back when it dies, and lets go of the port when the daemon stops."""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
from collections.abc import Callable

import pytest

from bot.context import App
from tests.helpers import make_mail, outbox_messages, wait_until

BOT = "info@stelloloxonpro.com"


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail("jane@example.com", [BOT], raw)


def _to_sender(app: App) -> list:
    return [m for m in outbox_messages(app) if m["To"] == "jane@example.com"]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_unwritable_spool_answers_451_and_the_resend_is_answered(
    app: App, run_daemon: Callable
) -> None:
    with run_daemon(app) as daemon:
        spool = daemon.spool.directory
        shutil.rmtree(spool)
        spool.write_text("not a directory")  # the disk refuses: nothing can be kept
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(daemon.smtp_port, make_mail("Please send me my data", msgid="<r1@ex.com>"))
        assert refused.value.smtp_code == 451
        spool.unlink()
        spool.mkdir()
        _send(daemon.smtp_port, make_mail("Please send me my data", msgid="<r1@ex.com>"))
        replies = wait_until(lambda: _to_sender(app))
    assert [str(m["In-Reply-To"]) for m in replies] == ["<r1@ex.com>"]


def test_listener_that_dies_is_restarted_on_the_same_port(
    app: App, run_daemon: Callable
) -> None:
    with run_daemon(app) as daemon:
        port, child = daemon.smtp_port, daemon.smtp_listener._process
        os.kill(child.pid, signal.SIGKILL)
        wait_until(lambda: daemon.smtp_listener._process is not child and _listening(port))
        _send(port, make_mail("Please send me my data", msgid="<after@ex.com>"))
        replies = wait_until(lambda: _to_sender(app))
    assert str(replies[0]["In-Reply-To"]) == "<after@ex.com>"


def test_stopping_the_daemon_frees_the_port(app: App, run_daemon: Callable) -> None:
    with run_daemon(app) as daemon:
        port = daemon.smtp_port
        assert _listening(port)
    assert not _listening(port)
