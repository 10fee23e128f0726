"""Semantic, keyword and hybrid search with filters, one result per article, and duplicate collapse.

Candidates come from the store (vector KNN with cosine over passages and over article vectors,
BM25 over passages and over whole articles), always from windows of a fixed depth, so the top k never depends on k; the window
grows only when fewer than k results can be made from it. Ranking and collapsing are in
``fusion`` and ``collapse``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache

import numpy as np

from archive.embedding.base import Embedder
from archive.results import SearchResult
from archive.search.collapse import article_results, passage_results
from archive.search.fusion import RRF_K, Candidates, hybrid_weights
from archive.search.params import SearchParams
from archive.search.variants import Variants
from archive.store.interface import KNN_MAX_K, HybridRequest, KeywordQuery, SearchReader

# Passages taken from each candidate list (and articles from the whole-article list), whatever k is.
# The vector list is shallower: its nearest 100 passages already hold the articles it ranks well,
# and on large archives every neighbour asked for costs prefilter candidates (the SQLite backend's knn).
DEPTH = 300
SEMANTIC_DEPTH = 100
ARTICLE_DEPTH = 100
# On archives above this many passages, keyword candidates come from the passages holding every
# query word (AND) whenever that fills the window; OR over common words makes BM25 score most
# of a large archive (scripts/bench.py measures both).
KEYWORD_AND_MIN_ROWS = 250_000
# Hybrid searches of archives above this many passages read their keyword lists on a second connection
# beside the vector lists (``_keyword_lists``); below it the keyword lists take no longer than the query's
# embedding, which they already overlap, and the move gains nothing (scripts/bench_compare.py at 20,000).
LISTS_APART_MIN_ROWS = 50_000


QueryVector = Callable[[], "np.ndarray | None"]
KeywordLists = tuple[list[tuple[int, float]], list[tuple[int, float]]]  # passages, whole articles: (id, bm25)


def run_search(
    reader: SearchReader, embedder: Embedder | None, params: SearchParams, *, variants: Variants
) -> list[SearchResult]:
    """Up to k results, best first (see SearchParams for what a result is)."""
    query_vector = _query_vector(reader, embedder, params)
    depth = DEPTH
    while True:
        found = _candidates(reader, query_vector, params, depth)
        vector = query_vector()
        build = article_results if not params.passages else passage_results
        results = build(reader, found, params, vector, variants)
        if len(results) >= params.k or found.exhausted:
            return results[: params.k]
        depth = min(depth * 4, KNN_MAX_K)


def _query_vector(reader: SearchReader, embedder: Embedder | None, params: SearchParams) -> QueryVector:
    """The query's vector (None when the search needs none), as a call that waits for it.

    Where the keyword lists are read here before the vector is needed (hybrid fused in Python, or
    a keyword search with a score floor), the query is embedded on a worker thread meanwhile: the
    encoder's products and SQLite's FTS5 both run outside the GIL, so the two take one wait, not two.
    """
    if embedder is None or (params.mode == "keyword" and params.min_score is None):
        return lambda: None
    text = params.parsed.text or params.query
    in_python = params.mode == "keyword" or not reader.fuse_in_sql  # else one statement, which needs the vector
    keywords_first = params.keyword is not None and params.mode != "semantic" and in_python
    if not keywords_first:
        vector = np.asarray(embedder.embed_query(text), dtype=np.float32)
        return lambda: vector
    pending: Future[np.ndarray] = _search_threads().submit(embedder.embed_query, text)
    return lambda: np.asarray(pending.result(), dtype=np.float32)


@cache
def _search_threads() -> ThreadPoolExecutor:
    """Threads that embed queries and read keyword lists while a search reads its other lists (one per core,
    at least two: searches run concurrently, and no job waits for another)."""
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="archive-query")


os.register_at_fork(after_in_child=_search_threads.cache_clear)  # a forked child has none of the threads


def _semantic_depth(depth: int) -> int:
    """Passages asked of the passage KNN list for a window of ``depth``."""
    return depth * SEMANTIC_DEPTH // DEPTH


def _article_depth(depth: int) -> int:
    """Articles asked of each article list for a window of ``depth``."""
    return max(ARTICLE_DEPTH, depth // 3)


def _every_word_first(reader: SearchReader, query: KeywordQuery) -> bool:
    """Whether passage keyword candidates come from the passages holding every word when those fill the list."""
    return len(query.terms) > 1 and reader.approx_passages() > KEYWORD_AND_MIN_ROWS


def _candidates(reader: SearchReader, query_vector: QueryVector, params: SearchParams, depth: int) -> Candidates:
    semantic_depth = _semantic_depth(depth)
    article_depth = _article_depth(depth)
    if params.mode == "hybrid" and reader.fuse_in_sql:
        fused = _fused_in_store(reader, query_vector(), params, depth)
        if fused is not None:
            return fused
    keyword_lists = _keyword_lists(reader, params, depth)  # first: the query may still be embedding
    try:
        vector = query_vector()
        semantic: list[tuple[int, float]] = []
        if vector is not None and params.mode != "keyword":
            semantic = [(cid, 1.0 - dist) for cid, dist in reader.knn(vector, semantic_depth, params.filters)]
        article_vectors: list[tuple[int, float]] = []
        if vector is not None and params.mode != "keyword" and not params.passages:
            found = reader.article_knn(vector, article_depth, params.filters)
            article_vectors = [(aid, 1.0 - dist) for aid, dist in found]
    finally:
        keyword, articles = keyword_lists()  # read meanwhile on another connection, or already read
    return Candidates(
        semantic, keyword, articles, article_vectors, _exhausted(depth, semantic, keyword, articles, article_vectors)
    )


def _keyword_lists(reader: SearchReader, params: SearchParams, depth: int) -> Callable[[], KeywordLists]:
    """The passage and whole-article keyword lists, as a call that waits for them.

    A hybrid search of an archive above ``LISTS_APART_MIN_ROWS`` passages reads them on a worker thread
    through a sibling reader (a connection of its own) while this thread waits for the query's vector and
    reads the vector lists: SQLite's FTS5, the encoder and the vector scans run outside the GIL, so on two
    cores the wait is the longer of (embedding + vector lists) and (keyword lists), not their sum. Both
    keyword lists go to one worker: with the encoder on the other, a third busy thread slowed the embedding
    that the vector lists wait for (``scripts/bench_compare.py``). Elsewhere they are read here, now.
    """
    query = params.keyword
    if params.mode == "semantic" or query is None:
        return lambda: ([], [])

    def read(r: SearchReader) -> KeywordLists:
        keyword = _keyword(r, query, depth, params)
        article_query = None if params.passages else _without_single_characters(query)
        if article_query is None:
            return keyword, []
        return keyword, r.article_keyword(article_query, _article_depth(depth), params.filters)

    sibling = reader.sibling() if params.mode == "hybrid" and reader.approx_passages() > LISTS_APART_MIN_ROWS else None
    if sibling is None:
        lists = read(reader)
        return lambda: lists
    apart = sibling

    def run() -> KeywordLists:
        with apart as other:
            return read(other)

    return _search_threads().submit(run).result


def _exhausted(depth: int, *lists: list[tuple[int, float]]) -> bool:
    """No larger window can find more: each list (passage KNN, passage keyword, article lists) came up short."""
    semantic, keyword, *article_lists = lists
    knn_done = len(semantic) < _semantic_depth(depth) or depth >= KNN_MAX_K
    return knn_done and len(keyword) < depth and all(len(a) < _article_depth(depth) for a in article_lists)


def hybrid_request(reader: SearchReader, vector: np.ndarray | None, params: SearchParams, depth: int) -> HybridRequest:
    """What a store that fuses in SQL is asked for: the lists ``_candidates`` would read, with fusion's weights."""
    query = params.keyword
    every_first = query is not None and _every_word_first(reader, query)
    return HybridRequest(
        vector=vector,
        keyword=query,
        article_keyword=None if query is None or params.passages else _without_single_characters(query),
        filters=params.filters,
        depth=depth,
        semantic_depth=_semantic_depth(depth),
        article_depth=0 if params.passages else _article_depth(depth),
        every_first=every_first,
        rrf_k=RRF_K,
        story_weights=hybrid_weights(params.semantic_weight, params.keyword_weight),
        passage_weights=(params.semantic_weight, params.keyword_weight),
    )


