"""Tests for archive.store.sqlite.split: an any-word query's best BM25 rows, its commonest word scored less."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from archive import Archive, RawArticle
from archive.store.interface import Filters, KeywordQuery
from archive.store.sqlite import keyword, selective, split
from archive.store.sqlite.vtables import ARTICLE_FTS_TABLE, FTS_TABLE
from tests.helpers import city_reports

# city_reports: every article says "witnesses"; "code<i>" and "detail<i>" are article i's own words.
COMMON, CITY, RARE = ("witnesses",), ("kharkiv",), ("code7",)
NO_FILTERS = Filters()


@pytest.fixture
def reader(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(split, "SPLIT_MIN_ROWS", 10)  # 80 articles' passages count as a large table
    monkeypatch.setattr(selective, "_memo", type(selective._memo)())
    archive.ingest_records(city_reports(0, 80))
    with archive.store().reader() as opened:
        yield opened


def _whole(reader: Any, query: KeywordQuery, limit: int, filters: Filters = NO_FILTERS) -> list[tuple[int, float]]:
    match = keyword.match_expression(query)
    assert match is not None
    return keyword.fts(reader.session, match, limit, filters)


def _split(reader: Any, query: KeywordQuery, limit: int, filters: Filters = NO_FILTERS) -> list[tuple[int, float]]:
    rows = reader.approx_passages()
    return split.best_matches(reader.session, keyword.fts, FTS_TABLE, rows, query, limit, filters)


def _same(found: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    """The same best rows: equal scores in the same order (rows of equal score may trade places)."""
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-12, abs=0)
    assert {i for i, _ in found} == {i for i, _ in expected} or len({s for _, s in expected}) < len(expected)


@pytest.mark.parametrize("limit", [3, 10, 500])
def test_the_best_rows_are_the_whole_querys(reader: Any, limit: int) -> None:
    for terms in ((COMMON, RARE), (COMMON, CITY, RARE), (CITY, COMMON), (("odesa", "odessa"), COMMON, ("detail3",))):
        query = KeywordQuery(terms)
        _same(_split(reader, query, limit), _whole(reader, query, limit))


def test_exclusions_and_filters_apply_to_every_part(reader: Any) -> None:
    query = KeywordQuery((COMMON, CITY), excluded=("odesa",))
    _same(_split(reader, query, 500), _whole(reader, query, 500))
    since = Filters(since=20220601)
    _same(
        _split(reader, KeywordQuery((COMMON, CITY)), 50, since), _whole(reader, KeywordQuery((COMMON, CITY)), 50, since)
    )


def test_rows_of_the_common_word_alone_are_read_only_when_they_could_rank(reader: Any) -> None:
    asked: list[str] = []
    original = keyword.fts

    def counting(session: Any, match: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
        asked.append(match)
        return original(session, match, limit, filters)

    rows = reader.approx_passages()
    # Two rare words fill a window of 2 with scores above anything "witnesses" alone can reach.
    found = split.best_matches(
        reader.session, counting, FTS_TABLE, rows, KeywordQuery((COMMON, RARE, ("code9",))), 2, Filters()
    )
    assert len(asked) == 2 and all("witnesses" in m for m in asked)
    assert {i for i, _ in found} == {i for i, _ in _whole(reader, KeywordQuery((RARE, ("code9",))), 2)}
    asked.clear()
    # A window the rare word cannot fill: the common word's own rows are read as well.
    query = KeywordQuery((COMMON, RARE))
    _same(
        split.best_matches(reader.session, counting, FTS_TABLE, rows, query, 30, Filters()), _whole(reader, query, 30)
    )
    assert len(asked) == 3


def test_the_bound_is_above_every_rows_score_for_the_word(reader: Any) -> None:
    rows = reader.approx_passages()
    for term in (COMMON, CITY, RARE, ("odesa", "odessa")):
        best = -min(s for _, s in _whole(reader, KeywordQuery((term,)), 1000))
        assert 0 < best < split.bound(reader.session.connection(), FTS_TABLE, rows, term)


def test_headline_weighted_article_lists_split_alike(reader: Any) -> None:
    rows = reader.approx_passages()
    query = KeywordQuery((("report",), CITY, RARE))
    match = keyword.match_expression(query)
    assert match is not None
    whole = keyword.fts_articles(reader.session, match, 20, Filters())
    _same(
        split.best_matches(reader.session, keyword.fts_articles, ARTICLE_FTS_TABLE, rows, query, 20, Filters()), whole
    )


def test_small_tables_and_all_word_queries_are_asked_whole(reader: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def counting(session: Any, match: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
        asked.append(match)
        return keyword.fts(session, match, limit, filters)

    rows = reader.approx_passages()
    split.best_matches(
        reader.session, counting, FTS_TABLE, rows, KeywordQuery((COMMON, RARE), every=True), 5, Filters()
    )
    monkeypatch.setattr(split, "SPLIT_MIN_ROWS", rows)
    split.best_matches(reader.session, counting, FTS_TABLE, rows, KeywordQuery((COMMON, RARE)), 5, Filters())
    assert asked == ['"witnesses" AND "code7"', '"witnesses" OR "code7"']


def test_a_short_row_of_the_common_word_alone_still_outranks_long_rows_of_the_rest(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rest fills the window, yet a row holding only the common word scores above its last row."""
    monkeypatch.setattr(split, "SPLIT_MIN_ROWS", 10)
    monkeypatch.setattr(selective, "_memo", type(selective._memo)())
    filler = " ".join(f"Paragraph word{i} about the weather and the harvest." for i in range(12))
    articles = [RawArticle(title="Convoy", text="Convoy convoy convoy convoy.", outlet="A", url="https://e.org/c")]
    articles += [
        RawArticle(
            title=f"Road {i}",
            text=f"A convoy passed village {i} today. {filler}",
            outlet="A",
            url=f"https://e.org/r{i}",
        )
        for i in range(11)
    ]
    articles += [
        RawArticle(
            title=f"Talks {i}",
            text=f"{filler} Talks of a ceasefire in town {i}. {filler}",
            outlet="B",
            url=f"https://e.org/t{i}",
        )
        for i in range(4)
    ]
    articles += [
        RawArticle(title=f"Farm {i}", text=f"Farm {i}. {filler}", outlet="C", url=f"https://e.org/f{i}")
        for i in range(24)
    ]
    archive.ingest_records(articles)
    with archive.store().reader() as reader:
        query = KeywordQuery((("convoy",), ("ceasefire",)))
        found = _split(reader, query, 4)
        whole = _whole(reader, query, 4)
        ceasefire_only = _whole(reader, KeywordQuery((("ceasefire",),)), 10)
    assert len(ceasefire_only) >= 4  # the rest alone fills the window ...
    _same(found, whole)
    assert not {i for i, _ in found} <= {i for i, _ in ceasefire_only}  # ... but a convoy row ranks among the best


def test_words_of_like_frequency_are_asked_whole(reader: Any) -> None:
    """Where the commonest word holds no more rows than the others together, the split saves little."""
    asked: list[str] = []

    def counting(session: Any, match: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
        asked.append(match)
        return keyword.fts(session, match, limit, filters)

    rows = reader.approx_passages()
    query = KeywordQuery((CITY, ("odesa",), ("lviv",)))
    found = split.best_matches(reader.session, counting, FTS_TABLE, rows, query, 5, NO_FILTERS)
    assert asked == ['"kharkiv" OR "odesa" OR "lviv"'] and len(found) == 5
