"""``archive db upgrade``: bring a database file's schema to this version's head."""

from __future__ import annotations

from archive.config import Settings
from archive.embedding.loader import load_embedder
from archive.store.migrate import check_not_newer, current_revision, head_revision, upgrade
from archive.store.sqlite.engine import create_archive_engine
from archive.store.sqlite.errors import translate_errors


def upgrade_path(db: str | None, *, model: str | None = None, home: str | None = None) -> str | None:
    """``archive db upgrade``: migrate the file at ``db`` to head; returns the new revision."""
    settings = Settings.resolve(db=db, model=model, home=home)
    with translate_errors(settings.db_path):
        engine = create_archive_engine(settings.db_path)
        try:
            current = current_revision(engine)
            check_not_newer(current, settings.db_path)
            if current is not None and current == head_revision():
                return current  # nothing to do: a read-only archive at head is fine
            dimension = None
            if current is None:
                dimension = load_embedder(settings.model, home=settings.home, options=settings.embedding).dimension
            upgrade(engine, dimension=dimension)
            return current_revision(engine)
        finally:
            engine.dispose()
