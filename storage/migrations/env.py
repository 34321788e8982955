"""Alembic environment: the models' metadata, batch mode (SQLite ALTERs), our tables only.

The connection always comes from ``storage.migrate`` (config.attributes["connection"]).
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from storage import models
from storage.migrate import include_object

assert models  # the tables register on SQLModel.metadata when the module is imported

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=SQLModel.metadata,
    render_as_batch=True,
    include_object=include_object,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
