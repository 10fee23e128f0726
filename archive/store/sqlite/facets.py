"""Reads for coverage views: outlets with their date ranges, and the articles a query matches.

A timeline or a facet counts articles, not passages: these queries return article ids and
metadata; bucketing and counting happen in ``archive.search.coverage``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.store.interface import in_batches
from archive.store.models import Article, Source
from archive.store.records import ArticleMeta, OutletRow
from archive.store.sqlite.vtables import FTS_TABLE


def outlet_rows(session: Session) -> list[OutletRow]:
    """Every outlet with its number of articles (copies included) and first/last publication date."""
    stmt = (
        select(
            Source.name,
            func.count(Article.id),
            func.min(Article.published_at),
            func.max(Article.published_at),
        )
        .outerjoin(Article, Article.source_id == Source.id)
        .group_by(Source.id, Source.name)
        .order_by(func.count(Article.id).desc(), Source.name)
    )
    return [OutletRow(r[0], int(r[1]), r[2], r[3]) for r in session.execute(stmt)]


def articles_with_every_term(session: Session, terms: Sequence[str]) -> set[int]:
    """Ids of the articles whose passages, together, hold every FTS5 term (no cap).

    One query per term, intersected: an article matches when each word occurs in any
    of its passages, not necessarily all in one.
    """
    sql = f"SELECT DISTINCT c.article_id FROM {FTS_TABLE} f JOIN chunks c ON c.id = f.rowid WHERE {FTS_TABLE} MATCH ?"
    found: set[int] | None = None
    for term in terms:
        ids = {int(r[0]) for r in session.connection().exec_driver_sql(sql, (term,))}
        found = ids if found is None else found & ids
        if not found:
            break
    return found or set()


def with_exact_copies(session: Session, article_ids: set[int]) -> set[int]:
    """The articles plus their exact copies (stored without text, so no passage of theirs can match)."""
    found = set(article_ids)
    for part in in_batches(sorted(article_ids)):
        stmt = select(Article.id).where(Article.canonical_id.in_(part), Article.duplicate_kind == "exact")
        found.update(int(r[0]) for r in session.execute(stmt))
    return found


def article_meta(session: Session, article_ids: set[int]) -> list[ArticleMeta]:
    """Outlet, title, URL and date of these articles, earliest first (undated last)."""
    rows: list[ArticleMeta] = []
    for part in in_batches(sorted(article_ids)):
        stmt = (
            select(
                Article.id,
                Source.name,
                Article.source_id,
                Article.title,
                Article.url,
                Article.published_at,
                Article.duplicate_kind,
                Article.language,
            )
            .outerjoin(Source, Source.id == Article.source_id)
            .where(Article.id.in_(part))
        )
        rows.extend(ArticleMeta(r[0], r[1], r[2], r[3] or "", r[4], r[5], r[6], r[7]) for r in session.execute(stmt))
    rows.sort(key=lambda m: (m.published or "9999", m.id))
    return rows
