"""Ranking metrics (archive.search.evaluation) against values computed by hand."""

from __future__ import annotations

import math

import pytest

from archive.search.evaluation import mean, mrr_at_k, ndcg_at_k, recall_at_k

QRELS = {"d1": 1, "d3": 2, "d5": 1, "d9": 0}


def test_ndcg_uses_linear_graded_gain_and_log2_discount() -> None:
    # DCG@3 = 1/log2(2) + 0 + 2/log2(4) = 2; ideal = 2/log2(2) + 1/log2(3) + 1/log2(4)
    ideal = 2 + 1 / math.log2(3) + 0.5
    assert ndcg_at_k(["d1", "d2", "d3", "d4"], QRELS, 3) == pytest.approx(2 / ideal)


def test_ndcg_is_one_for_the_ideal_ranking_and_zero_without_hits() -> None:
    assert ndcg_at_k(["d3", "d1", "d5"], QRELS, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["d3", "d5", "d1"], QRELS, 10) == pytest.approx(1.0)  # equal grades tie
    assert ndcg_at_k(["d2", "d4", "d9"], QRELS, 10) == 0.0


def test_ndcg_ideal_counts_only_the_first_k_judged_documents() -> None:
    # k=1: ideal is the single grade-2 document, so d1 (grade 1) at rank 1 scores 1/2
    assert ndcg_at_k(["d1"], QRELS, 1) == pytest.approx(0.5)


def test_ndcg_is_zero_when_nothing_is_judged_relevant() -> None:
    assert ndcg_at_k(["d1", "d2"], {"d1": 0}, 10) == 0.0


def test_a_repeated_document_counts_only_once() -> None:
    assert ndcg_at_k(["d1", "d1", "d3"], QRELS, 2) == ndcg_at_k(["d1", "d3"], QRELS, 2)
    assert recall_at_k(["d1", "d1", "d1"], QRELS, 3) == pytest.approx(1 / 3)


def test_recall_is_share_of_relevant_documents_in_the_top_k() -> None:
    ranked = ["d1", "d2", "d3", "d4", "d5"]
    assert recall_at_k(ranked, QRELS, 3) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, QRELS, 100) == pytest.approx(1.0)
    assert recall_at_k(["d9"], QRELS, 10) == 0.0  # grade 0 is not relevant


def test_mrr_is_reciprocal_rank_of_first_relevant_within_k() -> None:
    assert mrr_at_k(["d2", "d4", "d3"], QRELS, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["d2", "d4", "d3"], QRELS, 2) == 0.0
    assert mrr_at_k(["d5"], QRELS, 1) == 1.0


def test_k_below_one_is_rejected() -> None:
    with pytest.raises(ValueError):
        ndcg_at_k(["d1"], QRELS, 0)


def test_mean_of_nothing_is_zero() -> None:
    assert mean([]) == 0.0
    assert mean([0.5, 1.0]) == pytest.approx(0.75)
