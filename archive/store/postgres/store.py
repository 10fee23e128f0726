"""The PostgreSQL backend of :class:`archive.store.interface.Store`: one database on a server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from archive.config import redact_url
from archive.errors import OperationError
from archive.store import migrate
from archive.store.postgres.bulk import deferred_hnsw, restore_hnsw
from archive.store.postgres.dump import dump
from archive.store.postgres.engine import create_pg_engine, translate_errors
from archive.store.postgres.lock import AdvisoryLock
from archive.store.postgres.session import PostgresReader, PostgresWriter
from archive.store.sqlite.vtables import VEC_TABLE


class PostgresStore:
    """An archive in a PostgreSQL database (pgvector HNSW vectors, tsvector keyword search)."""

    def __init__(self, engine: Engine, url: str, vector_table: str = VEC_TABLE, *, pg_dump: str | None = None) -> None:
        self.engine = engine
        self.pg_dump = pg_dump
        self.url = url
        self.location = redact_url(url)
        self.vector_table = vector_table
        self.prefilter_min_rows: int | None = None  # the HNSW index needs no prefilter
        self._lock = AdvisoryLock(engine, self.location)
        self._query_only = False

    @classmethod
    def open(cls, url: str, *, pg_dump: str | None = None) -> PostgresStore:
        with translate_errors(url):
            engine = create_pg_engine(url)
            with engine.connect() as conn:  # fail here, with the fix, when the server cannot be reached
                conn.exec_driver_sql("SELECT 1")
        return cls(engine, url, pg_dump=pg_dump)

    @property
    def path(self) -> Path:
        return Path(self.location)

    @property
    def driver_name(self) -> str:
        with self.engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            vector = conn.exec_driver_sql("SELECT extversion FROM pg_extension WHERE extname = 'vector'").scalar()
        return f"PostgreSQL {version}, pgvector {vector or 'not installed'} (psycopg)"

    @property
    def read_only(self) -> bool:
        return self._query_only

    @contextmanager
    def reader(self) -> Iterator[PostgresReader]:
        with Session(self.engine) as session:
            yield PostgresReader(session, self.vector_table)

    @contextmanager
    def writer(self) -> Iterator[PostgresWriter]:
        with Session(self.engine) as session, session.begin():
            yield PostgresWriter(session, self.vector_table)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """A large load: the HNSW indexes are dropped for the block and built once after it."""
        with deferred_hnsw(self.engine, self.vector_table):
            yield

    def bounded_memory(self) -> AbstractContextManager[None]:
        return nullcontext()  # the server holds the data: this process maps nothing

    def writer_lock(self, *, wait: float = 0, command: str | None = None) -> AbstractContextManager[int]:
        return self._lock.hold(wait=wait, command=command)

    def writer_busy(self) -> bool:
        return self._lock.busy()

    def run_is_live(self, pid: int | None) -> bool:
        # A run's process may be on another machine: only a held writer lock says it is going.
        return self._lock.busy()

    def errors(self) -> AbstractContextManager[None]:
        return translate_errors(self.url)

    def require_writable(self) -> None:
        if self._query_only:
            raise OperationError(f"{self.location} is opened read-only here (the web server): writes are refused")

    # -- schema
    def revision(self) -> str | None:
        return migrate.current_revision(self.engine)

    def upgrade(self, dimension: int | None = None) -> None:
        migrate.upgrade(self.engine, dimension=dimension)
        self.engine.dispose()

    def ensure_current(self) -> None:
        migrate.ensure_current(self.engine)

    def schema_drift(self) -> list[str]:
        return migrate.schema_drift(self.engine)

    # -- maintenance
    def size_bytes(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() or 0)

    def vacuum(self) -> None:
        restore_hnsw(self.engine, self.vector_table)  # left out by a bulk load that was killed
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")

    def backup(self, target: Path) -> None:
        dump(self.url, target, self.pg_dump)

    def query_only(self) -> None:
        self._query_only = True

        @event.listens_for(self.engine, "connect")
        def _read_only(dbapi_conn: object, _record: object) -> None:
            cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cursor.execute("SET default_transaction_read_only = on")
            cursor.close()
            dbapi_conn.commit()  # type: ignore[attr-defined]

        self.engine.dispose()

    def close(self) -> None:
        self.engine.dispose()
