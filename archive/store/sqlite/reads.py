"""Reads: duplicate lookups for ingest, KNN / FTS candidates and hit details for search."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Connection, Row, Select, func, select
from sqlalchemy.orm import Session, aliased

from archive.store.models import Article, Chunk, Feed, FeedItem, Source
from archive.store.sqlite import prefilter
from archive.store.sqlite.vtables import (
    FTS_TABLE,
    VEC_TABLE,
    existing_bits_table,
    is_bits_table,
    vec_table_dimension,
)

KNN_MAX_K = 4096  # sqlite-vec's cap on k
# Candidates per neighbour asked for (and at least): Hamming keeps WIDE, the asymmetric score NARROW,
# whose float vectors are then read (one point lookup each, ~15-30 us). Above NARROW_MAX the exact
# scan is cheaper, so large windows (deep duplicate collapse) go exact.
WIDE_PER_K, WIDE_MIN = 100, 4096
NARROW_PER_K, NARROW_MIN, NARROW_MAX = 20, 800, 8192
T = TypeVar("T")


@dataclass(frozen=True)
class Filters:
    """Search filters; dates are YYYYMMDD keys, outlets are source ids."""

    since: int | None = None
    until: int | None = None
    source_ids: tuple[int, ...] | None = None
    language: str | None = None


def in_batches(values: list[T], size: int = 500) -> list[list[T]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def knn(
    session: Session,
    query: np.ndarray,
    k: int,
    filters: Filters,
    table: str = VEC_TABLE,
    *,
    prefilter_min_rows: int | None = None,
) -> list[tuple[int, float]]:
    """(chunk_id, cosine distance) of the k nearest chunks passing the filters.

    Distances are always exact float cosine distances. Archives above
    ``prefilter_min_rows`` passages (None: never) choose the chunks to score through the
    sign-bit prefilter; smaller
    ones, language filters and very large k use sqlite-vec's exact scan.
    """
    vector = np.asarray(query, dtype=np.float32)
    k = int(min(k, KNN_MAX_K))
    conn = session.connection()
    narrow = max(NARROW_MIN, NARROW_PER_K * k)
    threshold = prefilter_min_rows
    if threshold is not None and not filters.language and narrow <= NARROW_MAX and approx_passages(session) > threshold:
        bits = existing_bits_table(conn, table)
        if bits is not None:
            try:
                return _knn_prefiltered(conn, bits, table, vector, k, narrow, filters)
            except prefilter.LayoutError:
                pass  # not the vec0 layout this release reads: the exact scan below still answers
    where, params = _vec_filters(filters)
    # MATERIALIZED keeps SQLite from pushing later joins into the vec0 scan.
    sql = (
        f"WITH knn AS MATERIALIZED (SELECT chunk_id, distance FROM {table} WHERE embedding MATCH ? AND k = ?"
        f"{where}) SELECT chunk_id, distance FROM knn ORDER BY distance"
    )
    rows = conn.exec_driver_sql(sql, (vector.tobytes(), k, *params))
    return [(int(r[0]), float(r[1])) for r in rows]


def _knn_prefiltered(
    conn: Connection, bits: str, table: str, vector: np.ndarray, k: int, narrow: int, filters: Filters
) -> list[tuple[int, float]]:
    blocks = prefilter.cached_blocks(conn, bits, len(vector))
    mask = prefilter.slot_mask(
        conn, bits, blocks, since=filters.since, until=filters.until, source_ids=filters.source_ids
    )
    ids = prefilter.candidates(blocks, mask, vector, wide=max(WIDE_MIN, WIDE_PER_K * k), narrow=narrow)
    # CROSS JOIN keeps the id list outside: one vec0 point lookup per candidate.
    sql = (
        f"SELECT v.chunk_id, vec_distance_cosine(v.embedding, ?) AS distance FROM json_each(?) AS j "
        f"CROSS JOIN {table} AS v ON v.chunk_id = j.value ORDER BY distance LIMIT ?"
    )
    rows = conn.exec_driver_sql(sql, (vector.tobytes(), json.dumps(ids.tolist()), k))
    return [(int(r[0]), float(r[1])) for r in rows]


def prefilter_health(session: Session, table: str = VEC_TABLE) -> tuple[int | None, str | None]:
    """(passages the bit prefilter of ``table`` holds, why it cannot be read); (None, None) without one."""
    conn = session.connection()
    bits = existing_bits_table(conn, table)
    dimension = vec_table_dimension(conn, table)
    if bits is None or dimension is None:
        return None, None
    try:
        return prefilter.load_blocks(conn, bits, dimension).count, None
    except prefilter.LayoutError as exc:
        return None, str(exc)


def approx_passages(session: Session) -> int:
    """Roughly how many passages the archive holds: the highest chunk id (one B-tree seek, no count)."""
    return int(session.connection().exec_driver_sql("SELECT max(id) FROM chunks").scalar() or 0)


def _vec_filters(filters: Filters) -> tuple[str, list[object]]:
    """`` AND ...`` metadata pre-filters of a vec0 KNN query, and their parameters."""
    clauses: list[str] = []
    params: list[object] = []
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
    return "".join(f" AND {c}" for c in clauses), params


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
            Chunk.id,
            Chunk.text,
            Chunk.char_start,
            Chunk.char_end,
            Chunk.group_id,
            Chunk.article_id,
            Article.title,
            Article.url,
            Article.published_at,
            Source.name.label("outlet"),
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


def _article_meta() -> Select[Any]:
    return select(
        Article.id,
        Article.title,
        Article.url,
        Article.published_at,
        Article.duplicate_kind,
        Article.canonical_id,
        Source.name.label("outlet"),
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


def chunk_span(session: Session, chunk_id: int, article_id: int | None = None) -> tuple[int, int] | None:
    """The passage's offsets; with ``article_id``, only if it is that article's (or its canonical's) passage."""
    query = select(Chunk.char_start, Chunk.char_end).where(Chunk.id == chunk_id)
    if article_id is not None:
        canonical = select(Article.canonical_id).where(Article.id == article_id).scalar_subquery()
        query = query.where((Chunk.article_id == article_id) | (Chunk.article_id == canonical))
    row = session.execute(query).first()
    return (row[0], row[1]) if row else None


def duplicate_groups(
    session: Session, article_id: int | None = None, limit: int | None = None
) -> list[tuple[Row, list[Row]]]:
    """(canonical, copies) for every canonical article that has copies, largest groups first.

    With ``article_id``, only the group that article belongs to (as canonical or copy).
    """
    linked = select(Article.canonical_id, func.count().label("n")).where(Article.canonical_id.is_not(None))
    if article_id is not None:
        root = session.scalar(select(Article.canonical_id).where(Article.id == article_id)) or article_id
        linked = linked.where(Article.canonical_id == root)
    linked = linked.group_by(Article.canonical_id).order_by(func.count().desc(), Article.canonical_id)
    if limit is not None:
        linked = linked.limit(limit)
    roots = [r.canonical_id for r in session.execute(linked)]
    if not roots:
        return []
    meta = _article_meta().add_columns(Article.duplicate_score, Article.origin)
    canon = {r.id: r for r in session.execute(meta.where(Article.id.in_(roots)))}
    copies: dict[int, list[Row]] = {}
    for r in session.execute(meta.where(Article.canonical_id.in_(roots)).order_by(Article.published_at, Article.id)):
        copies.setdefault(r.canonical_id, []).append(r)
    return [(canon[root], copies[root]) for root in roots if root in canon]


def article_links(session: Session) -> list[tuple[int, int | None, str | None, str | None]]:
    """(id, canonical_id, origin, duplicate_kind) of every article, for evaluations."""
    stmt = select(Article.id, Article.canonical_id, Article.origin, Article.duplicate_kind).order_by(Article.id)
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(stmt)]


