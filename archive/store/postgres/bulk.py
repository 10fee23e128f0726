"""Large loads into a PostgreSQL archive: the HNSW indexes built once after the rows, not row by row.

pgvector builds an HNSW graph far faster in one ``CREATE INDEX`` over loaded rows than by
inserting each row into an existing graph, as long as the graph fits in
``maintenance_work_mem`` (set for the build's session only, from the row count). The indexes
are rebuilt with the migrations' own statement (``ddl.hnsw_index_ddl``), so the schema is the
same after the load and ``alembic check`` stays clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from archive.store.postgres.ddl import check_ident, hnsw_index_ddl, hnsw_index_name
from archive.store.sqlite.vtables import article_table_for

# What one row takes in the build's graph beside its vector: neighbour lists (2 × m = 32 at
# layer 0) and element headers; an estimate, rounded up, so that the graph fits.
GRAPH_BYTES_PER_ROW = 1024
MIN_BUILD_MEMORY_MB = 64
MAX_BUILD_MEMORY_MB = 8192  # a bigger graph still builds, more slowly, past this session setting

_TABLES_PRESENT = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY(:names)"
_INDEX_EXISTS = "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :name"


@contextmanager
def deferred_hnsw(engine: Engine, vector_table: str) -> Iterator[list[str]]:
    """Drop the HNSW indexes of ``vector_table`` and its article table for the block, build them after.

    Yields the tables whose index was dropped. The indexes are rebuilt when the block ends, also
    when it raises; searches meanwhile are exact scans of the vector tables.
    """
    with engine.begin() as conn:
        dropped = [t for t in _tables(vector_table) if _has_index(conn, hnsw_index_name(t))]
        for table in dropped:
            conn.exec_driver_sql(f"DROP INDEX {hnsw_index_name(table)}")
    try:
        yield dropped
    finally:
        build_hnsw(engine, dropped)


def missing_hnsw(conn: Connection, vector_table: str) -> list[str]:
    """The tables of ``vector_table`` (passages, articles) that lack their HNSW index: a load killed inside
    ``deferred_hnsw`` leaves them so (searches then scan every row); ``archive vacuum`` rebuilds them."""
    present = {str(r[0]) for r in conn.execute(text(_TABLES_PRESENT), {"names": _tables(vector_table)})}
    return [t for t in _tables(vector_table) if t in present and not _has_index(conn, hnsw_index_name(t))]


def restore_hnsw(engine: Engine, vector_table: str) -> list[str]:
    """Build the HNSW indexes ``vector_table``'s tables lack; the tables rebuilt."""
    with engine.connect() as conn:
        missing = missing_hnsw(conn, vector_table)
    build_hnsw(engine, missing)
    return missing


def build_hnsw(engine: Engine, tables: list[str]) -> None:
    """``CREATE INDEX`` the HNSW index of each of ``tables``, with build memory sized to its rows."""
    with engine.connect() as conn:
        for table in tables:
            conn.exec_driver_sql(f"SET maintenance_work_mem = '{build_memory_mb(conn, table)}MB'")
            conn.exec_driver_sql(hnsw_index_ddl(table))
            conn.exec_driver_sql("RESET maintenance_work_mem")
            conn.commit()


def build_memory_mb(conn: Connection, table: str) -> int:
    """Megabytes for an HNSW build over ``table``'s rows: vectors plus graph, within the bounds above."""
    row = conn.exec_driver_sql(
        f"SELECT count(*), coalesce(max(vector_dims(embedding)), 0) FROM {check_ident(table)}"
    ).one()
    need = int(row[0]) * (4 * int(row[1]) + GRAPH_BYTES_PER_ROW)
    return max(MIN_BUILD_MEMORY_MB, min(MAX_BUILD_MEMORY_MB, -(-need // 2**20)))


def _tables(vector_table: str) -> list[str]:
    return [check_ident(vector_table), check_ident(article_table_for(vector_table))]


def _has_index(conn: Connection, name: str) -> bool:
    return conn.execute(text(_INDEX_EXISTS), {"name": name}).first() is not None
