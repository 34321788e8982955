"""Entry module of the SMTP listener process: `python -m bot.smtp_child <fd>`.

It imports only the listener (aiosmtpd, bot.spool, bot.logsafe): started through
multiprocessing's spawn, the child re-imported the daemon's __main__ (the whole CLI, the
database layer and the models), some 95 MB for a process that only writes spool files.
The daemon passes one end of a socket pair as <fd>; the first thing on it is the
ListenerConfig (pickled), then the child answers ("port", n) or ("error", text).
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection


def main(argv: list[str]) -> None:
    from bot.channels.smtp import _child_main

    conn = Connection(int(argv[1]))
    config = conn.recv()
    _child_main(config, conn)


if __name__ == "__main__":
    main(sys.argv)