# -- feeds ---------------------------------------------------------------------
def feeds(session: Session) -> list[Feed]:
    """Every feed, by id."""
    return list(session.scalars(select(Feed).order_by(Feed.id)))


def feed_item_counts(session: Session) -> dict[int, int]:
    """Feed id -> number of entries already seen."""
    stmt = select(FeedItem.feed_id, func.count()).group_by(FeedItem.feed_id)
    return {int(r[0]): int(r[1]) for r in session.execute(stmt)}


def seen_guids(session: Session, feed_id: int, guids: Sequence[str]) -> set[str]:
    """The subset of ``guids`` already recorded for the feed."""
    found: set[str] = set()
    for part in in_batches(list(set(guids))):
        found.update(session.scalars(select(FeedItem.guid).where(FeedItem.feed_id == feed_id, FeedItem.guid.in_(part))))
    return found


def articles_of_run(session: Session, run_id: int) -> dict[str, int]:
    """origin -> id of the articles an ingest run stored."""
    rows = session.execute(
        select(Article.origin, Article.id).where(Article.run_id == run_id, Article.origin.is_not(None))
    )
    return {r.origin: r.id for r in rows}


# -- delete selection ----------------------------------------------------------
def select_articles(
    session: Session,
    *,
    ids: Sequence[int] | None = None,
    source_ids: Sequence[int] | None = None,
    before: str | None = None,
    after: str | None = None,
) -> list[Row]:
    """Articles matching every filter given, plus the exact copies that go with them, by id.

    ``before``/``after`` are ISO dates compared exclusively with the publication day;
    undated articles never match a date filter.
    """
    conds = []
    if ids is not None:
        conds.append(Article.id.in_([int(i) for i in ids]))
    if source_ids is not None:
        conds.append(Article.source_id.in_([int(i) for i in source_ids]))
    day = func.substr(Article.published_at, 1, 10)
    if before is not None:
        conds.append(day < before)
    if after is not None:
        conds.append(day > after)
    chosen = select(Article.id).where(*conds).correlate(None).scalar_subquery()
    copies = (Article.duplicate_kind == "exact") & Article.canonical_id.in_(chosen)
    stmt = _article_meta().where(Article.id.in_(chosen) | copies).order_by(Article.id)
    return list(session.execute(stmt))


