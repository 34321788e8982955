"""Memory of new-job intake: does a 200 MB STL attachment keep the daemon's memory flat?

Each phase runs in a fresh subprocess and reports its own peak RSS (ru_maxrss), so phases do
not hide each other's peaks:

  baseline     import the bot, nothing else
  hold-raw     the raw message bytes in memory, as the pipeline gets them (InboundMessage.raw)
  parse        + bot.mime.parse_message (with the per-attachment limit off, so the data is kept)
  parse-limit  + parse_message with the default 20 MB max_attachment_bytes (data dropped)
  store        + parse, then bot.projects.jobintake.collect -> FileStore.put_stream
  spooled      the production path for large mail: the raw message kept as a file in the
               store, bot.mime_stream.parse_spooled decoding the attachment into the store,
               then bot.projects.jobintake.collect (the transport's own buffering is not included)
  analyse      bot.projects.meshcheck.analyse on an STL at the analysis limit (32 MB by default)

Usage: .venv/bin/python bench/bench_intake.py [--mb 200] [--analyse-mb 32]
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BOUNDARY = "bench-boundary-42"
PHASES = ("baseline", "hold-raw", "parse", "parse-limit", "store", "spooled", "analyse")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --------------------------------------------------------------------------- fixtures


def write_stl(path: Path, triangles: int) -> None:
    """A binary STL of random triangles, written in slices (the generator stays small)."""
    record = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    with path.open("wb") as out:
        out.write(b"bench".ljust(80, b" ") + np.uint32(triangles).tobytes())
        left = triangles
        while left:
            n = min(left, 500_000)
            block = np.zeros(n, dtype=record)
            block["v"] = np.random.default_rng(n).random((n, 3, 3), dtype=np.float32) * 100
            out.write(block.tobytes())
            left -= n


def write_mail(path: Path, stl: Path) -> None:
    """A multipart mail with the STL base64-encoded, streamed to disk."""
    head = (f"From: Jane <jane@example.com>\r\nTo: info@stelloloxonpro.com\r\n"
            f"Subject: New job\r\nMessage-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{BOUNDARY}"\r\n\r\n'
            f"--{BOUNDARY}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Please prepare this model for 3D printing.\r\n"
            f"--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n"
            f'Content-Disposition: attachment; filename="big.stl"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n")
    with path.open("wb") as out, stl.open("rb") as src:
        out.write(head.encode())
        while chunk := src.read(57 * 20_000):
            out.write(base64.encodebytes(chunk).replace(b"\n", b"\r\n"))
        out.write(f"--{BOUNDARY}--\r\n".encode())


# --------------------------------------------------------------------------- phases


def _app(tmp: Path):
    from bot.config import Settings
    from bot.context import bootstrap
    return bootstrap(Settings(_env_file=None, data_dir=tmp, demo_data=False))  # type: ignore[call-arg]


def run_phase(phase: str, mail: Path, stl: Path, tmp: Path) -> dict[str, float]:
    from bot.mime import parse_message
    from bot.projects import jobintake, meshcheck

    started = time.perf_counter()
    if phase == "analyse":
        report = meshcheck.analyse(stl, "model.stl")
        return {"seconds": time.perf_counter() - started, "triangles": report.triangles or 0}
    if phase == "spooled":
        from bot.mime_stream import parse_spooled

        app = _app(tmp)
        with mail.open("rb") as handle:
            spool = app.files.put_stream(iter(lambda: handle.read(2**20), b""))
        parsed = parse_spooled(app.files.path(spool.key), app.files,
                               max_attachment_bytes=1 << 40)
        limits = jobintake.IntakeLimits(file_bytes=1 << 40, analyse_bytes=0,
                                        zip=jobintake.ziputil.ZipLimits())
        collected = jobintake.collect(app, parsed.attachments, limits)
        return {"seconds": time.perf_counter() - started,
                "stored_mb": collected.stored[0][1].size / 2**20}
    if phase == "baseline":
        return {"seconds": 0.0}
    raw = mail.read_bytes()
    if phase == "hold-raw":
        return {"seconds": time.perf_counter() - started, "raw_mb": len(raw) / 2**20}
    limit = 20 * 2**20 if phase == "parse-limit" else None
    parsed = parse_message(raw, max_attachment_bytes=limit)
    if phase != "store":
        return {"seconds": time.perf_counter() - started}
    app = _app(tmp)
    limits = jobintake.IntakeLimits(file_bytes=1 << 40, analyse_bytes=0,
                                    zip=jobintake.ziputil.ZipLimits())
    collected = jobintake.collect(app, parsed.attachments, limits)
    return {"seconds": time.perf_counter() - started,
            "stored_mb": collected.stored[0][1].size / 2**20}


# --------------------------------------------------------------------------- driver


def child(args: argparse.Namespace) -> None:
    before = peak_mb()
    result = run_phase(args.phase, Path(args.mail), Path(args.stl), Path(args.tmp))
    print(json.dumps({"phase": args.phase, "peak_rss_mb": round(peak_mb(), 1),
                      "after_imports_mb": round(before, 1), **{k: round(v, 2) for k, v
                                                              in result.items()}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200, help="STL size in MB")
    parser.add_argument("--analyse-mb", type=int, default=32)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--mail", help=argparse.SUPPRESS)
    parser.add_argument("--stl", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        big, small, mail = tmp / "big.stl", tmp / "small.stl", tmp / "mail.eml"
        write_stl(big, (args.mb * 2**20 - 84) // 50)
        write_stl(small, (args.analyse_mb * 2**20 - 84) // 50)
        write_mail(mail, big)
        print(f"STL {big.stat().st_size / 2**20:.0f} MB, mail {mail.stat().st_size / 2**20:.0f}"
              " MB on disk")
        for phase in PHASES:
            stl = small if phase == "analyse" else big
            out = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--mail", str(mail), "--stl",
                 str(stl), "--tmp", str(tmp / phase)],
                check=True, capture_output=True, text=True)
            print(out.stdout.strip())


if __name__ == "__main__":
    main()
