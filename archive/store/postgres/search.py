"""Search on PostgreSQL: KNN through the HNSW index, keyword matches through the tsvector columns.

User text never becomes tsquery syntax: every alternative goes through ``phraseto_tsquery`` as a
bound parameter (one word, or a phrase matched with ``<->``), and terms are combined with the
tsquery operators ``||``, ``&&`` and ``!!`` in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from archive.store.interface import KNN_MAX_K, Filters, KeywordQuery, Vector
from archive.store.postgres.ddl import SEARCH_COLUMN, TEXT_CONFIG, check_ident
from archive.text.dates import key_to_iso

EF_SEARCH_MAX = 1000  # pgvector's cap on hnsw.ef_search
EF_SEARCH_MIN, EF_SEARCH_PER_K = 100, 4  # pgvector's default 40 gave recall@10 0.81 at 100k (scripts/bench_backend.py)


def ef_search(k: int) -> int:
    """The HNSW candidate list for ``k`` neighbours: wider than pgvector's default, for recall."""
    return min(EF_SEARCH_MAX, max(EF_SEARCH_MIN, EF_SEARCH_PER_K * k))


def vector_literal(vector: Vector | Sequence[float]) -> str:
    """A pgvector text literal, e.g. ``[0.1,0.2]``."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32).tolist()) + "]"


def parse_vector(value: Any) -> Vector:
    """A vector read back as ``real[]`` (a list) or as pgvector text."""
    if isinstance(value, str):
        return np.asarray([float(x) for x in value.strip("[]").split(",")], dtype=np.float32)
    return np.asarray(value, dtype=np.float32)


def knn(
    session: Session, vector: Vector, k: int, filters: Filters, table: str, *, key: str = "chunk_id"
) -> list[tuple[int, float]]:
    """(``key``, cosine distance) of the ``k`` nearest rows of ``table`` passing the filters, nearest first
    (passages by chunk id; article vectors by article id).

    ``hnsw.iterative_scan = relaxed_order`` (pgvector 0.8) keeps scanning the index while filters
    drop candidates, so a filtered search still returns ``k`` results when ``k`` exist.
    """
    k = int(min(k, KNN_MAX_K))
    conn = session.connection()
    set_scan(session, ef_search(k))
    where, params = vector_filters(filters)
    sql = (
        f"WITH nearest AS {nearest_sql(table, key, where, ':k')} SELECT id, distance FROM nearest ORDER BY distance, id"
    )
    rows = conn.execute(text(sql), {"q": vector_literal(vector), "k": k, **params})
    return [(int(r[0]), float(r[1])) for r in rows]


def set_scan(session: Session, ef: int) -> None:
    """HNSW settings for this transaction: iterative scans (filters still fill k), candidate list ``ef``."""
    conn = session.connection()
    conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = relaxed_order")
    conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {int(ef)}")


def nearest_sql(table: str, key: str, where: str, limit: str, *, column: str = "distance") -> str:
    """A materialized subquery (id, ``column``: the distance) of the rows of ``table`` nearest ``:q``, through
    the HNSW index."""
    return (
        f"MATERIALIZED (SELECT {check_ident(key)} AS id, embedding <=> CAST(:q AS vector) AS {check_ident(column)} "
        f"FROM {check_ident(table)}{where} ORDER BY embedding <=> CAST(:q AS vector) LIMIT {limit})"
    )


def vector_filters(filters: Filters) -> tuple[str, dict[str, object]]:
    """A WHERE clause on a vector table's filter columns, and its parameters."""
    clauses: list[str] = []
    params: dict[str, object] = {}
    if filters.since is not None:
        clauses.append("published >= :since")
        params["since"] = int(filters.since)
    if filters.until is not None:
        clauses.append("published <= :until")
        params["until"] = int(filters.until)
    if filters.source_ids is not None:
        clauses.append("source_id = ANY(:sources)")
        params["sources"] = [int(s) for s in filters.source_ids]
    if filters.language:
        clauses.append("language = :language")
        params["language"] = filters.language
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def term_query(alternatives: Sequence[str], params: dict[str, object], prefix: str) -> str:
    """SQL for a tsquery matching any alternative; binds each under ``prefix`` in ``params``."""
    parts = []
    for n, alternative in enumerate(alternatives):
        name = f"{prefix}_{n}"
        params[name] = alternative
        parts.append(f"phraseto_tsquery('{TEXT_CONFIG}', :{name})")
    return "(" + " || ".join(parts) + ")"


