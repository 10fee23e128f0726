"""Semantic, keyword and hybrid search with filters, one result per article, and duplicate collapse.

Candidates come from the store (vector KNN with cosine over passages and over article vectors,
BM25 over passages and over whole articles), always from windows of a fixed depth, so the top k never depends on k; the window
grows only when fewer than k results can be made from it. Ranking and collapsing are in
``fusion`` and ``collapse``.
"""

from __future__ import annotations

import numpy as np

from archive.embedding.base import Embedder
from archive.results import SearchResult
from archive.search.collapse import article_results, passage_results
from archive.search.fusion import Candidates
from archive.search.params import SearchParams
from archive.search.variants import Variants
from archive.store.interface import KNN_MAX_K, KeywordQuery, SearchReader

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


def run_search(
    reader: SearchReader, embedder: Embedder | None, params: SearchParams, *, variants: Variants
) -> list[SearchResult]:
    """Up to k results, best first (see SearchParams for what a result is)."""
    vector = None
    if embedder is not None and (params.mode != "keyword" or params.min_score is not None):
        vector = np.asarray(embedder.embed_query(params.parsed.text or params.query), dtype=np.float32)
    depth = DEPTH
    while True:
        found = _candidates(reader, vector, params, depth)
        build = article_results if not params.passages else passage_results
        results = build(reader, found, params, vector, variants)
        if len(results) >= params.k or found.exhausted:
            return results[: params.k]
        depth = min(depth * 4, KNN_MAX_K)


def _candidates(reader: SearchReader, vector: np.ndarray | None, params: SearchParams, depth: int) -> Candidates:
    semantic: list[tuple[int, float]] = []
    semantic_depth = depth * SEMANTIC_DEPTH // DEPTH
    if vector is not None and params.mode != "keyword":
        semantic = [(cid, 1.0 - dist) for cid, dist in reader.knn(vector, semantic_depth, params.filters)]
    keyword: list[tuple[int, float]] = []
    articles: list[tuple[int, float]] = []
    if params.mode != "semantic" and params.keyword is not None:
        keyword = _keyword(reader, params.keyword, depth, params)
        article_query = _without_single_characters(params.keyword)
        if not params.passages and article_query is not None:
            articles = reader.article_keyword(article_query, max(ARTICLE_DEPTH, depth // 3), params.filters)
    article_depth = max(ARTICLE_DEPTH, depth // 3)
    article_vectors: list[tuple[int, float]] = []
    if vector is not None and params.mode != "keyword" and not params.passages:
        article_vectors = [(aid, 1.0 - dist) for aid, dist in reader.article_knn(vector, article_depth, params.filters)]
    knn_done = len(semantic) < semantic_depth or depth >= KNN_MAX_K
    exhausted = (
        knn_done and len(keyword) < depth and len(articles) < article_depth and len(article_vectors) < article_depth
    )
    return Candidates(semantic, keyword, articles, article_vectors, exhausted)


def _keyword(reader: SearchReader, query: KeywordQuery, window: int, params: SearchParams) -> list[tuple[int, float]]:
    """(passage id, bm25) of the best keyword matches: every word first on large archives, else any word."""
    if len(query.terms) > 1 and reader.approx_passages() > KEYWORD_AND_MIN_ROWS:
        every = reader.passage_keyword(query.with_every(True), window, params.filters)
        if len(every) >= window:
            return every
    return reader.passage_keyword(query, window, params.filters)


def _without_single_characters(query: KeywordQuery) -> KeywordQuery | None:
    """The query for whole articles: one-character terms ("x", the "s" of "U.S.") would match a headline
    by accident, and a headline match weighs heavily; passages still match them."""
    terms = tuple(t for t in query.terms if any(len(a) > 1 for a in t))
    return KeywordQuery(terms, query.excluded, query.every) if terms else None
