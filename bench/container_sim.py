"""The container image without a container engine (run by hand, as root; 1-3 minutes).

What the fixed Dockerfile does, step by step, on this machine:
  1. build the wheel (the build stage) and install it, non-editable, into a fresh venv
     (the runtime stage; dependencies come from the package index);
  2. make the data directory owned by uid 10001 (the image's `bot`) with mode 0750, as the
     Dockerfile does before VOLUME /data;
  3. run `stelloloxon-bot run` as uid/gid 10001 (setpriv) with the Dockerfile's ENV, send it a
     mail, and check that it wrote its database and a reply into the data directory and that
     `stelloloxon-bot health` (the HEALTHCHECK) passes, then fails once the daemon stopped;
  4. the bug the fix removes: the same run on a root-owned data directory (what an engine
     makes for a VOLUME declared without the directory) fails at once with one clear line.

Not simulated: the base image's own Python (this uses Debian's /usr/bin/python3 3.11), the engine's
volume initialisation, and the image's network.

Usage: python3 bench/container_sim.py [--venv DIR]   (--venv: install there once, reuse after)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"
UID = GID = 10001  # the Dockerfile's `useradd --uid 10001 --user-group bot`
IMAGE_ENV = {"STELLOLOXON_DATA_DIR": "/data", "STELLOLOXON_SMTP_HOST": "0.0.0.0",
             "STELLOLOXON_DEMO_DATA": "false", "PYTHONUNBUFFERED": "1"}


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def install(root: Path, venv: Path) -> Path:
    """The wheel into the venv; a reused venv keeps its dependencies, gets the new wheel."""
    wheels = root / "wheels"
    subprocess.run([str(REPO / ".venv/bin/pip"), "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(REPO)], check=True, cwd=root)
    shutil.rmtree(REPO / "build", ignore_errors=True)  # setuptools' scratch directory
    reuse = (venv / "bin" / "pip").exists()
    if not reuse:  # the system Python: uid 10001 cannot reach a per-user Python
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(venv)], check=True)
    extra = ["--no-deps", "--force-reinstall"] if reuse else []
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--no-cache-dir", *extra,
                    *map(str, wheels.glob("*.whl"))], check=True)
    return venv / "bin" / "stelloloxon-bot"


def data_dir(root: Path, name: str, owner: tuple[int, int]) -> Path:
    path = root / name
    path.mkdir(mode=0o750)
    os.chown(path, *owner)
    return path


def as_bot(argv: list[str], data: Path, ports: dict[str, int]) -> list[str]:
    return ["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups", "env", "-i",
            *(f"{k}={v}" for k, v in image_env(data, ports).items()), *argv]


def image_env(data: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {**IMAGE_ENV, "STELLOLOXON_DATA_DIR": str(data), "HOME": str(data),
           "PATH": "/usr/bin:/bin"}
    env.update({f"STELLOLOXON_{k.upper()}_PORT": str(v) for k, v in ports.items()})
    return env


def wait_healthy(bot: Path, data: Path, ports: dict[str, int], daemon: subprocess.Popen[bytes],
                 timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"FAIL: the daemon exited with {daemon.returncode}")
        out = subprocess.run(as_bot([str(bot), "health"], data, ports), capture_output=True,
                             text=True, cwd=data)
        if out.returncode == 0:
            return out.stdout
        time.sleep(1)
    raise SystemExit(f"FAIL: not healthy within {timeout} s:\n{out.stdout}{out.stderr}")


def send_mail(port: int) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"] = "jane@example.com", "info@stelloloxonpro.com"
    msg["Subject"], msg["Message-ID"] = "Privacy request", "<sim-1@example.com>"
    msg.set_content("Please send me a copy of all my data.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


def wait_for_reply(outbox: Path, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = sorted(outbox.glob("*.eml"))
        if replies:
            return replies[0]
        time.sleep(0.5)
    raise SystemExit("FAIL: no reply written into the outbox")


def owned_by_bot(path: Path) -> bool:
    stat = path.stat()
    return (stat.st_uid, stat.st_gid) == (UID, GID)


def run_fixed(bot: Path, root: Path) -> None:
    data = data_dir(root, "data", (UID, GID))
    ports = {"smtp": free_port(), "dashboard": free_port(), "download": free_port()}
    daemon = subprocess.Popen(as_bot([str(bot), "run"], data, ports), cwd=data,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        step("health while running:\n" + wait_healthy(bot, data, ports, daemon).rstrip())
        send_mail(ports["smtp"])
        reply = wait_for_reply(data / "outbox")
        database = data / "stelloloxon.db"
        assert owned_by_bot(database), "database not owned by the bot user"
        assert owned_by_bot(reply), "reply not owned by the bot user"
        step(f"database {database.name} and reply {reply.name} written by uid {UID}")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(30)
    step(f"daemon stopped with exit code {code}")
    after = subprocess.run(as_bot([str(bot), "health"], data, ports), capture_output=True,
                           text=True, cwd=data)
    assert after.returncode == 1 and "no heartbeat" in after.stdout, after.stdout
    step("health after stop: exit 1, " + after.stdout.splitlines()[1])


def run_root_owned(bot: Path, root: Path) -> None:
    data = data_dir(root, "data-root-owned", (0, 0))
    data.chmod(0o755)
    ports = {"smtp": free_port(), "dashboard": free_port(), "download": free_port()}
    out = subprocess.run(as_bot([str(bot), "run"], data, ports), capture_output=True, text=True,
                         cwd=data, timeout=60)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    step(f"root-owned data dir (the old image): exit 2, {out.stderr.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, help="install into (and reuse) this venv")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the daemon runs as uid 10001 through setpriv")
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="container-sim-", dir="/tmp"))
    root.chmod(0o755)
    try:
        step("building the wheel and installing it into a fresh venv")
        bot = install(root, args.venv.resolve() if args.venv else root / "venv")
        step(f"installed: {bot}")
        run_fixed(bot, root)
        run_root_owned(bot, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    step(f"PASS in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
