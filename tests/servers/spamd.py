"""A private SpamAssassin spamd on 127.0.0.1 for tests (Debian packages spamassassin + spamd).

Runs in the foreground as a child of the test process (no network tests: ``--local``), with
its helper home in a temporary directory; stopped with SIGTERM to that child only.

    with SpamdServer() as spamd:
        ask_spamd(raw, spamd.host, spamd.port)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import ServerError, free_port, tail, wait_for_port

__all__ = ["GTUBE", "SpamdServer", "spamd_binary"]

# SpamAssassin's own test string: any message carrying it scores 1000.
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def spamd_binary() -> str | None:
    found = shutil.which("spamd")
    if found:
        return found
    return "/usr/sbin/spamd" if os.access("/usr/sbin/spamd", os.X_OK) else None


class SpamdServer:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.directory: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SpamdServer:
        binary = spamd_binary()
        if binary is None:
            raise ServerError("spamd not installed")
        self.directory = Path(tempfile.mkdtemp(prefix="spamd-"))
        self.directory.chmod(0o755)
        self.port = free_port()
        log = self.directory / "spamd.log"
        command = [binary, f"--listen={self.host}:{self.port}", "--allowed-ips=127.0.0.1",
                   "--local", "--max-children=2", "--min-children=1", "-H", str(self.directory),
                   "--syslog=stderr"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        process = self.process
        if not wait_for_port(self.host, self.port, 60, alive=lambda: process.poll() is None):
            self.stop()
            raise ServerError(f"spamd did not start:\n{tail(log)}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> SpamdServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
