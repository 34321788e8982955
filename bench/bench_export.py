"""Benchmark the data export (run by hand; results go in the README).

Creates a client with N model files of M MB (2 GB by default) in a temp file store under /tmp,
exports them with a password (AES-256) in a fresh child process, and compares peak RSS and wall
time against `zip -0` on the same files. Targets: peak RSS <= 150 MB, time <= 1.5x zip -0.
Everything under the temp directory is deleted at the end.

Usage: .venv/bin/python bench/bench_export.py [--files 20] [--mb 100] [--runs 2] [--plain]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings
from bot.context import App, bootstrap
from storage import models
from storage.db import unit_of_work

MB = 1024 * 1024
PEAK_RSS_TARGET_MB = 150
TIME_RATIO_TARGET = 1.5


def _settings(tmp: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp / "var", demo_data=False,  # type: ignore[call-arg]
                    log_level="WARNING")


def _chunks(total_mb: int, seed: int) -> Iterator[bytes]:
    """Incompressible-looking bytes, generated 1 MB at a time (never the whole file)."""
    block = bytearray(os.urandom(MB))
    for n in range(total_mb):
        block[:8] = (seed * 100_000 + n).to_bytes(8, "little")
        yield bytes(block)


def seed(app: App, files: int, mb: int) -> tuple[int, list[Path]]:
    now = app.clock.now()
    with unit_of_work(app.engine) as session:
        client = models.Client(name="Bench Client", created_at=now, last_active_at=now)
        session.add(client)
        session.flush()
        project = models.Project(reference="SP-BENCH-0001", client_id=client.id, title="Bench",
                                 status="completed", created_at=now, updated_at=now,
                                 completed_at=now - timedelta(days=1))
        session.add(project)
        session.flush()
        paths = []
        for n in range(files):
            stored = app.files.put_stream(_chunks(mb, n))
            paths.append(app.files.path(stored.key))
            session.add(models.ModelFile(client_id=client.id, project_id=project.id,
                                         filename=f"part-{n:02d}.stl", size=stored.size,
                                         sha256=stored.sha256, storage_key=stored.key,
                                         uploaded_at=now))
        assert client.id is not None
        return client.id, paths


class RssSampler(threading.Thread):
    """Samples this process's resident set size from /proc every 10 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/statm") as statm:
            while not self.stop.is_set():
                statm.seek(0)
                self.peak = max(self.peak, int(statm.read().split()[1]) * page)
                time.sleep(0.01)


def child(tmp: Path, client_id: int, dest: Path, password: str | None) -> None:
    """Runs in a fresh interpreter: one export, then its figures as JSON on stdout."""
    from bot.rights.export import build_export

    app = bootstrap(_settings(tmp))
    sampler = RssSampler()
    sampler.start()
    start = time.perf_counter()
    with unit_of_work(app.engine) as session:
        result = build_export(session, app, client_id, dest, password=password)
    elapsed = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": elapsed, "peak_rss": max(maxrss, sampler.peak),
                      "size": result.size}))


def run_export(tmp: Path, client_id: int, dest: Path, password: str | None) -> dict:
    args = [sys.executable, __file__, "--child", str(tmp), str(client_id), str(dest)]
    if password:
        args.append(password)
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    dest.unlink()
    return json.loads(out.strip().splitlines()[-1])


def run_zip(paths: list[Path], dest: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["zip", "-0", "-q", "-j", str(dest), *map(str, paths)], check=True)
    elapsed = time.perf_counter() - start
    dest.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--plain", action="store_true", help="no password (no AES)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tmp, client_id, dest, *password = args.child
        child(Path(tmp), int(client_id), Path(dest), password[0] if password else None)
        return
    if shutil.which("zip") is None:
        sys.exit("zip not found: apt-get install zip")

    tmp = Path(tempfile.mkdtemp(prefix="bench-export-", dir="/tmp"))
    try:
        app = bootstrap(_settings(tmp))
        t0 = time.perf_counter()
        client_id, paths = seed(app, args.files, args.mb)
        print(f"seeded {args.files} x {args.mb} MB in {time.perf_counter() - t0:.1f} s")
        password = None if args.plain else "bench-Password-1234567890"
        zips, exports = [], []
        for _ in range(args.runs):  # interleaved, so both see the same page cache
            zips.append(run_zip(paths, tmp / "zip0.zip"))
            exports.append(run_export(tmp, client_id, tmp / "export.zip", password))
        report(zips, exports, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(zips: list[float], exports: list[dict], args: argparse.Namespace) -> None:
    zip_best = min(zips)
    best = min(exports, key=lambda e: e["seconds"])
    peak_mb = max(e["peak_rss"] for e in exports) / MB
    ratio = best["seconds"] / zip_best
    total_mb = args.files * args.mb
    mode = "plain" if args.plain else "AES-256"
    print(f"zip -0:        {zip_best:6.2f} s  ({total_mb / zip_best:6.0f} MB/s) runs={zips}")
    print(f"export {mode}: {best['seconds']:6.2f} s  ({total_mb / best['seconds']:6.0f} MB/s) "
          f"runs={[round(e['seconds'], 2) for e in exports]}")
    print(f"time ratio:    {ratio:.2f}x  (target <= {TIME_RATIO_TARGET}x) "
          f"{'OK' if ratio <= TIME_RATIO_TARGET else 'MISSED'}")
    print(f"peak RSS:      {peak_mb:.0f} MB (target <= {PEAK_RSS_TARGET_MB} MB) "
          f"{'OK' if peak_mb <= PEAK_RSS_TARGET_MB else 'MISSED'}")


if __name__ == "__main__":
    main()
