"""SQLite engine: the driver of ``driver`` with sqlite-vec on every connection, PRAGMAs, explicit BEGIN."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event

from archive.errors import ArchiveNotFoundError

# Re-exported: callers and tests name these through the engine module.
from archive.store.sqlite.driver import (
    BUSY_TIMEOUT_MS,
    MMAP_BYTES,
    AccessMode,
    Driver,
    access_mode,
    database_file,
    file_uri,
    pick_driver,
    prepare_connection,
)
from archive.store.sqlite.sql import mark_begun

__all__ = [
    "BUSY_TIMEOUT_MS",
    "MMAP_BYTES",
    "Driver",
    "access_mode",
    "create_archive_engine",
    "database_file",
    "engine_path",
    "is_read_only",
    "pick_driver",
    "prepare_connection",
    "probe",
]


def is_read_only(engine: Engine) -> bool:
    """Whether ``engine`` was opened read-only (see :func:`access_mode`)."""
    return bool(engine.url.query.get("uri")) and str(engine.url.database).startswith("file:")


def engine_path(engine: Engine) -> str:
    """The file ``engine`` opens, as a user would name it (without the read-only URI's decoration)."""
    database = str(engine.url.database or ":memory:")
    if is_read_only(engine):
        return urllib.parse.unquote(database.removeprefix("file:").partition("?")[0])
    return database


def probe(engine: Engine) -> int:
    """Read the file's schema (page 1 and the schema table): the number of tables, indexes and triggers.

    Raises the driver's error when the file is not a database or is damaged there.
    """
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one())


def _url(target: str, mode: AccessMode) -> URL:
    if mode == "rw":
        return URL.create("sqlite", database=target)
    return URL.create("sqlite", database=file_uri(target, mode), query={"uri": "true"})


def create_archive_engine(path: Path | str, *, echo: bool = False, create: bool = True) -> Engine:
    """Create an engine for the archive at ``path`` with sqlite-vec loaded.

    Transactions are started explicitly (the pysqlite recipe) so that a
    ``BEGIN IMMEDIATE`` writer and plain readers behave as SQLite documents.
    ``create=False`` raises ArchiveNotFoundError instead of creating a missing
    file; a file that cannot be written is opened read-only (:func:`access_mode`).
    """
    driver = pick_driver()
    target = str(path)
    if target != ":memory:":
        file = Path(target).expanduser()
        if not create and not file.is_file():
            raise ArchiveNotFoundError(
                f"no archive at {target} (create it with: archive ingest -d {target} FILES)", path=target
            )
        if create:
            file.parent.mkdir(parents=True, exist_ok=True)
    mode = access_mode(target)
    engine = create_engine(_url(target, mode), module=driver.module, echo=echo)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event emit BEGIN
        prepare_connection(dbapi_conn)
        if target != ":memory:" and mode == "rw":
            dbapi_conn.execute("PRAGMA journal_mode = WAL")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
        mark_begun(conn.connection.info, conn.connection.dbapi_connection)

    return engine
