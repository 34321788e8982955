"""Resident memory of the idle daemon and its SMTP child (run by hand; figures in the README).

Starts `python -m bot run` on a fresh data directory (SQLite, no IMAP, no Telegram), waits
until it listens, sends one message and waits for its reply, then reads VmRSS of the daemon and
of every child process from /proc.

Usage: .venv/bin/python bench/bench_rss.py
"""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import make_mail
from tests.servers import free_port, wait_for_port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "STELLOLOXON_DATA_DIR": f"{tmp}/var",
               "STELLOLOXON_SMTP_PORT": str(port), "STELLOLOXON_DEMO_DATA": "false",
               "STELLOLOXON_DOWNLOAD_ENABLED": "false", "STELLOLOXON_DASHBOARD_ENABLED": "false",
               "STELLOLOXON_LOG_LEVEL": "WARNING"}
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env)
        try:
            assert wait_for_port("127.0.0.1", port, timeout=60)
            with smtplib.SMTP("127.0.0.1", port) as smtp:
                smtp.sendmail("a@example.com", ["info@stelloloxonpro.com"],
                              make_mail("Please delete my data.", msgid="<rss@example.com>"))
            deadline = time.monotonic() + 30
            while not list(Path(tmp, "var", "outbox").glob("*-ack.eml")):
                assert time.monotonic() < deadline, "no reply"
                time.sleep(0.1)
            time.sleep(2)
            daemon = rss_mb(proc.pid)
            kids = {pid: rss_mb(pid) for pid in children(proc.pid)}
            print(f"daemon {daemon:.0f} MB; children "
                  + ", ".join(f"{mb:.0f} MB" for mb in kids.values())
                  + f"; total {daemon + sum(kids.values()):.0f} MB")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


if __name__ == "__main__":
    main()
