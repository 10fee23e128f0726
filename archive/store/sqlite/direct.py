"""A read snapshot of a SQLite archive opened straight through the driver, without SQLAlchemy.

What a one-shot ``archive search`` runs on: importing SQLAlchemy and the ORM costs more than
the search itself. It serves only an archive that is plainly ready (the file exists, its
schema is at this code's head revision, one active model with its vector table); for
anything else :func:`open_snapshot` returns None and the caller opens the store as usual,
which reports whatever is wrong in its own words. The connection refuses writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.store import migrate
from archive.store.records import ModelRecord
from archive.store.sqlite.driver import access_mode, file_uri, pick_driver, prepare_connection
from archive.store.sqlite.search import SqliteSearchReader
from archive.store.sqlite.sql import DirectConnection, DirectSession
from archive.store.sqlite.vtables import vec_table_dimension

_MODEL_SQL = (
    "SELECT name, dimension, vector_table, passage_format, fingerprint, article_vectors, precision "
    "FROM embedding_models WHERE is_active"
)


@dataclass
class DirectSnapshot:
    """One read snapshot of an up-to-date archive, and the model its vectors come from."""

    conn: DirectConnection
    model: ModelRecord
    dimension: int  # of the active vector table, as its DDL declares it

    def reader(self, *, prefilter_min_rows: int | None) -> SqliteSearchReader:
        """A reader for the one search of a one-shot process: it loads no shared matrix, which would read
        every vector for one query that vec0's scans and bit table answer in less."""
        return SqliteSearchReader(
            DirectSession(self.conn),
            self.model.vector_table,
            prefilter_min_rows=prefilter_min_rows,
            hold_matrices=False,
        )

    def close(self) -> None:
        self.conn.close()


def open_snapshot(location: str) -> DirectSnapshot | None:
    """A read snapshot of the archive file at ``location``; None when it needs the store's full open."""
    file = Path(location).expanduser()
    if location == ":memory:" or not file.is_file():
        return None
    head = migrate.quick_head()
    if head is None:
        return None
    driver = pick_driver()
    mode = access_mode(file)
    target, uri = (str(file), False) if mode == "rw" else (file_uri(str(file), mode), True)
    raw = driver.module.connect(target, uri=uri, isolation_level=None)
    conn = DirectConnection(raw)
    try:
        prepare_connection(raw)
        raw.execute("PRAGMA query_only = ON")
        snapshot = _ready(conn, head, wal=mode == "rw")
    except BaseException:
        conn.close()
        raise
    if snapshot is None:
        conn.close()
    return snapshot


def _ready(conn: DirectConnection, head: str, *, wal: bool) -> DirectSnapshot | None:
    """The snapshot when the archive is ready; ``wal``: a writable file must already be in WAL mode
    (the store's engine switches any other, which a read-only connection cannot)."""
    if wal and str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower() != "wal":
        return None
    tables = {
        str(r[0])
        for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('alembic_version', 'embedding_models')"
        )
    }
    if tables != {"alembic_version", "embedding_models"}:
        return None
    revisions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    if [tuple(r) for r in revisions] != [(head,)]:
        return None  # before reading the model record, whose columns are the head revision's
    models = conn.exec_driver_sql(_MODEL_SQL).all()
    if len(models) != 1:
        return None
    name, dimension, table, passage_format, fingerprint, article_vectors, precision = models[0]
    declared = vec_table_dimension(conn, str(table))
    if declared is None or declared != int(dimension):
        return None
    model = ModelRecord(
        str(name), int(dimension), str(table), str(passage_format), fingerprint, bool(article_vectors), precision
    )
    return DirectSnapshot(conn, model, declared)
