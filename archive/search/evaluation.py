"""Ranking metrics for retrieval evaluation, as BEIR / pytrec_eval define them.

Pure functions: a ranked list of document ids (best first) and the judged
relevance of documents (``qrels``: id -> graded relevance, 0 or absent means
not relevant) in, one number out. A document id repeated in the ranking counts
only at its first position, as if the ranking had been de-duplicated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["mean", "mrr_at_k", "ndcg_at_k", "recall_at_k"]


def _top_k(ranked: Sequence[str], k: int) -> list[str]:
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    return list(dict.fromkeys(ranked))[:k]


def _relevant(qrels: Mapping[str, int]) -> dict[str, int]:
    return {doc: int(rel) for doc, rel in qrels.items() if rel > 0}


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain of the first ``k`` results.

    trec_eval's ``ndcg_cut``: the gain of a document is its graded relevance
    (linear, not ``2**rel - 1``), discounted by ``log2(rank + 1)``; the ideal
    ranking puts every judged relevant document first, best grade first.
    0.0 when nothing is judged relevant.
    """
    top = _top_k(ranked, k)
    relevant = _relevant(qrels)
    ideal = sorted(relevant.values(), reverse=True)[:k]
    ideal_dcg = sum(rel / math.log2(rank + 2) for rank, rel in enumerate(ideal))
    if ideal_dcg == 0.0:
        return 0.0
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(top))
    return dcg / ideal_dcg


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the judged relevant documents found in the first ``k`` (0.0 when none is judged)."""
    top = _top_k(ranked, k)
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    found = sum(1 for doc in top if doc in relevant)
    return found / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the first ``k``, else 0.0."""
    relevant = _relevant(qrels)
    for rank, doc in enumerate(_top_k(ranked, k), start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean, 0.0 for no values (averaging per-query scores)."""
    items = list(values)
    return sum(items) / len(items) if items else 0.0
