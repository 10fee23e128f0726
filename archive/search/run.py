"""Semantic, keyword and hybrid search with filters and duplicate collapse.

Candidates come from sqlite-vec KNN (cosine) and FTS5 BM25; hybrid fuses them
with reciprocal rank fusion. Passages of the same group (the same text carried
by several outlets) collapse into one result listing every source. We over-fetch
and re-query with a larger window until k distinct groups are found or the
candidates run out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.orm import Session

from archive.embedding.base import Embedder
from archive.errors import InvalidQueryError
from archive.results import SearchResult, Source
from archive.store.sqlite import reads
from archive.store.sqlite.reads import KNN_MAX_K, Filters

if TYPE_CHECKING:
    from archive.store.sqlite.reads import AnyRow
from archive.store.sqlite.vtables import VEC_TABLE
from archive.text.dates import parse_filter_date

MODES = ("hybrid", "semantic", "keyword")
Fused = tuple[int, float, dict[str, float]]  # chunk id, score, per-mode components
RRF_K = 60
# On archives above this many passages, keyword candidates come from the passages holding every
# query word (AND: ~8 ms p50 at 1M passages against ~130 ms for OR, whose BM25 must score every
# passage with any of the words) whenever that fills the window; otherwise the OR query runs.
KEYWORD_AND_MIN_ROWS = 250_000
# Passages this close (cosine of normalized vectors) are the same text with small
# edits: a syndicated paragraph re-chunked, a corrected typo. They collapse together.
NEAR_IDENTICAL_COSINE = 0.96
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


@dataclass(frozen=True)
class SearchParams:
    """A validated search request."""

    query: str
    k: int = 10
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)
    dedup: bool = True
    semantic_weight: float = 1.0
    keyword_weight: float = 1.0


def build_params(
    session: Session,
    query: str,
    *,
    k: int = 10,
    mode: str = "hybrid",
    since: str | None = None,
    until: str | None = None,
    outlets: Sequence[str] | None = None,
    language: str | None = None,
    dedup: bool = True,
    semantic_weight: float = 1.0,
    keyword_weight: float = 1.0,
) -> SearchParams:
    """Validate user input into SearchParams; unknown outlets are an error listing the known ones."""
    if not query or not query.strip():
        raise InvalidQueryError("the query is empty: give some words to search for")
    if k < 1:
        raise InvalidQueryError(f"k must be at least 1 (got {k})")
    if mode not in MODES:
        raise InvalidQueryError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    source_ids: tuple[int, ...] | None = None
    if outlets:
        found = reads.source_ids_for(session, outlets)
        missing = [o for o in outlets if o.lower() not in {n.lower() for n in found}]
        if missing:
            known = ", ".join(sorted(reads.source_ids_for_all(session))) or "none yet"
            raise InvalidQueryError(f"unknown outlet(s) {', '.join(missing)}; known outlets: {known}")
        source_ids = tuple(found.values())
    filters = Filters(
        since=parse_filter_date(since),
        until=parse_filter_date(until, end=True),
        source_ids=source_ids,
        language=language or None,
    )
    return SearchParams(query.strip(), k, mode, filters, dedup, semantic_weight, keyword_weight)


def fts_terms(text: str) -> list[str]:
    """The query's words (stopwords dropped unless nothing else is left) as quoted FTS5 terms.

    Quoting makes ``U.S.``, ``AND``, ``*`` and stray parentheses plain text: user
    text can never break a MATCH expression.
    """
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
    if not words:
        words = _WORD.findall(text.lower())
    return ['"' + w.replace('"', '""') + '"' for w in dict.fromkeys(words)]


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression of the query's terms joined with OR, so BM25 ranks partial matches."""
    terms = fts_terms(text)
    return " OR ".join(terms) if terms else None


def highlight_terms(query: str, passage: str) -> tuple[str, ...]:
    """Query words (not stopwords) that occur in the passage, as written there."""
    wanted = {w for w in _WORD.findall(query.lower()) if w not in _STOPWORDS}
    seen: dict[str, str] = {}
    for word in _WORD.findall(passage):
        low = word.lower()
        if low in wanted and low not in seen:
            seen[low] = word
    return tuple(seen.values())


def run_search(
    session: Session,
    embedder: Embedder | None,
    params: SearchParams,
    *,
    table: str = VEC_TABLE,
    prefilter_min_rows: int | None = None,
) -> list[SearchResult]:
    """Run a search and return up to k results (collapsed by passage group unless dedup is off)."""
    vector = embedder.embed_query(params.query) if params.mode != "keyword" and embedder is not None else None
    window = max(params.k * 4, 40)
    while True:
        fused, exhausted = _candidates(session, vector, params, window, table, prefilter_min_rows)
        results = _collapse(session, fused, params, table)
        if len(results) >= params.k or exhausted:
            return results[: params.k]
        window = min(window * 4, KNN_MAX_K)


def _candidates(
    session: Session,
    vector: np.ndarray | None,
    params: SearchParams,
    window: int,
    table: str,
    prefilter_min_rows: int | None,
) -> tuple[list[Fused], bool]:
    """Fused (chunk_id, score, components) best first, and whether no more can be had."""
    semantic = (
        reads.knn(session, vector, window, params.filters, table, prefilter_min_rows=prefilter_min_rows)
        if vector is not None
        else []
    )
    keyword = _keyword(session, params, window) if params.mode != "semantic" else []
    exhausted = (len(semantic) < window or window >= KNN_MAX_K) and len(keyword) < window
    if params.mode == "semantic":
        return [(cid, 1.0 - dist, {"semantic": 1.0 - dist}) for cid, dist in semantic], exhausted
    if params.mode == "keyword":
        return [(cid, -score, {"keyword": -score}) for cid, score in keyword], exhausted
    return _rrf(semantic, keyword, params), exhausted


