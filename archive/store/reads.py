"""Reads: duplicate lookups for ingest, KNN / FTS candidates and hit details for search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from archive.store.models import Article, ArticleBand, Chunk, Source
from archive.store.vtables import FTS_TABLE, VEC_TABLE

KNN_MAX_K = 4096  # sqlite-vec's cap on k


@dataclass(frozen=True)
class Filters:
    """Search filters; dates are YYYYMMDD keys, outlets are source ids."""

    since: int | None = None
    until: int | None = None
    source_ids: tuple[int, ...] | None = None
    language: str | None = None


@dataclass(frozen=True)
class StoredCopy:
    id: int
    content_hash: str
    canonical_url: str | None
    source_id: int | None
    has_text: bool


def copies_by_hash(session: Session, content_hashes: Sequence[str]) -> dict[str, list[StoredCopy]]:
    """Stored articles with these content hashes (to skip re-ingests and link exact copies)."""
    found: dict[str, list[StoredCopy]] = {}
    for part in _batches(list(set(content_hashes))):
        stmt = select(
            Article.id, Article.content_hash, Article.canonical_url, Article.source_id, Article.text.is_not(None)
        ).where(Article.content_hash.in_(part)).order_by(Article.id)
        for row in session.execute(stmt):
            found.setdefault(row[1], []).append(StoredCopy(row[0], row[1], row[2], row[3], bool(row[4])))
    return found


def band_candidates(session: Session, band_keys: Sequence[int]) -> dict[int, list[tuple[int, bytes]]]:
    """Per band key, the stored articles sharing it: (id to link to, MinHash signature).

    A near-duplicate's own canonical is returned as the id to link to, so
    copies of copies all point at the first article.
    """
    keyed: dict[int, list[int]] = {}
    for part in _batches(sorted({int(k) for k in band_keys})):
        for key, aid in session.execute(select(ArticleBand.band_key, ArticleBand.article_id).where(ArticleBand.band_key.in_(part))):
            keyed.setdefault(key, []).append(aid)
    ids = sorted({aid for aids in keyed.values() for aid in aids})
    sigs: dict[int, tuple[int, bytes]] = {}
    for part in _batches(ids):
        stmt = select(Article.id, Article.minhash, Article.canonical_id, Article.duplicate_kind).where(
            Article.id.in_(part), Article.minhash.is_not(None)
        )
        for r in session.execute(stmt):
            sigs[r.id] = (r.canonical_id if r.duplicate_kind == "near" and r.canonical_id else r.id, r.minhash)
    return {key: [sigs[a] for a in aids if a in sigs] for key, aids in keyed.items()}


def source_ids_by_name(session: Session, names: Sequence[str]) -> dict[str, int]:
    rows = session.execute(select(Source.name, Source.id).where(Source.name.in_(list(names))))
    return {r.name: r.id for r in rows}


def _batches(values: list, size: int = 500) -> list[list]:  # type: ignore[type-arg]
    return [values[i : i + size] for i in range(0, len(values), size)]


def group_for_hash(session: Session, text_hashes: Sequence[str]) -> dict[str, int]:
    """Existing passage group per chunk text hash."""
    if not text_hashes:
        return {}
    rows = session.execute(
        select(Chunk.text_hash, Chunk.group_id).where(Chunk.text_hash.in_(list(set(text_hashes))))
    )
    return {r.text_hash: r.group_id for r in rows}


def chunk_texts(session: Session, article_id: int) -> list[tuple[int, int | None, str]]:
    """(chunk id, group id, text) of an article's chunks, in order."""
    rows = session.execute(
        select(Chunk.id, Chunk.group_id, Chunk.text).where(Chunk.article_id == article_id).order_by(Chunk.ordinal)
    )
    return [(r.id, r.group_id, r.text) for r in rows]


def vectors_for_hashes(session: Session, text_hashes: Sequence[str], table: str = VEC_TABLE) -> dict[str, np.ndarray]:
    """Stored vectors of chunks with these text hashes, so identical passages are embedded once."""
    if not text_hashes:
        return {}
    rows = session.execute(select(Chunk.text_hash, Chunk.id).where(Chunk.text_hash.in_(list(set(text_hashes)))))
    by_id = {r.id: r.text_hash for r in rows}
    found: dict[str, np.ndarray] = {}
    ids = list(by_id)
    conn = session.connection()
    for start in range(0, len(ids), 500):
        part = tuple(ids[start : start + 500])
        sql = f"SELECT chunk_id, embedding FROM {table} WHERE chunk_id IN ({','.join('?' * len(part))})"
        for chunk_id, blob in conn.exec_driver_sql(sql, part):
            found.setdefault(by_id[chunk_id], np.frombuffer(blob, dtype=np.float32))
    return found


