"""Make release-608ffa2.sql: a SQLite database made by the release before migrations.

Run from a checkout of that release (the dump must come from its create_schema, not ours):
    git archive 608ffa2 | tar -x -C /tmp/old && cd /tmp/old && \
        PYTHONPATH=. python $REPO/tests/data/schema/make_dump.py \
            $REPO/tests/data/schema/release-608ffa2.sql
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bot.clock import FrozenClock
from bot.config import Settings
from bot.context import bootstrap
from bot.scheduler import build_scheduler, stop_scheduler
from storage import models
from storage.db import audit, unit_of_work

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def main(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None,  # type: ignore[call-arg]
                            data_dir=Path(tmp), demo_data=False)
        app = bootstrap(settings, clock=FrozenClock(WHEN))
        with unit_of_work(app.engine) as session:
            client = models.Client(name="Jane Example", created_at=WHEN, last_active_at=WHEN)
            session.add(client)
            session.flush()
            session.add(models.ClientEmail(client_id=client.id, address="jane@example.com",
                                           is_primary=True))
            case = models.Case(ref="SP-REQ-000001", kind="access", intents="access",
                               client_id=client.id, requester="jane@example.com",
                               received_at=WHEN, due_at=WHEN.replace(day=30))
            session.add(case)
            session.flush()
            session.add(models.InboundMessage(channel="smtp", source_key="smtp:1", sha256="0" * 64,
                                              raw=b"Subject: hi\r\n\r\nmy data please\r\n",
                                              received_at=WHEN, status="processed",
                                              case_id=case.id, auth_result="pass",
                                              auth_via="own-dkim"))
            audit(session, "case.opened", at=WHEN, case_id=case.id, client_id=client.id)
        scheduler = build_scheduler(app)  # stores the jobs in apscheduler_jobs
        stop_scheduler(scheduler)
        app.engine.dispose()
        with sqlite3.connect(Path(tmp) / "stelloloxon.db") as conn:
            target.write_text("\n".join(conn.iterdump()) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
