"""Schema upkeep: what releases before migrations added (indexes, nullable columns) reaches a
database made before them, through the baseline revision (no alembic_version table yet)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from storage.db import create_schema, make_engine


def _index_names(engine: object, table: str) -> set[str]:
    return {ix["name"] for ix in inspect(engine).get_indexes(table)}  # type: ignore[arg-type]


def test_missing_index_is_created_on_an_existing_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    create_schema(engine)
    with engine.begin() as conn:  # a database from before the index existed
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("DROP INDEX ix_outbox_to_addr_created_at"))
        conn.execute(text('DROP INDEX ix_case_requester'))
    assert "ix_outbox_to_addr_created_at" not in _index_names(engine, "outbox")

    create_schema(engine)

    assert "ix_outbox_to_addr_created_at" in _index_names(engine, "outbox")
    assert "ix_case_requester" in _index_names(engine, "case")


def test_rate_limit_query_uses_the_index(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    create_schema(engine)
    with engine.connect() as conn:
        plan = conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM outbox WHERE to_addr = 'a@b' "
            "AND created_at >= '2026-01-01'")).fetchall()
    assert "ix_outbox_to_addr_created_at" in " ".join(str(row[-1]) for row in plan)


def test_new_nullable_column_reaches_an_existing_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    create_schema(engine)
    with engine.begin() as conn:  # a database from before the re-delivery fingerprint
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("DROP INDEX ix_inboundmessage_fingerprint"))
        conn.execute(text("ALTER TABLE inboundmessage DROP COLUMN fingerprint"))
    create_schema(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("inboundmessage")}
    assert "fingerprint" in columns
    assert {"ix_inboundmessage_fingerprint", "ix_inboundmessage_sha256"} <= _index_names(
        engine, "inboundmessage")


def test_missing_verdict_columns_are_added_to_an_existing_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    create_schema(engine)
    with engine.begin() as conn:  # a database from before the sender verdict existed
        conn.execute(text("DROP TABLE alembic_version"))
        for column in ("auth_result", "auth_via", "auth_reason"):
            conn.execute(text(f'ALTER TABLE inboundmessage DROP COLUMN "{column}"'))

    create_schema(engine)

    columns = {c["name"] for c in inspect(engine).get_columns("inboundmessage")}
    assert {"auth_result", "auth_via", "auth_reason"} <= columns
