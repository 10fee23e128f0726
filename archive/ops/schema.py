"""``archive db upgrade`` and ``archive db check``: a database file's schema against this version's."""

from __future__ import annotations

from dataclasses import dataclass

from archive.config import Settings
from archive.embedding.loader import load_embedder
from archive.errors import ArchiveNotFoundError
from archive.store.migrate import check_not_newer, current_revision, head_revision, schema_drift, upgrade
from archive.store.sqlite.engine import create_archive_engine
from archive.store.sqlite.errors import translate_errors


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


def check_path(db: str | None, *, home: str | None = None) -> SchemaCheck:
    """``archive db check``: alembic's drift check of the file at ``db`` against the installed migrations."""
    settings = Settings.resolve(db=db, home=home)
    if not settings.db_path.is_file():  # checking must not create the file it checks
        raise ArchiveNotFoundError(
            f"no archive at {settings.db_path} (create it with: archive ingest -d {settings.db_path} FILES)"
        )
    engine = create_archive_engine(settings.db_path)
    try:
        differences = schema_drift(engine)
        return SchemaCheck(revision=current_revision(engine), differences=differences)
    finally:
        engine.dispose()
