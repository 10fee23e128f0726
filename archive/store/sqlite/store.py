"""The SQLite backend of :class:`archive.store.interface.Store`: one archive file and its engine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from archive.errors import OperationError
from archive.store import lockfile, migrate
from archive.store.lockfile import LockHolder
from archive.store.sqlite import knn, writes
from archive.store.sqlite.driver import CACHE_KIB, MMAP_BYTES, set_file_map, set_page_cache
from archive.store.sqlite.engine import create_archive_engine, engine_path, is_read_only, pick_driver
from archive.store.sqlite.errors import read_only_error, translate_errors
from archive.store.sqlite.readonly import make_read_only
from archive.store.sqlite.session import SqliteReader, SqliteWriter
from archive.store.sqlite.vtables import VEC_TABLE

_FILE_ACCESS = "archive_file_access"  # (bytes mapped, page cache KiB) of a pooled connection, once changed
_MAPPED = (MMAP_BYTES, CACHE_KIB)  # what a new connection has (driver.prepare_connection)
# An archive the held matrices answer is read unmapped, through SQLite's page cache (the OS's holds the file
# either way). Up to FULL_CACHE_MAX_ROWS passages a search's FTS5 and text pages fit in CACHE_KIB (a 4 MB
# cache re-read them: hybrid +1-3 ms at 20,000); above, they do not fit either way (the same latency at
# 100,000 with 4 and 64 MB), so each connection keeps UNMAPPED_READ_CACHE_KIB (two 64 MB caches, the search
# and its keyword sibling, were 123 MB of that process's RSS).
FULL_CACHE_MAX_ROWS = 50_000
UNMAPPED_READ_CACHE_KIB = 4_096


class SqliteStore:
    """An archive in one SQLite file (sqlite-vec vectors, FTS5 keyword index, a ``.lock`` sidecar)."""

    def __init__(self, engine: Engine, vector_table: str = VEC_TABLE, *, prefilter_min_rows: int | None = None) -> None:
        self.engine = engine
        self.vector_table = vector_table
        self.prefilter_min_rows = prefilter_min_rows
        self.location = engine_path(engine)
        self._bounded = 0  # bounded_memory() blocks open now, on any thread
        self._passages: int | None = None  # the archive's size as the last search saw it (see _learn_size)
        self._bounded_lock = threading.Lock()
        event.listen(engine, "checkout", self._on_checkout)

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True, prefilter_min_rows: int | None = None) -> SqliteStore:
        with translate_errors(path):
            store = cls(create_archive_engine(path, create=create), prefilter_min_rows=prefilter_min_rows)
        store.location = str(path)
        return store

    @property
    def path(self) -> Path:
        return Path(self.location)

    @property
    def driver_name(self) -> str:
        return pick_driver().name

    @property
    def read_only(self) -> bool:
        return is_read_only(self.engine)

    @contextmanager
    def reader(self) -> Iterator[SqliteReader]:
        with Session(self.engine) as session:
            reader = SqliteReader(session, self.vector_table, prefilter_min_rows=self.prefilter_min_rows)
            yield reader
            self._learn_size(reader.passages_seen())

    def _learn_size(self, passages: int | None) -> None:
        """After a reader that looked up the archive's size (every search does): up to ``MATRIX_MAX_ROWS``
        passages the matrices this process holds answer every vector scan, so nothing needs the file map,
        which kept each page of text and FTS5 index a search touched in the RSS (at 100,000 passages about
        270 MB mapped: README, Performance). Later checkouts read unmapped through SQLite's page cache
        (``FULL_CACHE_MAX_ROWS``); past the limit, where the vec0 point lookups need the map, they map it
        again."""
        if passages is not None:
            self._passages = passages

    @contextmanager
    def writer(self) -> Iterator[SqliteWriter]:
        with Session(self.engine.execution_options(sqlite_begin="IMMEDIATE")) as session, session.begin():
            yield SqliteWriter(session, self.vector_table, prefilter_min_rows=self.prefilter_min_rows)

    def bulk_load(self) -> AbstractContextManager[None]:
        return nullcontext()  # vec0 tables have no index to defer

    @contextmanager
    def bounded_memory(self) -> Iterator[None]:
        """Connections checked out inside the block do not map the file.

        An ingest reads pages all over a growing file (band keys, groups, sentence counts, FTS
        merges); mapped, each page it touched stays in its RSS, which grew with the archive
        (about 300 MB over the whole ukraine_media set). Unmapped, reads go through SQLite's page
        cache (``cache_size``, bounded) and the OS's. Searches outside such a block map it again (an
        archive above ``MATRIX_MAX_ROWS`` passages: see :meth:`_learn_size`).
        """
        with self._bounded_lock:
            self._bounded += 1
        try:
            yield
        finally:
            with self._bounded_lock:
                self._bounded -= 1

    def _file_access(self, dbapi_conn: Any) -> tuple[int, int]:
        """(bytes mapped, page cache KiB) a connection checked out now reads the file with. Until a search
        has looked up the archive's size, the first checkout does (else the first search, which loads the
        matrix, would read every vector blob through the map beside its copy: its peak RSS)."""
        if self._passages is None:
            self._learn_size(_highest_passage(dbapi_conn))
        if self._bounded:
            return 0, CACHE_KIB
        if self._passages is None or self._passages > knn.MATRIX_MAX_ROWS:
            return _MAPPED
        return 0, CACHE_KIB if self._passages <= FULL_CACHE_MAX_ROWS else UNMAPPED_READ_CACHE_KIB

    def _on_checkout(self, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        wanted = self._file_access(dbapi_conn)
        had = record.info.get(_FILE_ACCESS, _MAPPED)
        if had != wanted:
            if had[0] != wanted[0]:
                set_file_map(dbapi_conn, wanted[0])
            if had[1] != wanted[1]:
                set_page_cache(dbapi_conn, wanted[1])
            record.info[_FILE_ACCESS] = wanted

    def writer_lock(self, *, wait: float = 0, command: str | None = None) -> AbstractContextManager[LockHolder]:
        return lockfile.writer_lock(self.path, wait=wait, command=command)

    def writer_busy(self) -> bool:
        return lockfile.lock_holder(self.path) is not None

    def run_is_live(self, pid: int | None) -> bool:
        holder = lockfile.lock_holder(self.path)
        if holder is None or not lockfile.pid_alive(pid):
            return False
        return holder.pid is None or holder.pid == pid

    def errors(self) -> AbstractContextManager[None]:
        return translate_errors(self.path)

    def require_writable(self) -> None:
        if self.read_only:
            raise read_only_error(self.path)

    # -- schema
    def revision(self) -> str | None:
        return migrate.current_revision(self.engine)

    def upgrade(self, dimension: int | None = None) -> None:
        migrate.upgrade(self.engine, dimension=dimension)

    def ensure_current(self) -> None:
        migrate.ensure_current(self.engine)

    def schema_drift(self) -> list[str]:
        return migrate.schema_drift(self.engine)

    # -- maintenance
    def size_bytes(self) -> int:
        """The database file plus its WAL."""
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    def vacuum(self) -> None:
        raw = self.engine.raw_connection()
        try:
            writes.vacuum(raw.driver_connection)
        finally:
            raw.close()

    def backup(self, target: Path) -> None:
        # The target is opened with the driver the archive uses (stdlib sqlite3 or sqlean).
        copy = pick_driver().module.connect(str(target))
        raw = self.engine.raw_connection()
        try:
            source = raw.driver_connection
            if source is None:  # only a pool-invalidated connection has none; a fresh checkout never is
                raise OperationError("the database connection closed before the backup started: run the backup again")
            source.backup(copy)
        finally:
            raw.close()
            copy.close()

    def query_only(self) -> None:
        make_read_only(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def _highest_passage(dbapi_conn: Any) -> int | None:
    """``knn.approx_passages`` on a DB-API connection; None before the schema exists."""
    try:
        cursor = dbapi_conn.execute(knn.APPROX_PASSAGES_SQL)
    except pick_driver().module.Error:  # no such table: a new file, or a migration under way
        return None
    try:  # closed at once: SQLite keeps a map it is asked to drop while a statement still reads it
        return int(cursor.fetchone()[0] or 0)
    finally:
        cursor.close()
