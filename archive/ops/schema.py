"""``archive db upgrade`` and ``archive db check``: a database file's schema against this version's."""

from __future__ import annotations

from dataclasses import dataclass

from archive.config import Settings
from archive.embedding.loader import load_embedder
from archive.errors import ArchiveNotFoundError
from archive.store.migrate import check_not_newer, head_revision
from archive.store.open import location_errors, open_store


@dataclass(frozen=True)
class SchemaCheck:
    """What ``archive db check`` found: the revision and alembic's differences (none: no drift)."""

    revision: str | None
    differences: list[str]

    @property
    def ok(self) -> bool:
        return not self.differences


def upgrade_path(db: str | None, *, model: str | None = None, home: str | None = None) -> str | None:
    """``archive db upgrade``: migrate the file at ``db`` to head; returns the new revision."""
    settings = Settings.resolve(db=db, model=model, home=home)
    with location_errors(settings.db_location):
        store = open_store(settings.db_location)
        try:
            current = store.revision()
            check_not_newer(current, settings.db_path)
            if current is not None and current == head_revision():
                return current  # nothing to do: a read-only archive at head is fine
            dimension = None
            if current is None:
                dimension = load_embedder(settings.model, home=settings.home, options=settings.embedding).dimension
            store.upgrade(dimension)
            return store.revision()
        finally:
            store.close()


def check_path(db: str | None, *, home: str | None = None) -> SchemaCheck:
    """``archive db check``: alembic's drift check of the file at ``db`` against the installed migrations."""
    settings = Settings.resolve(db=db, home=home)
    if not settings.db_exists:  # checking must not create the file it checks
        raise ArchiveNotFoundError(
            f"no archive at {settings.db_path} (create it with: archive ingest -d {settings.db_path} FILES)"
        )
    store = open_store(settings.db_location)
    try:
        differences = store.schema_drift()
        return SchemaCheck(revision=store.revision(), differences=differences)
    finally:
        store.close()
