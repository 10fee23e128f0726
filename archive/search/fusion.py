"""Rank fusion: passages and articles from the vector and keyword lists, combined into one order. Pure.

Hybrid search ranks *stories* (an article with all its copies) by weighted reciprocal rank
fusion of four lists: stories by their best passage's cosine, by their article vector's
cosine (headline and lead, embedded as one), by their best passage's BM25, and by
whole-article BM25 (headline weighted). Semantic search fuses the two vector lists. A story is judged by its best evidence in
each list, so an article whose many passages all match does not crowd the top ten, and one
whose words are spread over several passages still ranks by the article-level match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

RRF_K = 60


@dataclass(frozen=True)
class Candidates:
    """What one round of candidate retrieval found (ids best first, with their raw scores)."""

    semantic: list[tuple[int, float]] = field(default_factory=list)  # passage id, cosine similarity
    keyword: list[tuple[int, float]] = field(default_factory=list)  # passage id, bm25 (lower is better)
    articles: list[tuple[int, float]] = field(default_factory=list)  # article id, bm25 (lower is better)
    article_vectors: list[tuple[int, float]] = field(default_factory=list)  # article id, cosine similarity
    exhausted: bool = True  # no larger window can find more
    # The same fusion of these lists, done by the store in SQL (PostgreSQL); None: fused here.
    fused_stories: dict[int, float] | None = None
    fused_passages: dict[int, float] | None = None


def rrf(lists: Iterable[tuple[Sequence[int], float]]) -> dict[int, float]:
    """Weighted reciprocal rank fusion: the sum of ``weight / (RRF_K + rank)`` over the lists an id is in."""
    scores: dict[int, float] = {}
    for ids, weight in lists:
        if weight <= 0:
            continue
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (RRF_K + rank)
    return scores


def first_seen(ids: Iterable[int], key: Mapping[int, int]) -> list[int]:
    """``key[id]`` for each id in order, each once: stories ordered by their best passage."""
    return list(dict.fromkeys(key[i] for i in ids if i in key))


def hybrid_weights(semantic_weight: float, keyword_weight: float) -> tuple[float, float, float, float]:
    """Hybrid story weights of the lists passage cosine, article cosine, article BM25, passage BM25.

    The keyword side counts once in total: half its weight for the article, half for the passage.
    """
    half = keyword_weight / 2
    return (semantic_weight, semantic_weight, half, half)


def passage_scores(found: Candidates, mode: str, semantic_weight: float, keyword_weight: float) -> dict[int, float]:
    """How well each candidate passage matches on its own (higher is better)."""
    if found.fused_passages is not None and mode == "hybrid":
        return found.fused_passages
    if mode == "semantic":
        return dict(found.semantic)
    if mode == "keyword":
        return {cid: -bm25 for cid, bm25 in found.keyword}
    return rrf([([c for c, _ in found.semantic], semantic_weight), ([c for c, _ in found.keyword], keyword_weight)])


def story_scores(
    found: Candidates,
    story_of_passage: Mapping[int, int],
    story_of_article: Mapping[int, int],
    mode: str,
    semantic_weight: float,
    keyword_weight: float,
) -> dict[int, float]:
    """How well each story matches (higher is better): see the module docstring."""
    if found.fused_stories is not None and mode == "hybrid":
        return found.fused_stories
    by_cosine = first_seen((c for c, _ in found.semantic), story_of_passage)
    by_article_cosine = first_seen((a for a, _ in found.article_vectors), story_of_article)
    if mode == "semantic":
        # The vector side counts once per list: an archive without article vectors ranks by passages alone.
        return rrf([(by_cosine, 1.0), (by_article_cosine, 1.0)])
    by_passage_bm25 = first_seen((c for c, _ in found.keyword), story_of_passage)
    by_article_bm25 = first_seen((a for a, _ in found.articles), story_of_article)
    if mode == "keyword":
        return rrf([(by_article_bm25, 1.0), (by_passage_bm25, 1.0)])
    lists = (by_cosine, by_article_cosine, by_article_bm25, by_passage_bm25)
    return rrf(zip(lists, hybrid_weights(semantic_weight, keyword_weight)))
