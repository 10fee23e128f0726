"""`archive reembed`: move an archive to another embedding model.

Every chunk (and every article's headline and lead) is embedded into a new vec0 table, batch by batch, while the old
table keeps serving searches. One last transaction makes the new model active
and drops the old table, so a crash midway leaves the old model in charge; the
half-built table is dropped by the next reembed (and reported by doctor).
The writer lock is held throughout so that no ingest adds chunks meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archive.embedding.base import Embedder
from archive.embedding.loader import load_embedder
from archive.embedding.precision import precision_of
from archive.errors import OperationError
from archive.ops.article_vectors import fill_article_vectors
from archive.store.interface import Store
from archive.store.open import location_errors, open_store
from archive.store.records import VectorRow, vector_row
from archive.text.context import CURRENT_PASSAGE_FORMAT, passage_input

ProgressFn = Callable[[int], None]
CHUNKS_PER_BATCH = 512  # chunks embedded and committed together


@dataclass(frozen=True)
class ReembedReport:
    """What a reembed did: the model and table now active, and those replaced."""

    model: str
    dimension: int
    table: str
    old_model: str
    old_table: str
    chunks: int
    dropped_leftovers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reembed(
    store: Store,
    embedder: Embedder,
    *,
    batch_size: int = 32,
    chunks_per_batch: int = CHUNKS_PER_BATCH,
    progress: ProgressFn | None = None,
    wait: float = 0,
) -> ReembedReport:
    """Embed every chunk with ``embedder`` into a new table, then switch to it atomically.

    ``progress`` hears the number of chunks done after every batch.
    """
    if batch_size < 1 or chunks_per_batch < 1:
        raise OperationError("--batch-size must be at least 1")
    with store.writer_lock(wait=wait), store.bounded_memory():
        with store.writer() as writer:
            active = writer.active_model()
            if active is None:
                raise OperationError("this archive records no embedding model: run `archive db upgrade` first")
            old_model, old_table = active.name, active.vector_table
            leftovers = tuple(t for t in writer.vector_tables() if t != old_table)
            for table in leftovers:
                writer.drop_vector_table(table)
            table = writer.free_vector_table()
            writer.create_vector_table(table, embedder.dimension)
        chunks = _fill(store, embedder, table, batch_size, chunks_per_batch, progress)
        fill_article_vectors(store, embedder, table, batch_size=batch_size)
        with store.writer() as writer:
            fingerprint = getattr(embedder, "fingerprint", None)
            precision = precision_of(embedder) if chunks else None
            writer.record_model(embedder.name, embedder.dimension, fingerprint, table, precision=precision)
            writer.drop_vector_table(old_table)
    store.vector_table = table
    return ReembedReport(embedder.name, embedder.dimension, table, old_model, old_table, chunks, leftovers)


def reembed_database(
    db_path: Path | str,
    model: str,
    *,
    home: Path,
    batch_size: int = 32,
    progress: ProgressFn | None = None,
    wait: float = 0,
) -> ReembedReport:
    """Reembed the archive file at ``db_path`` with ``model`` (no need to load its current model)."""
    with location_errors(db_path):
        store = open_store(db_path, create=False)
        try:
            with store.errors():
                store.require_writable()
                store.ensure_current()
                embedder = load_embedder(model, home=home)
                return reembed(store, embedder, batch_size=batch_size, progress=progress, wait=wait)
        finally:
            store.close()


def _fill(
    store: Store, embedder: Embedder, table: str, batch_size: int, per_batch: int, progress: ProgressFn | None
) -> int:
    """Embed chunks in id order, one committed transaction per batch; returns the number of chunks."""
    done, last_id = 0, 0
    while True:
        with store.reader() as reader:
            rows = reader.chunks_to_embed(last_id, per_batch)
        if not rows:
            return done
        vectors = _vector_rows(embedder, rows, batch_size)
        with store.writer() as writer:
            writer.add_vector_rows(vectors, table=table)
        done, last_id = done + len(rows), rows[-1].id
        if progress is not None:
            progress(len(rows))


def _vector_rows(embedder: Embedder, rows: list[Any], batch_size: int) -> list[VectorRow]:
    # Identical passages (syndicated copies) are embedded once per batch.
    texts: dict[tuple[str, str], str] = {}
    for row in rows:
        texts.setdefault((row.text_hash, row.title or ""), passage_input(row.text, row.title, CURRENT_PASSAGE_FORMAT))
    matrix = embedder.embed(list(texts.values()), batch_size=batch_size)
    by_key = dict(zip(texts, np.asarray(matrix, dtype=np.float32)))
    return [
        vector_row(
            row.id, by_key[(row.text_hash, row.title or "")].tobytes(), row.source_id, row.published_at, row.language
        )
        for row in rows
    ]
