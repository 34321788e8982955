"""Kill -9 the real daemon in the middle of a burst: after a restart every message that got a
250 is answered exactly once, and the ones that did not are answered once when resent."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from collections import Counter
from email import policy
from email.parser import BytesParser
from pathlib import Path

from tests.helpers import make_mail, wait_until
from tests.servers import free_port, wait_for_port

COUNT = 40


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STELLOLOXON_DATA_DIR": str(data_dir),
           "STELLOLOXON_SMTP_PORT": str(port), "STELLOLOXON_DEMO_DATA": "false",
           "STELLOLOXON_SCHEDULER_ENABLED": "false", "STELLOLOXON_DOWNLOAD_ENABLED": "false",
           "STELLOLOXON_DASHBOARD_ENABLED": "false",
           "STELLOLOXON_LOG_LEVEL": "WARNING", "STELLOLOXON_OUTBOX_POLL_SECONDS": "0.2"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for_port("127.0.0.1", port, timeout=30), "daemon did not start"
    return proc


def _send(port: int, n: int) -> bool:
    """True if the daemon answered 250 (it has the message)."""
    raw = make_mail("Where is my order? It is late.", sender=f"c{n}@example.com",
                    msgid=f"<crash-{n}@example.com>")
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.sendmail(f"c{n}@example.com", ["info@stelloloxonpro.com"], raw)
    except (OSError, smtplib.SMTPException):
        return False
    return True


def _acks(outbox: Path) -> Counter[str]:
    parser = BytesParser(policy=policy.default)
    seen: Counter[str] = Counter()
    for path in outbox.glob("*-ack.eml"):
        seen[str(parser.parsebytes(path.read_bytes())["In-Reply-To"])] += 1
    return seen


def test_kill_mid_burst_loses_nothing_and_answers_once(tmp_path: Path) -> None:
    port, outbox = free_port(), tmp_path / "var" / "outbox"
    proc = _start(tmp_path / "var", port)
    accepted, refused = [], []
    for n in range(COUNT):
        if n == COUNT // 2:
            proc.send_signal(signal.SIGKILL)  # no clean shutdown
            proc.wait()
        (accepted if _send(port, n) else refused).append(n)
    assert accepted and refused
    proc = _start(tmp_path / "var", port)
    try:
        for n in refused:  # what a sending MTA does with an unacknowledged message
            assert _send(port, n)
        wait_until(lambda: len(_acks(outbox)) == COUNT, timeout=60)
        time.sleep(1.0)  # nothing more should trickle in
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    acks = _acks(outbox)
    assert sorted(acks) == sorted(f"<crash-{n}@example.com>" for n in range(COUNT))
    assert set(acks.values()) == {1}