# -- health checks and re-embedding --------------------------------------------
def sqlite_versions(session: Session) -> tuple[str, str]:
    """(SQLite version, sqlite-vec version) of the connection."""
    row = session.connection().exec_driver_sql("SELECT sqlite_version(), vec_version()").one()
    return str(row[0]), str(row[1])


def quick_check(session: Session) -> list[str]:
    """``PRAGMA quick_check`` messages: ``["ok"]`` for a sound file."""
    return [str(r[0]) for r in session.connection().exec_driver_sql("PRAGMA quick_check")]


def consistency_counts(session: Session, table: str = VEC_TABLE) -> dict[str, int]:
    """Rows in chunks, in the vector table ``table`` (and its bit prefilter, if any) and in the FTS index.

    All of them should agree.
    """
    conn = session.connection()
    counts = {
        "chunks": session.scalar(select(func.count()).select_from(Chunk)) or 0,
        "vectors": int(conn.exec_driver_sql(f"SELECT count(*) FROM {_ident(table)}").scalar() or 0),
        "fts_rows": int(conn.exec_driver_sql(f"SELECT count(*) FROM {FTS_TABLE}_docsize").scalar() or 0),
    }
    bits = existing_bits_table(conn, table)
    if bits is not None:
        counts["bit_vectors"] = int(conn.exec_driver_sql(f"SELECT count(*) FROM {bits}").scalar() or 0)
    return counts


def dangling_canonicals(session: Session) -> list[int]:
    """Ids of articles whose canonical_id names an article that does not exist."""
    target = aliased(Article)
    stmt = (
        select(Article.id)
        .outerjoin(target, target.id == Article.canonical_id)
        .where(Article.canonical_id.is_not(None), target.id.is_(None))
        .order_by(Article.id)
    )
    return list(session.scalars(stmt))


def vector_tables(session: Session) -> list[str]:
    """Names of every float vec0 table in the database (bit prefilter companions left out)."""
    sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE %USING vec0(%' ORDER BY name"
    return [str(r[0]) for r in session.connection().exec_driver_sql(sql) if not is_bits_table(str(r[0]))]


def chunks_to_embed(session: Session, after_id: int, limit: int) -> list[Row]:
    """Chunks with id > ``after_id`` (by id) with the article metadata a vector row carries."""
    stmt = (
        select(Chunk.id, Chunk.text, Chunk.text_hash, Article.source_id, Article.published_at, Article.language)
        .join(Article, Article.id == Chunk.article_id)
        .where(Chunk.id > after_id)
        .order_by(Chunk.id)
        .limit(limit)
    )
    return list(session.execute(stmt))


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ValueError(f"invalid table name {name!r}")
    return name


def vectors_for_chunks(session: Session, chunk_ids: Sequence[int], table: str = VEC_TABLE) -> dict[int, np.ndarray]:
    """Stored float vectors of these chunks.

    One point lookup per id: vec0 answers ``chunk_id IN (...)`` by scanning every
    vector (0.6 s at 1M passages), ``= ?`` by reading one. CROSS JOIN keeps the id
    list as the outer loop.
    """
    found: dict[int, np.ndarray] = {}
    if not chunk_ids:
        return found
    sql = f"SELECT v.chunk_id, v.embedding FROM json_each(?) AS j CROSS JOIN {table} AS v ON v.chunk_id = j.value"
    ids = json.dumps(sorted({int(c) for c in chunk_ids}))
    for chunk_id, blob in session.connection().exec_driver_sql(sql, (ids,)):
        found[int(chunk_id)] = np.frombuffer(blob, dtype=np.float32)
    return found
