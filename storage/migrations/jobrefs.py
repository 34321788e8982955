"""Rewrite APScheduler job references stored in the database, for a revision that moves or
renames a job function (e.g. ``bot.scheduler:deadlines_job`` to ``bot.jobs:deadlines_job``).

SQLAlchemyJobStore keeps each job as a pickled state dict whose ``func`` is the textual
reference "module:qualname". A job whose reference no longer imports is dropped by the
scheduler when it loads it (with its pending run time), so a move must rewrite the rows.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

JOB_TABLE = "apscheduler_jobs"  # bot.scheduler.JOB_TABLE (not imported: revisions stay frozen)


def rewrite_job_refs(conn: Connection, moves: Mapping[str, str]) -> int:
    """Point stored jobs at their functions' new places; returns how many rows changed."""
    if not inspect(conn).has_table(JOB_TABLE):
        return 0  # the scheduler never ran on this database: nothing stored
    changed = 0
    rows = conn.execute(text(f"SELECT id, job_state FROM {JOB_TABLE}")).all()
    for job_id, blob in rows:
        state = pickle.loads(blob)  # written by our own scheduler in this database
        new = moves.get(state.get("func"))
        if new is None:
            continue
        state["func"] = new
        conn.execute(text(f"UPDATE {JOB_TABLE} SET job_state = :s WHERE id = :i"),
                     {"s": pickle.dumps(state, pickle.HIGHEST_PROTOCOL), "i": job_id})
        changed += 1
    return changed