def knn(session: Session, query: np.ndarray, k: int, filters: Filters, table: str = VEC_TABLE) -> list[tuple[int, float]]:
    """(chunk_id, cosine distance) of the k nearest chunks passing the filters."""
    clauses = ["embedding MATCH ?", "k = ?"]
    params: list[object] = [np.asarray(query, dtype=np.float32).tobytes(), int(min(k, KNN_MAX_K))]
    if filters.since is not None:
        clauses.append("published >= ?")
        params.append(int(filters.since))
    if filters.until is not None:
        clauses.append("published <= ?")
        params.append(int(filters.until))
    if filters.source_ids is not None:
        clauses.append(f"source_id IN ({','.join('?' * len(filters.source_ids))})")
        params.extend(int(s) for s in filters.source_ids)
    if filters.language:
        clauses.append("language = ?")
        params.append(filters.language)
    # MATERIALIZED keeps SQLite from pushing later joins into the vec0 scan.
    sql = (
        f"WITH knn AS MATERIALIZED (SELECT chunk_id, distance FROM {table} WHERE {' AND '.join(clauses)}) "
        "SELECT chunk_id, distance FROM knn ORDER BY distance"
    )
    return [(int(r[0]), float(r[1])) for r in session.connection().exec_driver_sql(sql, tuple(params))]


def fts(session: Session, match: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
    """(chunk_id, bm25) of the best keyword matches passing the filters (lower bm25 is better)."""
    clauses = [f"{FTS_TABLE} MATCH ?"]
    params: list[object] = [match]
    if filters.since is not None:
        clauses.append("a.published_at >= ?")
        params.append(_key_to_iso(filters.since))
    if filters.until is not None:
        clauses.append("substr(a.published_at, 1, 10) <= ?")
        params.append(_key_to_iso(filters.until))
    if filters.source_ids is not None:
        clauses.append(f"a.source_id IN ({','.join('?' * len(filters.source_ids))})")
        params.extend(int(s) for s in filters.source_ids)
    if filters.language:
        clauses.append("a.language = ?")
        params.append(filters.language)
    join = "" if len(clauses) == 1 else "JOIN chunks c ON c.id = f.rowid JOIN articles a ON a.id = c.article_id "
    sql = (
        f"SELECT f.rowid, bm25({FTS_TABLE}) AS score FROM {FTS_TABLE} f {join}"
        f"WHERE {' AND '.join(clauses)} ORDER BY score LIMIT ?"
    )
    params.append(int(limit))
    return [(int(r[0]), float(r[1])) for r in session.connection().exec_driver_sql(sql, tuple(params))]


def _key_to_iso(key: int) -> str:
    return f"{key // 10000:04d}-{key // 100 % 100:02d}-{key % 100:02d}"


def chunk_details(session: Session, chunk_ids: Sequence[int]) -> dict[int, Row]:
    """Chunk text, offsets, group and its article's metadata, by chunk id."""
    if not chunk_ids:
        return {}
    stmt = (
        select(
            Chunk.id, Chunk.text, Chunk.char_start, Chunk.char_end, Chunk.group_id, Chunk.article_id,
            Article.title, Article.url, Article.published_at, Source.name.label("outlet"),
        )
        .join(Article, Article.id == Chunk.article_id)
        .outerjoin(Source, Source.id == Article.source_id)
        .where(Chunk.id.in_(list(chunk_ids)))
    )
    return {r.id: r for r in session.execute(stmt)}


def group_sources(session: Session, group_ids: Sequence[int]) -> dict[int, list[Row]]:
    """Every article carrying a passage of each group, plus the exact copies of those articles."""
    if not group_ids:
        return {}
    carriers = session.execute(
        select(Chunk.group_id, Chunk.article_id).where(Chunk.group_id.in_(list(group_ids))).distinct()
    ).all()
    article_ids = {r.article_id for r in carriers}
    copies = session.execute(
        select(Article.canonical_id, Article.id).where(
            Article.canonical_id.in_(article_ids), Article.duplicate_kind == "exact"
        )
    ).all()
    copies_of: dict[int, list[int]] = {}
    for row in copies:
        copies_of.setdefault(row.canonical_id, []).append(row.id)
    all_ids = article_ids | {r.id for r in copies}
    meta = {r.id: r for r in session.execute(_article_meta().where(Article.id.in_(all_ids)))}
    result: dict[int, list[Row]] = {}
    for row in carriers:
        for aid in [row.article_id, *copies_of.get(row.article_id, [])]:
            result.setdefault(row.group_id, []).append(meta[aid])
    return result


def _article_meta():  # type: ignore[no-untyped-def]
    return select(
        Article.id, Article.title, Article.url, Article.published_at, Article.duplicate_kind,
        Article.canonical_id, Source.name.label("outlet"),
    ).outerjoin(Source, Source.id == Article.source_id)


def article_copies(session: Session, article_id: int) -> list[Row]:
    """The article, its canonical and every article linked to the same canonical."""
    root = session.scalar(select(Article.canonical_id).where(Article.id == article_id)) or article_id
    stmt = _article_meta().where((Article.id == root) | (Article.canonical_id == root))
    return list(session.execute(stmt))


def source_ids_for(session: Session, names: Sequence[str]) -> dict[str, int]:
    """Outlet name -> id, case-insensitively."""
    lowered = [n.lower() for n in names]
    rows = session.execute(select(Source.id, Source.name))
    return {r.name: r.id for r in rows if r.name.lower() in lowered}


def source_ids_for_all(session: Session) -> dict[str, int]:
    return {r.name: r.id for r in session.execute(select(Source.id, Source.name))}


def chunk_span(session: Session, chunk_id: int) -> tuple[int, int] | None:
    row = session.execute(select(Chunk.char_start, Chunk.char_end).where(Chunk.id == chunk_id)).first()
    return (row[0], row[1]) if row else None
