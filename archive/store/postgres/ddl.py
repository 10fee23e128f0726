"""PostgreSQL DDL: pgvector tables with an HNSW cosine index, generated tsvector columns with GIN.

Used by the migrations (guarded by ``op.get_bind().dialect.name``) and by reembed. Table names
are never user input: they come from here or the ``embedding_models`` row.
"""

from __future__ import annotations

import re

# One naming rule for both backends: vec_chunks -> vec_articles.
from archive.store.sqlite.vtables import article_table_for

TEXT_CONFIG = "simple"  # no stemming, no stopwords: the archive holds Ukrainian, Russian and English
SEARCH_COLUMN = "search_vector"  # the generated tsvector of chunks (text) and articles (title 'A', text 'B')
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

EXTENSION_DDL = "CREATE EXTENSION IF NOT EXISTS vector"


def check_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"invalid table name {name!r}")
    return name


def hnsw_index_name(table: str) -> str:
    return f"{check_ident(table)}_hnsw"


def hnsw_index_ddl(table: str) -> str:
    """The HNSW cosine index of vector table ``table``: the migrations' shape, also rebuilt by bulk loads."""
    return f"CREATE INDEX {hnsw_index_name(table)} ON {check_ident(table)} USING hnsw (embedding vector_cosine_ops)"


def vector_table_ddl(table: str, dimension: int) -> list[str]:
    """A vector table keyed by chunk id with the filter columns, and its HNSW cosine index."""
    if dimension < 1:
        raise ValueError("dimension must be positive")
    name = check_ident(table)
    return [
        f"CREATE TABLE {name} (chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE, "
        f"embedding vector({int(dimension)}) NOT NULL, source_id INTEGER NOT NULL DEFAULT 0, "
        f"published INTEGER NOT NULL DEFAULT 0, language TEXT NOT NULL DEFAULT '')",
        hnsw_index_ddl(name),
        f"CREATE INDEX {name}_published ON {name} (published)",
        f"CREATE INDEX {name}_source_id ON {name} (source_id)",
    ]


def article_table_ddl(table: str, dimension: int) -> list[str]:
    """The article vector table beside passage vector table ``table`` (one row per article), HNSW-indexed."""
    if dimension < 1:
        raise ValueError("dimension must be positive")
    name = check_ident(article_table_for(table))
    return [
        f"CREATE TABLE {name} (article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE, "
        f"embedding vector({int(dimension)}) NOT NULL, source_id INTEGER NOT NULL DEFAULT 0, "
        f"published INTEGER NOT NULL DEFAULT 0, language TEXT NOT NULL DEFAULT '')",
        hnsw_index_ddl(name),
    ]


CHUNKS_SEARCH_DDL = (
    f"ALTER TABLE chunks ADD COLUMN {SEARCH_COLUMN} tsvector "
    f"GENERATED ALWAYS AS (to_tsvector('{TEXT_CONFIG}', text)) STORED",
    f"CREATE INDEX ix_chunks_{SEARCH_COLUMN} ON chunks USING gin ({SEARCH_COLUMN})",
)
ARTICLES_SEARCH_DDL = (
    f"ALTER TABLE articles ADD COLUMN {SEARCH_COLUMN} tsvector GENERATED ALWAYS AS ("
    f"setweight(to_tsvector('{TEXT_CONFIG}', coalesce(title, '')), 'A') || "
    f"setweight(to_tsvector('{TEXT_CONFIG}', coalesce(text, '')), 'B')) STORED",
    f"CREATE INDEX ix_articles_{SEARCH_COLUMN} ON articles USING gin ({SEARCH_COLUMN})",
)


def is_search_index(name: str) -> bool:
    return name.endswith(SEARCH_COLUMN)
