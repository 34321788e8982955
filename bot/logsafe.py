"""Logging failures without personal data: exception messages (SQL parameters, addresses,
message text) stay out of the log; the type and the code locations are enough to debug."""

from __future__ import annotations

import logging
import traceback


def failure(exc: BaseException) -> str:
    """'TypeError at bot/x.py:12 <- bot/y.py:40' for the innermost frames of `exc`."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(f"{f.filename.rsplit('/bot/', 1)[-1]}:{f.lineno}"
                        for f in reversed(frames))
    return f"{type(exc).__name__} at {where}" if where else type(exc).__name__


def log_failure(log: logging.Logger, message: str, exc: BaseException, *args: object) -> None:
    log.error(message + ": %s", *args, failure(exc))
