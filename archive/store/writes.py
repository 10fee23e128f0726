"""Writes for ingest: sources, articles, chunks, vectors, LSH band keys.

Every function takes the caller's Session so that a whole batch commits (or
rolls back) as one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from archive.store.models import Article, Chunk, IngestRun, Source, utcnow
from archive.store.vtables import VEC_TABLE


@dataclass(frozen=True)
class ChunkRow:
    ordinal: int
    text: str
    char_start: int
    char_end: int
    token_count: int
    text_hash: str
    group_id: int | None


def source_id_for(session: Session, name: str | None, domain: str | None = None) -> int | None:
    """Id of the outlet called ``name``, created on first sight."""
    if not name:
        return None
    found = session.scalar(select(Source.id).where(Source.name == name))
    if found is not None:
        return found
    source = Source(name=name, domain=domain)
    session.add(source)
    session.flush()
    return source.id


def add_article(session: Session, **fields: object) -> int:
    """Insert one article row (Core insert: no ORM bookkeeping on the hot path)."""
    fields.setdefault("ingested_at", utcnow())
    return int(session.scalar(insert(Article).returning(Article.id), fields))


def add_chunks(session: Session, article_id: int, rows: Sequence[ChunkRow]) -> list[int]:
    """Insert an article's chunks in order and return their ids."""
    if not rows:
        return []
    values = [{"article_id": article_id, **row.__dict__} for row in rows]
    return list(session.scalars(insert(Chunk).returning(Chunk.id, sort_by_parameter_order=True), values))


def set_groups(session: Session, updates: Sequence[tuple[int, int]]) -> None:
    """Set ``group_id`` for (group_id, chunk_id) pairs."""
    if updates:
        session.connection().exec_driver_sql("UPDATE chunks SET group_id = ? WHERE id = ?", list(updates))


def add_vector_rows(session: Session, rows: Sequence[tuple[int, bytes, int, int, str]], *, table: str = VEC_TABLE) -> None:
    """Insert (chunk_id, float32 bytes, source_id, published YYYYMMDD, language) rows into the vec0 table."""
    if rows:
        session.connection().exec_driver_sql(
            f"INSERT INTO {table}(chunk_id, embedding, source_id, published, language) VALUES (?, ?, ?, ?, ?)",
            list(rows),
        )


def add_band_rows(session: Session, rows: Sequence[tuple[int, int]]) -> None:
    """Insert (band_key, article_id) LSH rows."""
    if rows:
        session.connection().exec_driver_sql(
            "INSERT OR IGNORE INTO article_bands(band_key, article_id) VALUES (?, ?)", list(rows)
        )


def delete_articles(session: Session, article_ids: Sequence[int], *, table: str = VEC_TABLE) -> int:
    """Delete articles with their chunks, vectors and band keys.

    Exact copies hold no text of their own, so they go with their canonical
    article; near-duplicates that pointed at it become canonical themselves.
    """
    ids = [int(i) for i in article_ids]
    if not ids:
        return 0
    copies = session.scalars(
        select(Article.id).where(Article.canonical_id.in_(ids), Article.duplicate_kind == "exact")
    )
    ids = sorted(set(ids) | set(copies))
    chunk_ids = list(session.scalars(select(Chunk.id).where(Chunk.article_id.in_(ids))))
    conn = session.connection()
    for start in range(0, len(chunk_ids), 500):
        part = tuple(chunk_ids[start : start + 500])
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE chunk_id IN ({','.join('?' * len(part))})", part)
    session.execute(delete(Chunk).where(Chunk.article_id.in_(ids)))
    session.execute(
        update(Article)
        .where(Article.canonical_id.in_(ids))
        .values(canonical_id=None, duplicate_kind=None, duplicate_score=None)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(delete(Article).where(Article.id.in_(ids)))
    return int(result.rowcount or 0)


def update_run(session: Session, run_id: int, report: object) -> None:
    """Copy the running totals of an IngestReport onto its run row."""
    fields = {name: getattr(report, name) for name in ("files", "added", "skipped", "duplicates", "failed", "chunks")}
    session.execute(update(IngestRun).where(IngestRun.id == run_id).values(**fields))


def start_run(session: Session, command: str, pid: int) -> int:
    run = IngestRun(command=command, pid=pid, status="running")
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int, report: object, status: str, errors_json: str | None) -> None:
    update_run(session, run_id, report)
    session.execute(
        update(IngestRun).where(IngestRun.id == run_id).values(status=status, finished_at=utcnow(), errors=errors_json)
    )
