"""A handling worker started by `stelloloxon-bot run --workers N` (`python -m bot.worker`).

It only claims and handles waiting messages (bot.pipeline.process_batch, SELECT ... FOR
UPDATE SKIP LOCKED), so it imports neither the CLI nor the channels. The daemon sends its
Settings (pickled) on stdin. The worker stops on SIGTERM or when the daemon that started it
is gone (checked between batches); a batch in flight when it is killed is rolled back by
PostgreSQL and claimed again by another worker.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
import threading

IDLE_POLL_SECONDS = 0.05


def main() -> None:
    settings = pickle.load(sys.stdin.buffer)
    parent = os.getppid()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon decides when workers stop

    from bot.context import bootstrap
    from bot.pipeline import process_batch
    from bot.understand import warm_up

    app = bootstrap(settings)
    warm_up()
    while not stop.is_set() and os.getppid() == parent:
        try:
            handled = process_batch(app)
        except Exception as exc:  # the database went away for a moment: try again soon
            from bot.logsafe import log_failure

            log_failure(logging.getLogger(__name__), "worker batch failed", exc)
            handled = 0
        if not handled:
            stop.wait(IDLE_POLL_SECONDS)


if __name__ == "__main__":
    main()
