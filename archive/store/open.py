"""The one place that picks a storage backend for an archive's location.

Each backend is imported where it is picked: a one-shot search (:func:`open_snapshot`) must not
pay for SQLAlchemy, which every full store imports.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from archive.config import is_server_url

if TYPE_CHECKING:
    from archive.store.interface import SearchSnapshot, Store
    from archive.store.records import Health


def open_store(
    location: Path | str, *, create: bool = True, prefilter_min_rows: int | None = None, pg_dump: str | None = None
) -> Store:
    """The store of the archive at ``location``: a SQLite file path, or a ``postgresql://`` URL.

    ``create=False`` raises ArchiveNotFoundError for a missing file instead of creating it
    (a PostgreSQL database must exist; a new one gets its tables on first ingest). ``pg_dump``:
    the program a PostgreSQL archive's backup runs (None: the one on PATH).
    """
    if is_server_url(str(location)):
        from archive.store.postgres.store import PostgresStore

        return PostgresStore.open(str(location), pg_dump=pg_dump)
    from archive.store.sqlite.store import SqliteStore

    return SqliteStore.open(location, create=create, prefilter_min_rows=prefilter_min_rows)


def open_snapshot(location: Path | str) -> SearchSnapshot | None:
    """One read snapshot of a ready SQLite archive, opened without SQLAlchemy (``sqlite.direct``);
    None for a server URL or anything the full store must open (then use :func:`open_store`)."""
    if is_server_url(str(location)):
        return None
    from archive.store.sqlite.direct import open_snapshot as open_sqlite_snapshot

    return open_sqlite_snapshot(str(location))


def location_errors(location: Path | str) -> AbstractContextManager[None]:
    """Typed ArchiveErrors for failures of the archive at ``location`` before its store is open."""
    if is_server_url(str(location)):
        from archive.store.postgres.engine import translate_errors

        return translate_errors(str(location))
    from archive.store.sqlite.errors import translate_errors as sqlite_errors

    return sqlite_errors(location)


def store_health(location: Path | str, *, prefilter_min_rows: int | None) -> Health:
    """The backend's checks for ``archive doctor`` (they run even when the archive cannot be opened)."""
    if is_server_url(str(location)):
        from archive.store.postgres.health import diagnose

        return diagnose(str(location))
    from archive.store.sqlite.health import diagnose as sqlite_health

    return sqlite_health(Path(location), prefilter_min_rows=prefilter_min_rows)


def create_engine_for(location: str) -> object:
    """A SQLAlchemy engine for ``location`` (what alembic's env.py migrates)."""
    if is_server_url(location):
        from archive.store.postgres.engine import create_pg_engine

        return create_pg_engine(location)
    from archive.store.sqlite.engine import create_archive_engine

    return create_archive_engine(location)
