"""Hybrid fusion in SQL on PostgreSQL is archive.search.fusion's method: same ids, same order, same scores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.search.fusion import Candidates, passage_scores, story_scores
from archive.search.params import build_params
from archive.search.run import DEPTH, hybrid_request
from archive.store.interface import HybridCandidates, HybridRequest
from archive.store.postgres.session import PostgresReader
from tests.conftest import SAMPLE
from tests.helpers import synthetic_articles

pytestmark = pytest.mark.postgres

QUERIES = (
    "shelling Kharkiv",
    "aid delivery Odesa",
    "prisoner exchange -Sumy",
    '"power outage"',
    "aid convoy Aleppo",
    "U.S. aid convoy",
)  # the last: one-letter terms (left out of the article list)
FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"since": "2022-06-01", "until": "2023-06-30"},
    {"outlets": ["Wire", "Daily"], "language": "en"},
)


@pytest.fixture
def archive(pg_url: str, tmp_path: Path) -> Iterator[Archive]:
    with Archive.open(pg_url, embedder=FakeEmbedder()) as opened:
        opened.ingest([SAMPLE, synthetic_articles(tmp_path / "synthetic.jsonl", count=120)])
        yield opened


def _ordered(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda i: (-scores[i], i))


def _fused_in_python(reader: PostgresReader, found: HybridCandidates, request: HybridRequest) -> tuple[Any, Any]:
    """archive.search.fusion applied to the four lists the statement returned."""
    candidates = Candidates(
        [(c, 1.0 - d) for c, d in found.semantic],
        found.keyword,
        found.articles,
        [(a, 1.0 - d) for a, d in found.article_vectors],
    )
    details = reader.passages([c for c, _ in found.semantic + found.keyword])
    story_of_passage = {cid: p.story_id for cid, p in details.items()}
    story_of_article = reader.story_ids([a for a, _ in found.articles + found.article_vectors])
    semantic_weight, keyword_weight = request.passage_weights
    stories = story_scores(candidates, story_of_passage, story_of_article, "hybrid", semantic_weight, keyword_weight)
    passages = passage_scores(candidates, "hybrid", semantic_weight, keyword_weight)
    return stories, passages


def _assert_same(sql: dict[int, float], python: dict[int, float]) -> None:
    assert python, "nothing was fused: the comparison would prove nothing"
    assert _ordered(sql) == _ordered(python)
    assert max(abs(sql[i] - python[i]) for i in python) <= 1e-9


@pytest.mark.parametrize("weights", [(1.0, 1.0), (2.0, 0.5), (1.0, 0.0)])
def test_sql_fusion_gives_python_fusions_ids_order_and_scores_with_and_without_filters(
    archive: Archive, weights: tuple[float, float]
) -> None:
    embedder = FakeEmbedder()
    with archive.store().reader() as reader:
        assert isinstance(reader, PostgresReader)
        for filters in FILTERS:
            for query in QUERIES:
                params = build_params(
                    reader,
                    query,
                    variants=archive.variants,
                    semantic_weight=weights[0],
                    keyword_weight=weights[1],
                    **filters,
                )
                vector = np.asarray(embedder.embed_query(params.parsed.text or query), dtype=np.float32)
                request = hybrid_request(reader, vector, params, DEPTH)
                found = reader.hybrid_candidates(request)
                assert found is not None and found.semantic and found.article_vectors
                stories, passages = _fused_in_python(reader, found, request)
                _assert_same(found.stories, stories)
                _assert_same(found.passages, passages)
                # The lists are the ones the separate statements give.
                assert found.semantic == reader.knn(vector, request.semantic_depth, params.filters)
                assert params.keyword is not None
                assert found.keyword == reader.passage_keyword(params.keyword, DEPTH, params.filters)


def test_sql_fusion_takes_every_word_first_when_that_fills_the_list(archive: Archive) -> None:
    with archive.store().reader() as reader:
        assert isinstance(reader, PostgresReader)
        params = build_params(reader, "shelling Kharkiv", variants=archive.variants)
        request = hybrid_request(reader, None, params, DEPTH)
        assert params.keyword is not None and not request.every_first  # a small archive: any word
        every = reader.passage_keyword(params.keyword.with_every(True), DEPTH, params.filters)
        any_word = reader.passage_keyword(params.keyword, DEPTH, params.filters)
        assert 0 < len(every) < len(any_word)
        found = reader.hybrid_candidates(replace(request, every_first=True))
        assert found is not None and found.keyword == any_word  # every word does not fill 300: any word
        filled = reader.hybrid_candidates(replace(request, every_first=True, depth=len(every)))
        assert filled is not None and filled.keyword == every


def test_hybrid_search_is_the_same_fused_in_sql_or_in_python(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    def results() -> list[list[tuple[int, float]]]:
        found = []
        for filters in FILTERS:
            for query in QUERIES:
                hits = archive.search(query, k=10, **filters)
                found.append([(h.article_id, round(h.score, 12)) for h in hits])
        return found

    in_sql = results()
    monkeypatch.setattr(PostgresReader, "fuse_in_sql", False)
    in_python = results()
    assert any(in_sql) and in_sql == in_python
