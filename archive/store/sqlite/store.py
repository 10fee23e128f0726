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
from archive.store.sqlite import writes
from archive.store.sqlite.driver import MMAP_BYTES, set_file_map
from archive.store.sqlite.engine import create_archive_engine, engine_path, is_read_only, pick_driver
from archive.store.sqlite.errors import read_only_error, translate_errors
from archive.store.sqlite.readonly import make_read_only
from archive.store.sqlite.session import SqliteReader, SqliteWriter
from archive.store.sqlite.vtables import VEC_TABLE

_MAP_SIZE = "archive_mmap_size"  # what a pooled connection maps now, when bounded_memory() changed it


class SqliteStore:
    """An archive in one SQLite file (sqlite-vec vectors, FTS5 keyword index, a ``.lock`` sidecar)."""

    def __init__(self, engine: Engine, vector_table: str = VEC_TABLE, *, prefilter_min_rows: int | None = None) -> None:
        self.engine = engine
        self.vector_table = vector_table
        self.prefilter_min_rows = prefilter_min_rows
        self.location = engine_path(engine)
        self._bounded = 0  # bounded_memory() blocks open now, on any thread
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
            yield SqliteReader(session, self.vector_table, prefilter_min_rows=self.prefilter_min_rows)

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
        cache (``cache_size``, bounded) and the OS's. Searches outside such a block map it again.
        """
        with self._bounded_lock:
            self._bounded += 1
        try:
            yield
        finally:
            with self._bounded_lock:
                self._bounded -= 1

    def _on_checkout(self, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        size = 0 if self._bounded else MMAP_BYTES
        if record.info.get(_MAP_SIZE, MMAP_BYTES) != size:  # a new connection maps MMAP_BYTES
            set_file_map(dbapi_conn, size)
            record.info[_MAP_SIZE] = size

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
