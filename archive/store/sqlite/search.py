"""The SQLite backend of the search interface: one session per read snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.store.interface import Carrier, Filters, KeywordQuery, Passage, Vector, in_batches
from archive.store.models import Article, Chunk, Source
from archive.store.sqlite import article_vectors, keyword, knn
from archive.store.sqlite.reads import _article_meta
from archive.store.sqlite.vtables import VEC_TABLE


class SqliteSearchReader:
    """:class:`archive.store.interface.SearchReader` over one SQLAlchemy session."""

    def __init__(self, session: Session, table: str = VEC_TABLE, *, prefilter_min_rows: int | None = None) -> None:
        self.session = session
        self.table = table
        self.prefilter_min_rows = prefilter_min_rows
        self._approx: int | None = None
        self._articles_complete: bool | None = None

    def approx_passages(self) -> int:
        if self._approx is None:
            self._approx = knn.approx_passages(self.session)
        return self._approx

    def knn(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        return knn.knn(self.session, vector, k, filters, self.table, prefilter_min_rows=self.prefilter_min_rows)

    def article_knn(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        if self._articles_complete is None:
            self._articles_complete = article_vectors.complete(self.session, self.table)
        return article_vectors.knn(self.session, vector, k, filters, self.table) if self._articles_complete else []

    def passage_keyword(self, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
        match = keyword.match_expression(query)
        return keyword.fts(self.session, match, limit, filters) if match else []

    def article_keyword(self, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
        match = keyword.match_expression(query)
        return keyword.fts_articles(self.session, match, limit, filters) if match else []

    def articles_matching(self, alternatives: Sequence[str], article_ids: Sequence[int]) -> set[int]:
        return keyword.articles_matching(self.session, alternatives, article_ids)

    def passages(self, passage_ids: Sequence[int]) -> dict[int, Passage]:
        found: dict[int, Passage] = {}
        for part in in_batches(list(dict.fromkeys(passage_ids))):
            stmt = (
                select(
                    Chunk.id,
                    Chunk.text,
                    Chunk.char_start,
                    Chunk.char_end,
                    Chunk.group_id,
                    Chunk.article_id,
                    Article.canonical_id,
                    Article.title,
                    Article.url,
                    Article.published_at,
                    Source.name.label("outlet"),
                )
                .join(Article, Article.id == Chunk.article_id)
                .outerjoin(Source, Source.id == Article.source_id)
                .where(Chunk.id.in_(part))
            )
            for r in self.session.execute(stmt):
                found[r.id] = Passage(
                    id=r.id,
                    text=r.text,
                    char_start=r.char_start,
                    char_end=r.char_end,
                    group_id=r.group_id,
                    article_id=r.article_id,
                    story_id=r.canonical_id or r.article_id,
                    title=r.title,
                    url=r.url,
                    published_at=r.published_at,
                    outlet=r.outlet,
                )
        return found

    def group_carriers(self, group_ids: Sequence[int]) -> dict[int, list[Carrier]]:
        if not group_ids:
            return {}
        pairs: list[tuple[int, int]] = []
        for part in in_batches(list(group_ids)):
            stmt = select(Chunk.group_id, Chunk.article_id).where(Chunk.group_id.in_(part)).distinct()
            pairs.extend((int(r.group_id), int(r.article_id)) for r in self.session.execute(stmt))
        with_copies = self._with_exact_copies({a for _, a in pairs})
        result: dict[int, list[Carrier]] = {}
        for group, article in pairs:
            result.setdefault(group, []).extend(with_copies.get(article, []))
        return result

    def story_carriers(self, story_ids: Sequence[int]) -> dict[int, list[Carrier]]:
        result: dict[int, list[Carrier]] = {}
        for part in in_batches(list(story_ids)):
            stmt = _article_meta().where(Article.id.in_(part) | Article.canonical_id.in_(part))
            for r in self.session.execute(stmt):
                story = r.id if r.id in part else r.canonical_id
                result.setdefault(int(story), []).append(_carrier(r))
        return result

    def story_ids(self, article_ids: Sequence[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for part in in_batches(list(dict.fromkeys(article_ids))):
            for r in self.session.execute(select(Article.id, Article.canonical_id).where(Article.id.in_(part))):
                found[int(r.id)] = int(r.canonical_id or r.id)
        return found

    def story_passages(self, story_ids: Sequence[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for part in in_batches(list(dict.fromkeys(story_ids))):
            stmt = select(Chunk.article_id, Chunk.id).where(Chunk.article_id.in_(part)).order_by(Chunk.ordinal)
            for r in self.session.execute(stmt):
                found.setdefault(int(r.article_id), []).append(int(r.id))
        return found

    def vectors(self, passage_ids: Sequence[int]) -> dict[int, Vector]:
        return knn.vectors_for_chunks(self.session, passage_ids, self.table)

    def source_ids(self) -> dict[str, int]:
        return {r.name: r.id for r in self.session.execute(select(Source.id, Source.name))}

    def _with_exact_copies(self, article_ids: set[int]) -> dict[int, list[Carrier]]:
        """Each article with its exact copies (which hold no passages of their own)."""
        result: dict[int, list[Carrier]] = {}
        for part in in_batches(sorted(article_ids)):
            stmt = _article_meta().where(
                Article.id.in_(part) | (Article.canonical_id.in_(part) & (Article.duplicate_kind == "exact"))
            )
            rows = list(self.session.execute(stmt))
            own = {r.id for r in rows if r.id in article_ids}
            for r in rows:
                holder = r.id if r.id in own else r.canonical_id
                result.setdefault(int(holder), []).append(_carrier(r))
        return result


def _carrier(row: Any) -> Carrier:
    return Carrier(
        id=row.id,
        outlet=row.outlet,
        title=row.title,
        url=row.url,
        published_at=row.published_at,
        duplicate_kind=row.duplicate_kind,
        canonical_id=row.canonical_id,
    )