def _keyword(session: Session, params: SearchParams, window: int) -> list[tuple[int, float]]:
    """(chunk_id, bm25) of the best keyword matches: every word first on large archives, else any word."""
    terms = fts_terms(params.query)
    if not terms:
        return []
    if len(terms) > 1 and reads.approx_passages(session) > KEYWORD_AND_MIN_ROWS:
        every = reads.fts(session, " AND ".join(terms), window, params.filters)
        if len(every) >= window:
            return every
    return reads.fts(session, " OR ".join(terms), window, params.filters)


def _rrf(semantic: list[tuple[int, float]], keyword: list[tuple[int, float]], params: SearchParams) -> list[Fused]:
    scores: dict[int, dict[str, float]] = {}
    for rank, (cid, dist) in enumerate(semantic):
        entry = scores.setdefault(cid, {"rrf": 0.0})
        entry["rrf"] += params.semantic_weight / (RRF_K + rank + 1)
        entry["semantic"] = 1.0 - dist
    for rank, (cid, bm25) in enumerate(keyword):
        entry = scores.setdefault(cid, {"rrf": 0.0})
        entry["rrf"] += params.keyword_weight / (RRF_K + rank + 1)
        entry["keyword"] = -bm25
    ordered = sorted(scores.items(), key=lambda kv: kv[1]["rrf"], reverse=True)
    return [(cid, comp["rrf"], comp) for cid, comp in ordered]


def _collapse(session: Session, fused: list[Fused], params: SearchParams, table: str) -> list[SearchResult]:
    """The best passage of each duplicate group, until k; near-identical passages join the group they echo."""
    details = reads.chunk_details(session, [cid for cid, _, _ in fused])
    vectors = _VectorCache(session, [cid for cid, _, _ in fused], table) if params.dedup else None
    chosen: list[tuple[int, float, dict[str, float]]] = []
    merged: dict[int, set[int]] = {}  # chosen chunk id -> every group it stands for
    seen_groups: set[int] = set()
    for position, (cid, score, comp) in enumerate(fused):
        row = details.get(cid)
        full = len(chosen) >= params.k
        if row is None or (full and (vectors is None or position >= _echo_horizon(params.k))):
            continue
        group = row.group_id if row.group_id is not None else -cid
        if params.dedup and group in seen_groups:
            continue
        seen_groups.add(group)
        echo = vectors.echo_of(cid, [c for c, _, _ in chosen]) if vectors is not None else None
        if echo is not None:
            merged[echo].add(group)
        elif not full:
            chosen.append((cid, score, comp))
            merged[cid] = {group}
    groups = sorted({g for gs in merged.values() for g in gs if g > 0})
    sources = reads.group_sources(session, groups) if params.dedup else {}
    return [
        _result(rank, details[cid], score, comp, [r for g in sorted(merged[cid]) for r in sources.get(g, [])], params)
        for rank, (cid, score, comp) in enumerate(chosen, 1)
    ]


def _echo_horizon(k: int) -> int:
    """How far past the k-th result to look for near-identical copies of the results."""
    return 4 * k + 40


class _VectorCache:
    """Stored vectors of candidate passages, fetched a page at a time as collapsing needs them."""

    PAGE = 256

    def __init__(self, session: Session, order: list[int], table: str) -> None:
        self.session, self.order, self.table = session, order, table
        self.vectors: dict[int, np.ndarray] = {}
        self.fetched = 0

    def get(self, chunk_id: int) -> np.ndarray | None:
        while chunk_id not in self.vectors and self.fetched < len(self.order):
            page = self.order[self.fetched : self.fetched + self.PAGE]
            self.fetched += len(page)
            self.vectors.update(reads.vectors_for_chunks(self.session, page, self.table))
        return self.vectors.get(chunk_id)

    def echo_of(self, chunk_id: int, chosen: list[int]) -> int | None:
        """The chosen passage this one repeats most closely, if their cosine reaches NEAR_IDENTICAL_COSINE."""
        mine = self.get(chunk_id)
        known = [(other, v) for other in chosen if (v := self.get(other)) is not None] if mine is not None else []
        if not known:
            return None
        cosines = np.stack([v for _, v in known]) @ mine
        best = int(np.argmax(cosines))
        return known[best][0] if float(cosines[best]) >= NEAR_IDENTICAL_COSINE else None


def _result(
    rank: int, row: AnyRow, score: float, comp: dict[str, float], carriers: list[AnyRow], params: SearchParams
) -> SearchResult:
    unique = {r.id: r for r in carriers}
    listed = sorted(unique.values(), key=lambda r: (r.published_at or "9999", r.id))
    src = tuple(Source(r.id, r.outlet, r.title, r.url, r.published_at, r.duplicate_kind) for r in listed) or (
        Source(row.article_id, row.outlet, row.title, row.url, row.published_at),
    )
    return SearchResult(
        rank=rank,
        score=float(score),
        text=row.text,
        article_id=row.article_id,
        chunk_id=row.id,
        char_start=row.char_start,
        char_end=row.char_end,
        outlet=row.outlet,
        title=row.title,
        url=row.url,
        published=row.published_at,
        sources=src,
        scores={k: float(v) for k, v in comp.items()},
        highlights=highlight_terms(params.query, row.text),
        group_id=row.group_id,
    )
