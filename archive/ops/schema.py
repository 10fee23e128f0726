"""``archive db upgrade``: bring a database file's schema to this version's head."""

from __future__ import annotations

from archive.config import Settings
from archive.embedding.loader import load_embedder
from archive.store.migrate import current_revision, upgrade
from archive.store.sqlite.engine import create_archive_engine


def upgrade_path(db: str | None, *, model: str | None = None, home: str | None = None) -> str | None:
    """``archive db upgrade``: migrate the file at ``db`` to head; returns the new revision."""
    settings = Settings.resolve(db=db, model=model, home=home)
    engine = create_archive_engine(settings.db_path)
    try:
        dimension = None
        if current_revision(engine) is None:
            dimension = load_embedder(settings.model, home=settings.home, options=settings.embedding).dimension
        upgrade(engine, dimension=dimension)
        return current_revision(engine)
    finally:
        engine.dispose()
