"""DDL and SQL for the virtual tables (sqlite-vec ``vec0`` and FTS5).

Used by migrations (create) and by the store (query, insert, swap). Table names
are never user input: they come from this module or the ``embedding_models`` row.
"""

from __future__ import annotations

import json
import re

from archive.store.sqlite.sql import SqlConnection

VEC_TABLE = "vec_chunks"
FTS_TABLE = "fts_chunks"
DEFAULT_DIMENSION = 384
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_ident(name: str) -> str:
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
        f"CREATE VIRTUAL TABLE {check_ident(table)} USING vec0("
        f"chunk_id INTEGER PRIMARY KEY, "
        f"embedding float[{int(dimension)}] distance_metric=cosine, "
        f"source_id INTEGER, published INTEGER, language TEXT)"
    )


# Article vectors (headline and lead embedded as one) live beside each passage vector table, by
# the same model: ``vec_chunks`` -> ``vec_articles``, ``vec_chunks_2`` -> ``vec_articles_2``.
ARTICLE_VEC_TABLE = "vec_articles"


def article_table_for(table: str) -> str:
    """Name of the article vector table that goes with passage vector table ``table``."""
    if not table.startswith(VEC_TABLE):
        raise ValueError(f"not a passage vector table: {table!r}")
    return check_ident(ARTICLE_VEC_TABLE + table[len(VEC_TABLE) :])


def is_article_table(name: str) -> bool:
    """True for an article vector table (listings of passage vector tables skip it)."""
    return name.startswith(ARTICLE_VEC_TABLE)


def article_table_ddl(table: str, dimension: int) -> str:
    """vec0 table of article vectors keyed by article id, metadata columns as in :func:`vec_table_ddl`."""
    if dimension < 1:
        raise ValueError("dimension must be positive")
    return (
        f"CREATE VIRTUAL TABLE {article_table_for(table)} USING vec0("
        f"article_id INTEGER PRIMARY KEY, "
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


# Whole articles (headline and text) are keyword-indexed too: article-level BM25 and headline
# matches rank the article a reader means; passages alone miss words spread over the article.
ARTICLE_FTS_TABLE = "fts_articles"
ARTICLE_FTS_DDL = (
    f"CREATE VIRTUAL TABLE {ARTICLE_FTS_TABLE} USING fts5("
    f"title, text, content='articles', content_rowid='id', tokenize='{FTS_TOKENIZER}')"
)
# Exact copies hold no text (NULL): their headline is still indexed, under their own id.
ARTICLE_FTS_TRIGGERS = (
    f"""CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
  INSERT INTO {ARTICLE_FTS_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
    f"""CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN
  INSERT INTO {ARTICLE_FTS_TABLE}({ARTICLE_FTS_TABLE}, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
END""",
    f"""CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, text ON articles BEGIN
  INSERT INTO {ARTICLE_FTS_TABLE}({ARTICLE_FTS_TABLE}, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
  INSERT INTO {ARTICLE_FTS_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
)
ARTICLE_FTS_TRIGGER_NAMES = ("articles_fts_ai", "articles_fts_ad", "articles_fts_au")


def is_virtual_or_shadow(name: str) -> bool:
    """True for vec0/FTS5 tables and their shadow tables (kept out of autogenerate)."""
    return name.startswith(("vec_", "fts_"))


def vec_table_dimension(conn: SqlConnection, table: str) -> int | None:
    """Read the vector dimension from the table's DDL; None if the table is missing."""
    row = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (check_ident(table),)
    ).fetchone()
    if row is None or row[0] is None:
        return None
    match = re.search(r"float\[(\d+)\]", row[0])
    return int(match.group(1)) if match else None


def create_vec_table(conn: SqlConnection, table: str, dimension: int) -> None:
    """Create a float vector table and its (empty) bit prefilter table; ingest writes both."""
    conn.exec_driver_sql(vec_table_ddl(table, dimension))
    conn.exec_driver_sql(article_table_ddl(table, dimension))
    ensure_bits_table(conn, table)


def drop_vec_table(conn: SqlConnection, table: str) -> None:
    """Drop a float vector table, its prefilter table and its article vector table."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {bits_table_for(table)}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {article_table_for(table)}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {check_ident(table)}")


# -- binary-quantized prefilter tables ---------------------------------------
# Each float vector table may have a ``<table>_bits`` companion holding the sign
# bits of every vector (48 bytes instead of 1,536 at 384-d) with the same
# metadata columns. Large archives scan it first, then rescore with floats.
BITS_SUFFIX = "_bits"


def bits_table_for(table: str) -> str:
    """Name of the bit[N] prefilter table that goes with float vector table ``table``."""
    return check_ident(f"{table}{BITS_SUFFIX}")


def is_bits_table(name: str) -> bool:
    """True for a prefilter table (so listings of float vector tables can skip it)."""
    return name.endswith(BITS_SUFFIX)


def bits_table_ddl(table: str, dimension: int) -> str:
    """vec0 ``bit[dimension]`` table keyed by chunk id, metadata columns as in :func:`vec_table_ddl`."""
    if dimension < 8 or dimension % 8:
        raise ValueError("a bit vector's dimension must be a positive multiple of 8")
    return (
        f"CREATE VIRTUAL TABLE {bits_table_for(table)} USING vec0("
        f"chunk_id INTEGER PRIMARY KEY, embedding bit[{int(dimension)}], "
        f"source_id INTEGER, published INTEGER, language TEXT)"
    )


def table_exists(conn: SqlConnection, name: str) -> bool:
    """True when a table (virtual or not) called ``name`` exists."""
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return conn.exec_driver_sql(sql, (check_ident(name),)).first() is not None


def ensure_bits_table(conn: SqlConnection, table: str) -> str | None:
    """Create the prefilter table of float table ``table`` if missing and add the vectors it lacks.

    Returns its name, or None when ``table`` is missing or its dimension is not a
    multiple of 8 (then searches simply stay exact). Safe to call again: only
    rows missing from the bit table are added. Call it inside the transaction
    that created or filled ``table``.
    """
    dimension = vec_table_dimension(conn, table)
    if dimension is None or dimension % 8:
        return None
    bits = bits_table_for(table)
    columns = "chunk_id, embedding, source_id, published, language"
    quantized = "v.chunk_id, vec_quantize_binary(v.embedding), v.source_id, v.published, v.language"
    if not table_exists(conn, bits):
        conn.exec_driver_sql(bits_table_ddl(table, dimension))
        conn.exec_driver_sql(f"INSERT INTO {bits}({columns}) SELECT {quantized} FROM {check_ident(table)} AS v")
        return bits
    # Reading the target inside INSERT ... SELECT would stage rows in a temp table, which drops the
    # "bit vector" subtype vec_quantize_binary() sets: look up the missing ids first instead.
    missing = [r[0] for r in conn.exec_driver_sql(f"SELECT chunk_id FROM {table} EXCEPT SELECT chunk_id FROM {bits}")]
    for start in range(0, len(missing), 10_000):
        conn.exec_driver_sql(
            f"INSERT INTO {bits}({columns}) SELECT {quantized} FROM json_each(?) AS j "
            f"CROSS JOIN {table} AS v ON v.chunk_id = j.value",
            (json.dumps(missing[start : start + 10_000]),),
        )
    return bits


def existing_bits_table(conn: SqlConnection, table: str) -> str | None:
    """The prefilter table of ``table`` if it exists, else None."""
    bits = bits_table_for(table)
    return bits if table_exists(conn, bits) else None
