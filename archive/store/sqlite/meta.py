"""The embedding-model record: which model filled which vector table."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from archive.store.models import Article, Chunk, EmbeddingModel, Source
from archive.store.records import merged_precision
from archive.store.sqlite.vtables import VEC_TABLE
from archive.text.context import CURRENT_PASSAGE_FORMAT


def active_model(session: Session) -> EmbeddingModel | None:
    return session.scalar(select(EmbeddingModel).where(EmbeddingModel.is_active).order_by(EmbeddingModel.id.desc()))


def record_model(
    session: Session,
    name: str,
    dimension: int,
    fingerprint: str | None,
    table: str = VEC_TABLE,
    *,
    passage_format: str = CURRENT_PASSAGE_FORMAT,
    precision: str | None = None,
) -> EmbeddingModel:
    """Make ``name`` the active model whose vectors (embedding ``passage_format``, computed in
    ``precision``; None while there are none) live in ``table``."""
    session.execute(update(EmbeddingModel).values(is_active=False))
    row = EmbeddingModel(
        name=name,
        dimension=dimension,
        fingerprint=fingerprint,
        vector_table=table,
        is_active=True,
        passage_format=passage_format,
        precision=precision,
    )
    session.add(row)
    session.flush()
    return row


def note_precision(session: Session, table: str, precision: str) -> None:
    """Record that vectors computed in ``precision`` were written to ``table`` (see ModelRecord.precision)."""
    # The active record only: a replaced model's record may name a table a later reembed reuses.
    row = session.scalar(select(EmbeddingModel).where(EmbeddingModel.is_active, EmbeddingModel.vector_table == table))
    if row is not None and (value := merged_precision(row.precision, precision)) != row.precision:
        row.precision = value


def counts(session: Session) -> dict[str, int]:
    """Row counts used by stats and doctor."""
    return {
        "articles": session.scalar(select(func.count()).select_from(Article)) or 0,
        "canonical_articles": session.scalar(select(func.count()).where(Article.canonical_id.is_(None))) or 0,
        "exact_duplicates": session.scalar(select(func.count()).where(Article.duplicate_kind == "exact")) or 0,
        "near_duplicates": session.scalar(select(func.count()).where(Article.duplicate_kind == "near")) or 0,
        "chunks": session.scalar(select(func.count()).select_from(Chunk)) or 0,
        "passage_groups": session.scalar(select(func.count(func.distinct(Chunk.group_id)))) or 0,
        "outlets": session.scalar(select(func.count()).select_from(Source)) or 0,
    }


def date_span(session: Session) -> tuple[str | None, str | None]:
    row = session.execute(select(func.min(Article.published_at), func.max(Article.published_at))).one()
    return row[0], row[1]
