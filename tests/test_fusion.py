"""Tests for archive.search.fusion: how candidate lists become one order of stories."""

from __future__ import annotations

from archive.search.fusion import RRF_K, Candidates, first_seen, rrf, story_scores


def test_rrf_sums_weighted_reciprocal_ranks_and_skips_unweighted_lists() -> None:
    scores = rrf([([1, 2], 1.0), ([2, 3], 0.5), ([9], 0.0)])
    assert scores[2] == 1 / (RRF_K + 2) + 0.5 / (RRF_K + 1)
    assert scores[1] == 1 / (RRF_K + 1) and 9 not in scores


def test_a_story_counts_once_per_list_at_its_best_rank() -> None:
    assert first_seen([10, 11, 12, 13], {10: 1, 11: 1, 12: 2, 13: 1}) == [1, 2]


def _found() -> tuple[Candidates, dict[int, int], dict[int, int]]:
    # passages 1-3 belong to stories 100 and 200; articles 100, 200, 300 are their own stories
    found = Candidates(
        semantic=[(1, 0.9), (2, 0.8), (3, 0.7)],
        keyword=[(3, -5.0)],
        articles=[(200, -9.0)],
        article_vectors=[(300, 0.95), (200, 0.9)],
    )
    return found, {1: 100, 2: 100, 3: 200}, {100: 100, 200: 200, 300: 300}


def test_hybrid_ranks_a_story_found_by_every_list_first() -> None:
    found, of_passage, of_article = _found()
    scores = story_scores(found, of_passage, of_article, "hybrid", 1.0, 1.0)
    assert max(scores, key=lambda s: scores[s]) == 200
    assert 300 in scores  # found by its article vector alone


def test_semantic_fuses_passage_and_article_vectors() -> None:
    found, of_passage, of_article = _found()
    scores = story_scores(found, of_passage, of_article, "semantic", 1.0, 1.0)
    assert set(scores) == {100, 200, 300}
    assert scores[200] > scores[100]  # second in both vector lists beats first in one


def test_without_article_vectors_semantic_keeps_the_passage_order() -> None:
    found, of_passage, of_article = _found()
    plain = Candidates(semantic=found.semantic)
    scores = story_scores(plain, of_passage, of_article, "semantic", 1.0, 1.0)
    assert sorted(scores, key=lambda s: -scores[s]) == [100, 200]


def test_keyword_mode_ignores_the_vector_lists() -> None:
    found, of_passage, of_article = _found()
    assert set(story_scores(found, of_passage, of_article, "keyword", 1.0, 1.0)) == {200}
