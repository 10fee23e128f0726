"""Article vectors for articles stored without one: archives from before they existed, and reembed.

One committed transaction per batch, so an interrupted fill keeps what it embedded and the next
run goes on from there; the model record is marked complete only when every article holding
text has its vector, and search uses article vectors only from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from archive.embedding.base import Embedder
from archive.embedding.precision import precision_of
from archive.errors import OperationError
from archive.store.interface import Store
from archive.store.records import vector_row
from archive.text.context import article_input

ARTICLES_PER_BATCH = 256


@dataclass(frozen=True)
class ArticleVectorReport:
    """What filling article vectors did."""

    model: str
    table: str
    embedded: int  # articles embedded now
    already: int  # articles that had their vector

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fill_article_vectors(
    store: Store,
    embedder: Embedder,
    table: str,
    *,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> ArticleVectorReport:
    """Embed every article holding text that has no vector beside ``table``; the caller holds the writer lock."""
    with store.reader() as reader:
        have = reader.article_vector_ids(table)
    embedded, already, last_id = 0, 0, 0
    while True:
        with store.reader() as reader:
            rows = reader.articles_for_vectors(last_id, ARTICLES_PER_BATCH)
        if not rows:
            break
        last_id = rows[-1].id
        todo = [r for r in rows if r.id not in have]
        already += len(rows) - len(todo)
        if todo:
            matrix = embedder.embed([article_input(r.title, r.text) for r in todo], batch_size=batch_size)
            vectors = [
                vector_row(r.id, np.asarray(v, dtype=np.float32).tobytes(), r.source_id, r.published_at, r.language)
                for r, v in zip(todo, matrix, strict=True)
            ]
            with store.writer() as writer:
                writer.add_article_vectors(vectors, table=table)
                writer.note_precision(precision_of(embedder), table=table)
            embedded += len(todo)
        if progress is not None:
            progress(len(rows))
    with store.writer() as writer:
        writer.mark_article_vectors(True, table=table)
    return ArticleVectorReport(embedder.name, table, embedded, already)


def embed_articles(
    store: Store,
    embedder: Embedder,
    *,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    wait: float = 0,
) -> ArticleVectorReport:
    """Give every article its article vector in the active model's table, under the writer lock.

    ``embedder`` must be the model the archive records (the caller checked it, as opening does).
    """
    with store.writer_lock(wait=wait, command="reembed --articles"), store.bounded_memory():
        with store.reader() as reader:
            active = reader.active_model()
        if active is None:
            raise OperationError("this archive records no embedding model: ingest something first")
        return fill_article_vectors(store, embedder, active.vector_table, batch_size=batch_size, progress=progress)
