"""Alembic environment: our engine for a SQLite path or a postgresql:// URL, batch mode, vector and
keyword-index tables (vec0/FTS5 on SQLite, pgvector tables and tsvector columns on PostgreSQL) excluded."""

from __future__ import annotations

from typing import Any

from alembic import context

from archive.config import Settings
from archive.store.models import Base
from archive.store.open import create_engine_for
from archive.store.postgres.ddl import SEARCH_COLUMN, is_search_index
from archive.store.sqlite.vtables import is_virtual_or_shadow

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    # vec0/FTS5 tables and their shadow tables are created with op.execute in
    # migrations; autogenerate must neither drop nor "discover" them.
    if type_ == "table" and name is not None:
        return not is_virtual_or_shadow(name)
    if type_ == "column" and name == SEARCH_COLUMN:  # generated tsvector columns (PostgreSQL)
        return False
    if type_ == "index" and name is not None:
        return not is_search_index(name)
    return True


def _configure(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_name=include_name,
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    db = context.get_x_argument(as_dictionary=True).get("db")
    engine: Any = create_engine_for(Settings.resolve(db=db).db_location)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: vec0 tables need a live connection")
run_migrations_online()
