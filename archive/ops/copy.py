"""``archive copy SRC DEST``: the same archive in another backend (SQLite <-> PostgreSQL), vectors included.

Every table is copied with its ids, so article, passage and run ids stay what they were; the
active model's vectors are copied as stored (no re-embedding). The destination must be new or
empty. Both ends go through the store interface, so any pair of backends works. The vectors
go in inside the target's ``bulk_load`` (PostgreSQL: HNSW indexes built once, after the rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from archive.config import redact_url
from archive.errors import OperationError
from archive.store import migrate
from archive.store.interface import Store
from archive.store.open import location_errors, open_store

ROWS_PER_BATCH = 2000
# Parents before children, so foreign keys hold at every step.
TABLES = (
    "sources",
    "ingest_runs",
    "feeds",
    "embedding_models",
    "articles",
    "article_bands",
    "chunks",
    "feed_items",
    "outlet_sentences",
)


@dataclass(frozen=True)
class CopyReport:
    """What a copy moved: rows per table and vectors."""

    source: str
    target: str
    rows: dict[str, int]
    vectors: int
    article_vectors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def copy_archive(
    source: str | Path, target: str | Path, *, progress: Callable[[str, int], None] | None = None
) -> CopyReport:
    """Copy the archive at ``source`` into the new or empty archive at ``target``."""
    with location_errors(source):
        src = open_store(source, create=False)
    try:
        with location_errors(target):
            dest = open_store(target)
        try:
            with src.errors(), dest.errors():
                return _copy(src, dest, progress)
        finally:
            dest.close()
    finally:
        src.close()


def _copy(src: Store, dest: Store, progress: Callable[[str, int], None] | None) -> CopyReport:
    src.ensure_current()
    with src.reader() as reader:
        active = reader.active_model()
    if active is None:
        raise OperationError(f"{src.location} records no embedding model: run `archive db upgrade` on it first")
    src.vector_table = active.vector_table
    _prepare_target(dest, active.dimension)
    rows: dict[str, int] = {}
    target_table = dest.vector_table
    with dest.writer_lock(command="archive copy"):
        for table in TABLES:
            rows[table] = _copy_table(src, dest, table, active.vector_table, target_table)
            if progress is not None:
                progress(table, rows[table])
        with dest.bulk_load():  # the target is empty: PostgreSQL builds its HNSW indexes once, after the rows
            vectors = _copy_vectors(src, dest)
            if progress is not None:
                progress("vectors", vectors)
            articles = _copy_article_vectors(src, dest)
            if progress is not None:
                progress("article vectors", articles)
        with dest.writer() as writer:
            writer.ids_inserted()
    return CopyReport(src.location, redact_url(dest.location), rows, vectors, articles)


def _prepare_target(dest: Store, dimension: int) -> None:
    dest.require_writable()
    migrate.check_not_newer(dest.revision(), dest.location)
    if dest.revision() is None:
        dest.upgrade(dimension)
    dest.ensure_current()
    with dest.reader() as reader:
        if reader.counts()["articles"] or reader.active_model() is not None:
            raise OperationError(f"{dest.location} is not empty: copy into a new file or an empty database")
        dimension_there = reader.vector_dimension(dest.vector_table)  # a new store's own vector table
    if dimension_there != dimension:
        raise OperationError(f"{dest.location} has {dimension_there}-d vectors, the source {dimension}-d")


def _copy_table(src: Store, dest: Store, table: str, active_table: str, target_table: str) -> int:
    copied, offset = 0, 0
    while True:
        with src.reader() as reader:
            batch = reader.table_rows(table, offset, ROWS_PER_BATCH)
        if not batch:
            return copied
        if table == "embedding_models":  # the active vectors land in the target's own vector table
            batch = [
                {**r, "vector_table": target_table if r["vector_table"] == active_table else r["vector_table"]}
                for r in batch
            ]
        with dest.writer() as writer:
            writer.insert_rows(table, batch)
        copied, offset = copied + len(batch), offset + len(batch)


def _copy_vectors(src: Store, dest: Store) -> int:
    return _copy_vector_rows(src, dest, articles=False)


def _copy_article_vectors(src: Store, dest: Store) -> int:
    return _copy_vector_rows(src, dest, articles=True)


def _copy_vector_rows(src: Store, dest: Store, *, articles: bool) -> int:
    """Passage (or article) vector rows in key order, one committed batch at a time."""
    copied, last = 0, 0
    while True:
        with src.reader() as reader:
            batch = (reader.article_vector_rows if articles else reader.vector_rows)(last, ROWS_PER_BATCH)
        if not batch:
            return copied
        with dest.writer() as writer:
            (writer.add_article_vectors if articles else writer.add_vector_rows)(batch)
        copied, last = copied + len(batch), batch[-1][0]
