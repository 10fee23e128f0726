"""DDL and SQL for the virtual tables (sqlite-vec ``vec0`` and FTS5).

Used by migrations (create) and by the store (query, insert, swap). Table names
are never user input: they come from this module or the ``embedding_models`` row.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection

VEC_TABLE = "vec_chunks"
FTS_TABLE = "fts_chunks"
DEFAULT_DIMENSION = 384
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _check_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"invalid table name {name!r}")
    return name


def vec_table_ddl(table: str, dimension: int) -> str:
    """vec0 table keyed by chunk id, with metadata columns used as KNN pre-filters.

    Metadata columns cannot hold NULL: unknown dates are 0, unknown language ''.
    """
    if dimension < 1:
        raise ValueError("dimension must be positive")
    return (
        f"CREATE VIRTUAL TABLE {_check_ident(table)} USING vec0("
        f"chunk_id INTEGER PRIMARY KEY, "
        f"embedding float[{int(dimension)}] distance_metric=cosine, "
        f"source_id INTEGER, published INTEGER, language TEXT)"
    )


FTS_DDL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
    f"text, content='chunks', content_rowid='id', tokenize='{FTS_TOKENIZER}')"
)

# External-content FTS5 stays in sync with ``chunks`` through these triggers.
FTS_TRIGGERS = (
    f"""CREATE TRIGGER chunks_fts_ai AFTER INSERT ON chunks BEGIN
  INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
END""",
    f"""CREATE TRIGGER chunks_fts_ad AFTER DELETE ON chunks BEGIN
  INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
END""",
    f"""CREATE TRIGGER chunks_fts_au AFTER UPDATE OF text ON chunks BEGIN
  INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
END""",
)


def is_virtual_or_shadow(name: str) -> bool:
    """True for vec0/FTS5 tables and their shadow tables (kept out of autogenerate)."""
    return name.startswith(("vec_", "fts_"))


def vec_table_dimension(conn: Connection, table: str) -> int | None:
    """Read the vector dimension from the table's DDL; None if the table is missing."""
    row = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (_check_ident(table),)
    ).fetchone()
    if row is None or row[0] is None:
        return None
    match = re.search(r"float\[(\d+)\]", row[0])
    return int(match.group(1)) if match else None


def create_vec_table(conn: Connection, table: str, dimension: int) -> None:
    conn.exec_driver_sql(vec_table_ddl(table, dimension))


def drop_vec_table(conn: Connection, table: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_check_ident(table)}")