def _fused_in_store(
    reader: SearchReader, vector: np.ndarray | None, params: SearchParams, depth: int
) -> Candidates | None:
    """The candidates with their fusion done by the store (PostgreSQL), or None where fusion is done here."""
    found = reader.hybrid_candidates(hybrid_request(reader, vector, params, depth))
    if found is None:
        return None
    semantic = [(cid, 1.0 - dist) for cid, dist in found.semantic]
    article_vectors = [(aid, 1.0 - dist) for aid, dist in found.article_vectors]
    exhausted = _exhausted(depth, semantic, found.keyword, found.articles, article_vectors)
    return Candidates(
        semantic, found.keyword, found.articles, article_vectors, exhausted, found.stories, found.passages
    )


def _keyword(reader: SearchReader, query: KeywordQuery, window: int, params: SearchParams) -> list[tuple[int, float]]:
    """(passage id, bm25) of the best keyword matches: every word first on large archives, else any word."""
    if _every_word_first(reader, query):
        every = reader.passage_keyword(query.with_every(True), window, params.filters)
        if len(every) >= window:
            return every
    return reader.passage_keyword(query, window, params.filters)


def _without_single_characters(query: KeywordQuery) -> KeywordQuery | None:
    """The query for whole articles: one-character terms ("x", the "s" of "U.S.") would match a headline
    by accident, and a headline match weighs heavily; passages still match them."""
    terms = tuple(t for t in query.terms if any(len(a) > 1 for a in t))
    return KeywordQuery(terms, query.excluded, query.every) if terms else None