def query_sql(query: KeywordQuery, params: dict[str, object], prefix: str = "") -> str | None:
    """SQL for the tsquery of ``query``; None when it has no positive term (nothing can match).

    Its values are bound under names starting with ``prefix``: two queries in one statement need two.
    """
    if not query.terms:
        return None
    joiner = " && " if query.every else " || "
    positive = joiner.join(term_query(t, params, f"{prefix}t{i}") for i, t in enumerate(query.terms))
    if query.excluded:
        return f"(({positive}) && !!{term_query(query.excluded, params, f'{prefix}x')})"
    return f"({positive})"


def article_filters(filters: Filters, params: dict[str, object]) -> str:
    """`` AND ...`` clauses on ``articles a`` for the filters; binds their values in ``params``."""
    clauses: list[str] = []
    if filters.since is not None:
        clauses.append("a.published_at >= :since_day")
        params["since_day"] = key_to_iso(filters.since)
    if filters.until is not None:
        clauses.append("substr(a.published_at, 1, 10) <= :until_day")
        params["until_day"] = key_to_iso(filters.until)
    if filters.source_ids is not None:
        clauses.append("a.source_id = ANY(:sources)")
        params["sources"] = [int(s) for s in filters.source_ids]
    if filters.language:
        clauses.append("a.language = :language")
        params["language"] = filters.language
    return "".join(f" AND {c}" for c in clauses)


def passage_keyword(session: Session, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
    """(chunk id, -rank) of the best passage matches, best first (lower is better, as BM25 on SQLite)."""
    params: dict[str, object] = {"limit": int(limit)}
    tsquery = query_sql(query, params)
    if tsquery is None:
        return []
    sql = f"WITH q AS (SELECT {tsquery} AS q) {passage_match_sql('q', article_filters(filters, params), ':limit')}"
    return [(int(r[0]), float(r[1])) for r in session.execute(text(sql), params)]


def article_keyword(session: Session, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
    """(article id, -rank) of whole articles matching (headline weighted 'A'), best first."""
    params: dict[str, object] = {"limit": int(limit)}
    tsquery = query_sql(query, params)
    if tsquery is None:
        return []
    sql = f"WITH q AS (SELECT {tsquery} AS q) {article_match_sql('q', article_filters(filters, params), ':limit')}"
    return [(int(r[0]), float(r[1])) for r in session.execute(text(sql), params)]


def passage_match_sql(q: str, where: str, limit: str) -> str:
    """SELECT (id, score) of the passages best matching the tsquery of CTE ``q`` (column ``q``), best first."""
    return (
        f"SELECT c.id AS id, -ts_rank_cd(c.{SEARCH_COLUMN}, {q}.q) AS score "
        f"FROM {q}, chunks c JOIN articles a ON a.id = c.article_id WHERE c.{SEARCH_COLUMN} @@ {q}.q{where} "
        f"ORDER BY score, c.id LIMIT {limit}"
    )


def article_match_sql(q: str, where: str, limit: str) -> str:
    """SELECT (id, score) of the whole articles best matching the tsquery of CTE ``q``, best first."""
    return (
        f"SELECT a.id AS id, -ts_rank_cd(a.{SEARCH_COLUMN}, {q}.q) AS score "
        f"FROM {q}, articles a WHERE a.{SEARCH_COLUMN} @@ {q}.q{where} ORDER BY score, a.id LIMIT {limit}"
    )


def articles_matching(session: Session, alternatives: Sequence[str], article_ids: Sequence[int]) -> set[int]:
    """Which of ``article_ids`` hold any of ``alternatives`` in headline or text."""
    if not alternatives or not article_ids:
        return set()
    params: dict[str, object] = {"ids": sorted({int(i) for i in article_ids})}
    sql = f"SELECT id FROM articles WHERE id = ANY(:ids) AND {SEARCH_COLUMN} @@ {term_query(alternatives, params, 'm')}"
    return {int(r[0]) for r in session.execute(text(sql), params)}


def articles_with_every_term(session: Session, terms: Sequence[Sequence[str]]) -> set[int]:
    """Ids of the articles whose passages, together, hold every term (no cap)."""
    found: set[int] | None = None
    for term in terms:
        params: dict[str, object] = {}
        sql = f"SELECT DISTINCT article_id FROM chunks WHERE {SEARCH_COLUMN} @@ {term_query(term, params, 'e')}"
        ids = {int(r[0]) for r in session.execute(text(sql), params)}
        found = ids if found is None else found & ids
        if not found:
            break
    return found or set()


def vectors_for_chunks(session: Session, chunk_ids: Sequence[int], table: str) -> dict[int, Vector]:
    """Stored vectors of these chunks."""
    if not chunk_ids:
        return {}
    sql = f"SELECT chunk_id, embedding::real[] FROM {check_ident(table)} WHERE chunk_id = ANY(:ids)"
    rows = session.execute(text(sql), {"ids": sorted({int(c) for c in chunk_ids})})
    return {int(r[0]): parse_vector(r[1]) for r in rows}
