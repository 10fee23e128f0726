"""Run alembic from the library: ``archive db upgrade`` and the schema-at-head check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from archive.errors import SchemaOutOfDateError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(dimension: int | None = None) -> Config:
    """An alembic Config pointing at our migrations, usable from any working directory."""
    ini = PROJECT_ROOT / "alembic.ini"
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if dimension is not None:
        cfg.attributes["embedding_dimension"] = dimension
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, *, dimension: int | None = None, revision: str = "head") -> None:
    """Bring the schema to ``revision``; ``dimension`` sizes the vector table of a new db."""
    cfg = alembic_config(dimension)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def ensure_current(engine: Engine) -> None:
    """Raise SchemaOutOfDateError unless the database is at the head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDateError(
            f"database schema is at revision {current or 'none'}, this version needs {head}: "
            "run `archive db upgrade` (or `alembic -x db=PATH upgrade head`)"
        )


def upgrade_path(db: str | None, *, model: str | None = None, home: str | None = None) -> str | None:
    """``archive db upgrade``: migrate the file at ``db`` to head; returns the new revision."""
    from archive.config import Settings
    from archive.embed import load_embedder
    from archive.store.engine import create_archive_engine

    settings = Settings.resolve(db=db, model=model, home=home)
    engine = create_archive_engine(settings.db_path)
    try:
        dimension = None
        if current_revision(engine) is None:
            dimension = load_embedder(settings.model, home=settings.home).dimension
        upgrade(engine, dimension=dimension)
        return current_revision(engine)
    finally:
        engine.dispose()
