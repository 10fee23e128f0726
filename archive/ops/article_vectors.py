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
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from archive.embedding.base import Embedder
from archive.store.sqlite import article_vectors
from archive.text.context import article_input
from archive.text.dates import date_key

ARTICLES_PER_BATCH = 256


@dataclass(frozen=True)
class ArticleVectorReport:
    """What filling article vectors did."""

    table: str
    embedded: int  # articles embedded now
    already: int  # articles that had their vector

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fill_article_vectors(
    writer: Engine,
    embedder: Embedder,
    table: str,
    *,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> ArticleVectorReport:
    """Embed every article holding text that has no vector beside ``table``; the caller holds the writer lock."""
    with Session(writer) as session:
        have = article_vectors.stored_ids(session, table)
    embedded, already, last_id = 0, 0, 0
    while True:
        with Session(writer.execution_options(sqlite_begin="DEFERRED")) as session:
            rows = article_vectors.articles_after(session, last_id, ARTICLES_PER_BATCH)
        if not rows:
            break
        last_id = rows[-1].id
        todo = [r for r in rows if r.id not in have]
        already += len(rows) - len(todo)
        if todo:
            matrix = embedder.embed([article_input(r.title, r.text) for r in todo], batch_size=batch_size)
            vectors = [
                (
                    r.id,
                    np.asarray(v, dtype=np.float32).tobytes(),
                    r.source_id or 0,
                    date_key(r.published_at),
                    r.language or "",
                )
                for r, v in zip(todo, matrix, strict=True)
            ]
            with Session(writer) as session, session.begin():
                article_vectors.add(session, vectors, table)
            embedded += len(todo)
        if progress is not None:
            progress(len(rows))
    with Session(writer) as session, session.begin():
        article_vectors.mark_complete(session, table)
    return ArticleVectorReport(table, embedded, already)
