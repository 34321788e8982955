"""Two real daemons on one real PostgreSQL (one of them with a second handling process):
a burst sent through both is answered exactly once per message; kill -9 the leader in the
middle and the other daemon takes over the outbox, the IMAP watcher and the scheduler, and
nothing is lost or answered twice."""

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
from tests.servers.dovecot import DovecotServer

COUNT = 120


class Bot:
    """One daemon process; its own data dir (spool), the shared database and outbox."""

    def __init__(self, name: str, root: Path, env: dict[str, str], workers: int) -> None:
        self.name, self.port, self.workers = name, free_port(), workers
        self.log = root / f"{name}.log"
        self.env = {**env, "STELLOLOXON_DATA_DIR": str(root / name),
                    "STELLOLOXON_SMTP_PORT": str(self.port)}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Bot:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--workers", str(self.workers)],
                env=self.env, stdout=subprocess.DEVNULL, stderr=log)
        assert wait_for_port("127.0.0.1", self.port, timeout=60), self.log.read_text()
        return self

    def said(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


def _send(port: int, n: int) -> bool:
    raw = make_mail("Please delete all my data.", sender=f"s{n}@example.com",
                    msgid=f"<scale-{n}@example.com>")
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail(f"s{n}@example.com", ["info@stelloloxonpro.com"], raw)
    except (OSError, smtplib.SMTPException):
        return False
    return True


def _acks(outbox: Path) -> Counter[str]:
    parser = BytesParser(policy=policy.default)
    seen: Counter[str] = Counter()
    for path in outbox.glob("*-ack.eml"):
        seen[str(parser.parsebytes(path.read_bytes())["In-Reply-To"])] += 1
    return seen


def test_two_daemons_one_postgres_answer_once_and_take_over(
    tmp_path: Path, postgres_url: str, dovecot: DovecotServer, imap_user: str
) -> None:
    outbox = tmp_path / "outbox"
    env = {**os.environ, "STELLOLOXON_DATABASE_URL": postgres_url,
           "STELLOLOXON_OUTBOX_DIR": str(outbox), "STELLOLOXON_DEMO_DATA": "false",
           "STELLOLOXON_SCHEDULER_ENABLED": "true", "STELLOLOXON_DOWNLOAD_ENABLED": "false",
           "STELLOLOXON_DASHBOARD_ENABLED": "false", "STELLOLOXON_LOG_LEVEL": "INFO",
           "STELLOLOXON_OUTBOX_POLL_SECONDS": "0.2", "STELLOLOXON_REPLY_RATE_LIMIT": "1000",
           "STELLOLOXON_IMAP_HOST": dovecot.host, "STELLOLOXON_IMAP_PORT": str(dovecot.port),
           "STELLOLOXON_IMAP_SSL": "false", "STELLOLOXON_IMAP_USER": imap_user,
           "STELLOLOXON_IMAP_PASSWORD": dovecot.password,
           "STELLOLOXON_IMAP_POLL_SECONDS": "0.5"}
    first = Bot("first", tmp_path, env, workers=2).start()
    wait_until(lambda: first.said("scheduler started"), timeout=30)
    second = Bot("second", tmp_path, env, workers=1).start()
    try:
        refused = []
        for n in range(COUNT):
            if n == COUNT // 2:
                first.kill()  # the leader, mid-burst, with its worker process
            bot = (first, second)[n % 2]
            if not _send(bot.port, n):
                refused.append(n)
        assert refused, "the killed daemon should have refused some mail"
        for n in refused:  # a sending MTA tries the other MX
            assert _send(second.port, n)
        # the survivor runs the singletons now: the mailbox is watched, the scheduler runs
        wait_until(lambda: second.said("took over the lead"), timeout=30)
        wait_until(lambda: second.said("scheduler started"), timeout=30)
        dovecot.deliver(imap_user, make_mail("Please send me a copy of my data.",
                                             sender="imap@example.com",
                                             msgid="<scale-imap@example.com>"))
        wait_until(lambda: "<scale-imap@example.com>" in _acks(outbox), timeout=60)
        # what the dead one had accepted but not yet stored waits in its spool
        first.start()
        expected = {f"<scale-{n}@example.com>" for n in range(COUNT)} | {
            "<scale-imap@example.com>"}
        wait_until(lambda: set(_acks(outbox)) == expected, timeout=120)
        time.sleep(2.0)  # nothing more should trickle in
        assert not first.said("took over the lead")  # it came back as a follower
    finally:
        second.stop()
        first.stop()
    acks = _acks(outbox)
    assert set(acks) == expected
    assert set(acks.values()) == {1}
