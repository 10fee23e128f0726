"""Tests for archive.store.sqlite.keyword: BM25 lists from FTS5, read back as one row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from archive import Archive
from archive.store.interface import Filters, KeywordQuery
from archive.store.sqlite import keyword
from archive.store.sqlite.vtables import ARTICLE_FTS_TABLE, FTS_TABLE
from tests.helpers import city_reports


@pytest.fixture
def reader(archive: Archive) -> Iterator[Any]:
    archive.ingest_records(city_reports(0, 60))
    with archive.store().reader() as opened:
        yield opened


def _row_per_match(reader: Any, table: str, match: str, limit: int, score: str) -> list[tuple[int, float]]:
    """The same list as the plain statement gives it, one row per match."""
    sql = f"SELECT rowid, {score} AS s FROM {table} WHERE {table} MATCH ? ORDER BY s, rowid LIMIT ?"
    return [(int(r[0]), float(r[1])) for r in reader.session.connection().exec_driver_sql(sql, (match, limit))]


def _ordered(pairs: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Ties (identical texts score alike) in rowid order, as ``_row_per_match`` breaks them."""
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


def test_passage_lists_hold_the_exact_bm25_of_every_match_best_first(reader: Any) -> None:
    match = keyword.match_expression(KeywordQuery((("witnesses",), ("kharkiv",), ("code7",))))
    assert match is not None
    found = keyword.fts(reader.session, match, 40, Filters())
    assert len(found) == 40
    assert [s for _, s in found] == sorted(s for _, s in found)
    # Every digit survives: the scores are the doubles FTS5 computed, not a rounded print of them.
    assert _ordered(found) == _row_per_match(reader, FTS_TABLE, match, 40, f"bm25({FTS_TABLE})")


def test_article_lists_weigh_the_headline(reader: Any) -> None:
    match = keyword.match_expression(KeywordQuery((("report",), ("odesa",))))
    assert match is not None
    found = keyword.fts_articles(reader.session, match, 25, Filters())
    weights = f"bm25({ARTICLE_FTS_TABLE}, {keyword.ARTICLE_TITLE_WEIGHT}, 1.0)"
    assert _ordered(found) == _row_per_match(reader, ARTICLE_FTS_TABLE, match, 25, weights)


def test_filters_narrow_the_list_and_no_match_is_an_empty_list(reader: Any) -> None:
    match = keyword.match_expression(KeywordQuery((("witnesses",),)))
    assert match is not None
    everything = keyword.fts(reader.session, match, 500, Filters())
    recent = keyword.fts(reader.session, match, 500, Filters(since=20221101))
    assert 0 < len(recent) < len(everything)
    assert {i for i, _ in recent} < {i for i, _ in everything}
    assert keyword.fts(reader.session, '"nowhereland"', 10, Filters()) == []


def test_pairs_read_the_joined_text_best_first() -> None:
    assert keyword._pairs("12 -1.5 3 -2.25 7 -2.25") == [(3, -2.25), (7, -2.25), (12, -1.5)]
    assert keyword._pairs(None) == []
    assert keyword._pairs("") == []
