"""Article vectors in sqlite-vec: one per article (headline and lead), beside the passage vectors.

The table for passage vector table ``vec_chunks_N`` is ``vec_articles_N`` (``vtables``). The
active model's record says whether every article holding text has its vector; until it does,
search leaves article vectors out rather than rank some articles by them and others not.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from archive.store.models import Article, EmbeddingModel
from archive.store.records import ArticleInput
from archive.store.sqlite.vtables import article_table_for

VectorRow = tuple[int, bytes, int, int, str]  # article id, float32 bytes, source id, published YYYYMMDD, language


def mark_complete(session: Session, table: str, done: bool = True) -> None:
    """Record that the article vectors beside ``table`` are (or are not) complete."""
    session.execute(update(EmbeddingModel).where(EmbeddingModel.vector_table == table).values(article_vectors=done))


def add(session: Session, rows: Sequence[VectorRow], table: str) -> None:
    """Insert or replace article vector rows (vec0 has no upsert: delete, then insert)."""
    if not rows:
        return
    conn, target = session.connection(), article_table_for(table)
    conn.exec_driver_sql(f"DELETE FROM {target} WHERE article_id = ?", [(r[0],) for r in rows])
    conn.exec_driver_sql(
        f"INSERT INTO {target}(article_id, embedding, source_id, published, language) VALUES (?, ?, ?, ?, ?)",
        list(rows),
    )


def remove(session: Session, article_ids: Sequence[int], table: str) -> None:
    """Delete the vectors of these articles."""
    if article_ids:
        session.connection().exec_driver_sql(
            f"DELETE FROM {article_table_for(table)} WHERE article_id = ?", [(int(a),) for a in article_ids]
        )


def stored_ids(session: Session, table: str) -> set[int]:
    """Ids of the articles whose vector is stored beside ``table`` (plain SQL: the PostgreSQL backend uses it too)."""
    sql = f"SELECT article_id FROM {article_table_for(table)}"
    return {int(r[0]) for r in session.execute(text(sql))}


def articles_after(session: Session, after_id: int, limit: int) -> list[ArticleInput]:
    """Articles holding text with id > ``after_id``, by id, with what their vector row needs."""
    stmt = (
        select(Article.id, Article.title, Article.text, Article.source_id, Article.published_at, Article.language)
        .where(Article.id > after_id, Article.text.is_not(None))
        .order_by(Article.id)
        .limit(limit)
    )
    return [
        ArticleInput(r.id, r.title, r.text or "", r.source_id, r.published_at, r.language)
        for r in session.execute(stmt)
    ]
