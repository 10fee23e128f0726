"""Writes for ingest: sources, articles, chunks, vectors, LSH band keys.

Every function takes the caller's Session so that a whole batch commits (or
rolls back) as one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import Session

from archive.store.models import Article, ArticleBand, Chunk, Feed, FeedItem, IngestRun, Source, utcnow
from archive.store.records import ChunkRow
from archive.store.sqlite.vtables import FTS_TABLE, VEC_TABLE, article_table_for, existing_bits_table, table_exists


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
    return session.execute(insert(Article).returning(Article.id), fields).scalar_one()


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


def add_vector_rows(
    session: Session, rows: Sequence[tuple[int, bytes, int, int, str]], *, table: str = VEC_TABLE
) -> None:
    """Insert (chunk_id, float32 bytes, source_id, published YYYYMMDD, language) rows into the vec0 table."""
    if rows:
        conn = session.connection()
        conn.exec_driver_sql(
            f"INSERT INTO {table}(chunk_id, embedding, source_id, published, language) VALUES (?, ?, ?, ?, ?)",
            list(rows),
        )
        bits = existing_bits_table(conn, table)
        if bits is not None:  # the sign-bit prefilter copy that large archives search first
            conn.exec_driver_sql(
                f"INSERT INTO {bits}(chunk_id, embedding, source_id, published, language) "
                "VALUES (?, vec_quantize_binary(?), ?, ?, ?)",
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
    copies = session.scalars(select(Article.id).where(Article.canonical_id.in_(ids), Article.duplicate_kind == "exact"))
    ids = sorted(set(ids) | set(copies))
    chunk_ids = list(session.scalars(select(Chunk.id).where(Chunk.article_id.in_(ids))))
    conn = session.connection()
    tables = [table] + [t for t in [existing_bits_table(conn, table)] if t is not None]
    for start in range(0, len(chunk_ids), 500):
        part = tuple(chunk_ids[start : start + 500])
        for name in tables:
            conn.exec_driver_sql(f"DELETE FROM {name} WHERE chunk_id IN ({','.join('?' * len(part))})", part)
    session.execute(delete(Chunk).where(Chunk.article_id.in_(ids)))
    article_table = article_table_for(table)
    if table_exists(conn, article_table):
        for start in range(0, len(ids), 500):
            part = tuple(ids[start : start + 500])
            conn.exec_driver_sql(f"DELETE FROM {article_table} WHERE article_id IN ({','.join('?' * len(part))})", part)
    session.execute(
        update(Article)
        .where(Article.canonical_id.in_(ids))
        .values(canonical_id=None, duplicate_kind=None, duplicate_score=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(session.execute(delete(Article).where(Article.id.in_(ids))))


def replace_chunks(session: Session, article_id: int, rows: Sequence[ChunkRow], *, table: str = VEC_TABLE) -> list[int]:
    """Delete an article's chunks and their vectors, insert ``rows`` instead; returns the new chunk ids."""
    old = list(session.scalars(select(Chunk.id).where(Chunk.article_id == article_id)))
    conn = session.connection()
    tables = [table] + [t for t in [existing_bits_table(conn, table)] if t is not None]
    for start in range(0, len(old), 500):
        part = tuple(old[start : start + 500])
        for name in tables:
            conn.exec_driver_sql(f"DELETE FROM {name} WHERE chunk_id IN ({','.join('?' * len(part))})", part)
    session.execute(delete(Chunk).where(Chunk.article_id == article_id))
    return add_chunks(session, article_id, rows)


def update_article_text(
    session: Session, article_id: int, *, text: str, content_hash: str, minhash: bytes, band_keys: Sequence[int]
) -> None:
    """Give an article new cleaned text, its hash, MinHash signature and LSH band keys."""
    session.execute(
        update(Article).where(Article.id == article_id).values(text=text, content_hash=content_hash, minhash=minhash)
    )
    session.execute(delete(ArticleBand).where(ArticleBand.article_id == article_id))
    add_band_rows(session, [(key, article_id) for key in band_keys])


def update_run(session: Session, run_id: int, report: object) -> None:
    """Copy the running totals of an IngestReport onto its run row."""
    fields = {name: getattr(report, name) for name in ("files", "added", "skipped", "duplicates", "failed", "chunks")}
    session.execute(update(IngestRun).where(IngestRun.id == run_id).values(**fields))


def start_run(session: Session, command: str, pid: int) -> int:
    run = IngestRun(command=command, pid=pid, status="running")
    session.add(run)
    session.flush()
    return run.id


def interrupt_stale_runs(session: Session, run_ids: Sequence[int] | None = None, *, live_pid: int | None = None) -> int:
    """Mark runs still ``running`` (all, or ``run_ids``) as ``interrupted``: their process died.

    Only call this while holding the writer lock, when no run but those of
    ``live_pid`` (the lock holder's own, nested runs) can be live.
    """
    stmt = update(IngestRun).where(IngestRun.status == "running")
    if run_ids is not None:
        stmt = stmt.where(IngestRun.id.in_([int(i) for i in run_ids]))
    if live_pid is not None:
        stmt = stmt.where((IngestRun.pid != live_pid) | IngestRun.pid.is_(None))
    return _rowcount(session.execute(stmt.values(status="interrupted")))


def finish_run(session: Session, run_id: int, report: object, status: str, errors_json: str | None) -> None:
    update_run(session, run_id, report)
    session.execute(
        update(IngestRun).where(IngestRun.id == run_id).values(status=status, finished_at=utcnow(), errors=errors_json)
    )


# -- feeds ---------------------------------------------------------------------
def add_feed(session: Session, url: str, outlet: str | None) -> int:
    """Insert a feed row and return its id."""
    feed = Feed(url=url, outlet=outlet)
    session.add(feed)
    session.flush()
    return feed.id


def delete_feed(session: Session, feed_id: int) -> bool:
    """Delete a feed and its seen entries; False when there is no such feed."""
    session.execute(delete(FeedItem).where(FeedItem.feed_id == feed_id))
    return _rowcount(session.execute(delete(Feed).where(Feed.id == feed_id))) > 0


def record_feed_items(session: Session, feed_id: int, items: Sequence[tuple[str, int | None]]) -> None:
    """Remember (guid, article id or None) entries as seen; already-seen guids are kept."""
    if items:
        session.connection().exec_driver_sql(
            "INSERT OR IGNORE INTO feed_items(feed_id, guid, article_id, seen_at) VALUES (?, ?, ?, ?)",
            [(feed_id, guid, article_id, utcnow().isoformat(sep=" ")) for guid, article_id in items],
        )


def update_feed(session: Session, feed_id: int, *, status: str, etag: str | None, modified: str | None) -> None:
    """Store the outcome of a poll and the validators for the next conditional GET."""
    session.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(last_polled_at=utcnow(), last_status=status, etag=etag, modified=modified)
    )


# -- maintenance (raw DB-API connection in autocommit mode) --------------------
def vacuum(dbapi_conn: Any) -> None:
    """Merge the FTS index, rebuild the file without free pages, and empty the WAL."""
    dbapi_conn.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")
    dbapi_conn.execute("VACUUM")
    dbapi_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _rowcount(result: object) -> int:
    """Rows an UPDATE/DELETE touched: Session.execute is typed as a plain Result, DML gives a CursorResult."""
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0
