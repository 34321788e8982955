"""Alembic migrations as an operator meets them: a database of the release before migrations
upgrades with its rows and scheduled jobs intact, models and revisions agree (SQLite and a real
PostgreSQL), and production refuses to start on an old schema, naming the command to run."""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from bot.cli import cli
from bot.config import Settings
from bot.context import App, bootstrap
from bot.scheduler import JOB_TABLE, build_scheduler, deadlines_job, digest_job, stop_scheduler
from storage import migrate
from storage.db import make_engine
from storage.migrations.jobrefs import rewrite_job_refs

RELEASE_DUMP = Path(__file__).resolve().parents[1] / "data" / "schema" / "release-608ffa2.sql"
PRODUCTION = {"STELLOLOXON_ENVIRONMENT": "production", "STELLOLOXON_RELAY_HOST": "relay.example",
              "STELLOLOXON_SUPPRESSION_KEY": "a-real-key-0123456789"}


def moved_deadlines_job(key: str) -> None:
    """Stands for bot.scheduler.deadlines_job after a revision moved it."""


def _release_database(path: Path) -> str:
    """A SQLite file as the release before migrations left it (tests/data/schema)."""
    with sqlite3.connect(path) as conn:
        conn.executescript(RELEASE_DUMP.read_text())
    return f"sqlite:///{path}"


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    return {"STELLOLOXON_DATA_DIR": str(tmp_path / "var"), "STELLOLOXON_DEMO_DATA": "false",
            "STELLOLOXON_DATABASE_URL": _release_database(tmp_path / "old.db")}


def test_release_database_upgrades_with_its_rows(env: dict[str, str]) -> None:
    assert _cli(env, "db", "current")[1].startswith("database is from a release before")

    code, output = _cli(env, "db", "upgrade")

    assert (code, output.strip()) == (0, f"upgraded from legacy to {migrate.head_revision()}")
    engine = make_engine(env["STELLOLOXON_DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM client")).scalars().all() == ["Jane Example"]
        assert conn.execute(text("SELECT ref, requester FROM \"case\"")).all() == [
            ("SP-REQ-000001", "jane@example.com")]
        assert conn.execute(text("SELECT auth_result, auth_via FROM inboundmessage")).all() == [
            ("pass", "own-dkim")]
        assert conn.execute(text("SELECT action FROM auditlog")).scalars().all() == [
            "case.opened"]
    assert _cli(env, "db", "check") == (0, f"database schema is at {migrate.head_revision()} "
                                           "(this release's)\nmodels and database agree\n")
    assert _cli(env, "db", "upgrade")[1].startswith("nothing to do")


def test_release_jobs_keep_their_pending_runs(env: dict[str, str],
                                              make_app: Callable[..., App]) -> None:
    url = env["STELLOLOXON_DATABASE_URL"]
    with make_engine(url).connect() as conn:
        stored = dict(conn.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all())
    app = make_app(database_url=url)  # development: the start upgrades the schema
    scheduler = build_scheduler(app)
    try:
        assert {job.id: job.next_run_time.timestamp() for job in scheduler.get_jobs()} == stored
    finally:
        stop_scheduler(scheduler)


def test_a_moved_job_function_keeps_its_pending_run_once_refs_are_rewritten(
    env: dict[str, str],
) -> None:
    """A revision that moves a job function calls rewrite_job_refs; the stored job then loads
    (a reference that no longer imports would be dropped by the scheduler, with its run)."""
    engine = make_engine(env["STELLOLOXON_DATABASE_URL"])
    store = SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)
    store.start(BackgroundScheduler(), "default")
    before = store.lookup_job("deadlines")
    assert before is not None and before.func is deadlines_job

    with engine.begin() as conn:
        assert rewrite_job_refs(conn, {"bot.scheduler:deadlines_job":
                                       f"{__name__}:moved_deadlines_job"}) == 1

    after = store.lookup_job("deadlines")
    assert after is not None and after.func is moved_deadlines_job
    assert after.next_run_time == before.next_run_time
    assert after.args == before.args
    digest = store.lookup_job("digest")
    assert digest is not None and digest.func is digest_job  # not named in the moves


def test_production_refuses_an_old_schema_and_names_the_command(env: dict[str, str]) -> None:
    production = {**env, **PRODUCTION}
    code, output = _cli(production, "requests")
    assert code == 2
    assert output.strip() == ("error: database is from a release before migrations; this "
                              f"release needs schema {migrate.head_revision()}: run "
                              "`stelloloxon-bot db upgrade`")
    engine = make_engine(env["STELLOLOXON_DATABASE_URL"])
    assert "alembic_version" not in inspect(engine).get_table_names()  # left untouched

    assert _cli(production, "db", "upgrade")[0] == 0
    code, output = _cli(production, "requests")
    assert code == 0 and "SP-REQ-000001" in output  # the old case, listed by the new release


def test_production_refuses_an_empty_database_until_upgraded(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, environment="production",  # type: ignore[call-arg]
                        relay_host="relay.example", suppression_key="a-real-key-0123456789")
    with pytest.raises(migrate.SchemaOutOfDate, match=r"database is empty.*db upgrade"):
        bootstrap(settings)


def test_models_and_migrations_agree_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    migrate.upgrade_to(engine)  # every revision, not the create_all fast path
    assert migrate.status(engine).up_to_date
    assert migrate.differences(engine) == []


@pytest.mark.postgres
def test_models_and_migrations_agree_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    migrate.upgrade_to(engine)
    assert migrate.status(engine).up_to_date
    assert migrate.differences(engine) == []
    engine.dispose()


def test_db_check_names_a_drift_from_the_models(env: dict[str, str]) -> None:
    assert _cli(env, "db", "upgrade")[0] == 0
    with make_engine(env["STELLOLOXON_DATABASE_URL"]).begin() as conn:
        conn.execute(text("ALTER TABLE client ADD COLUMN nickname VARCHAR"))
    code, output = _cli(env, "db", "check")
    assert code == 1
    assert "differs from the models" in output and "nickname" in output


def test_db_history_lists_the_baseline_as_head(env: dict[str, str]) -> None:
    code, output = _cli(env, "db", "history")
    assert code == 0
    assert output.startswith(f"{migrate.head_revision()}  (head)")
    assert "0001_baseline" in output


@pytest.mark.postgres
def test_release_database_on_postgresql_is_adopted(postgres_url: str) -> None:
    """The release before migrations made PostgreSQL tables with create_all: the frozen
    baseline is that schema. An older one without the sender verdict gets it added."""
    baseline = importlib.import_module("storage.migrations.versions.0001_baseline")
    engine = make_engine(postgres_url)
    baseline.BASELINE.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE inboundmessage DROP COLUMN auth_result"))
        conn.execute(text("INSERT INTO client (name, created_at, last_active_at, restricted, "
                          "marketing_opt_out) VALUES ('Jane Example', now(), now(), false, "
                          "false)"))
    assert migrate.status(engine).state == "legacy"

    migrate.upgrade_to(engine)

    assert migrate.status(engine).up_to_date
    assert migrate.differences(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM client")).scalars().all() == ["Jane Example"]
    engine.dispose()


def test_db_upgrade_to_an_unknown_revision_is_one_clear_line(env: dict[str, str]) -> None:
    code, output = _cli(env, "db", "upgrade", "9999_nope")
    assert code == 2
    assert output.startswith("error: ") and "9999_nope" in output
    assert len(output.strip().splitlines()) == 1
