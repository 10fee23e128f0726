"""What the facade reads outside search: an article and its copies, duplicate groups, spans, stats."""

from __future__ import annotations

from typing import Any

from archive.errors import NotFoundError
from archive.results import ArticleView, DuplicateGroup, Source
from archive.store.interface import Store


def _no_article(article_id: int) -> NotFoundError:
    return NotFoundError(f"no article with id {article_id}: see `archive search` for ids")


def article_view(store: Store, article_id: int) -> ArticleView:
    """An article with its text (from its canonical copy when it is an exact duplicate)."""
    with store.reader() as reader:
        row = reader.article(article_id)
        if row is None:
            raise _no_article(article_id)
        text = row.text
        if text is None and row.canonical_id is not None:
            canonical = reader.article(row.canonical_id)
            text = canonical.text if canonical is not None else None
        family = sorted(reader.article_copies(article_id), key=lambda r: (r.published_at or "9999", r.id))
    return ArticleView(
        id=row.id,
        title=row.title,
        text=text or "",
        outlet=row.outlet,
        url=row.url,
        published=row.published_at,
        canonical_id=row.canonical_id,
        duplicate_kind=row.duplicate_kind,
        copies=tuple(Source(r.id, r.outlet, r.title, r.url, r.published_at, r.duplicate_kind) for r in family),
    )


def duplicate_groups(store: Store, article_id: int | None, limit: int | None) -> list[DuplicateGroup]:
    """Duplicate groups (largest first), or the one holding ``article_id``."""
    with store.reader() as reader:
        if article_id is not None and reader.article(article_id) is None:
            raise _no_article(article_id)
        groups = reader.duplicate_groups(article_id, limit)
    return [DuplicateGroup(_source(canon), tuple(_source(c) for c in copies)) for canon, copies in groups]


def chunk_span(store: Store, chunk_id: int, article_id: int | None) -> tuple[int, int]:
    """(char_start, char_end) of a passage, which must belong to ``article_id`` (or its canonical) when given."""
    with store.reader() as reader:
        span = reader.chunk_span(chunk_id, article_id)
        exists = span is not None or reader.chunk_span(chunk_id) is not None
    if span is None and exists:
        raise NotFoundError(
            f"passage {chunk_id} is not in article {article_id}: use a chunk_id and article_id from "
            "the same `archive search --json` result"
        )
    if span is None:
        raise NotFoundError(f"no passage with id {chunk_id}: use a chunk_id from `archive search --json`")
    return span


def stats(store: Store) -> dict[str, object]:
    """Counts, date span, database size and model."""
    with store.reader() as reader:
        data: dict[str, object] = dict(reader.counts())
        first, last = reader.date_span()
        active = reader.active_model()
    data.update(
        first_published=first,
        last_published=last,
        db_path=store.location,
        db_bytes=store.size_bytes(),
        model=active.name if active else None,
        dimension=active.dimension if active else None,
        precision=active.precision if active else None,  # what the vectors were computed in
        driver=store.driver_name,
    )
    return data


def _source(row: Any) -> Source:
    score = getattr(row, "duplicate_score", None)
    return Source(row.id, row.outlet, row.title, row.url, row.published_at, row.duplicate_kind, score)
