"""Tests for archive.store.sqlite.selective: an any-word query asks FTS5 only its selective words on large tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.store.interface import Filters, KeywordQuery
from archive.store.sqlite import keyword, selective
from archive.store.sqlite.vtables import FTS_TABLE
from tests.helpers import REPORT_CITIES, REPORT_EVENTS, city_reports

# city_reports: every article (one passage each) says "witnesses"; "code<i>" is article i's own.
COMMON, RARE, RARER = ("witnesses",), ("code7",), ("code12",)


@pytest.fixture
def reports(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> Archive:
    monkeypatch.setattr(selective, "SELECTIVE_MIN_ROWS", 10)  # 40 articles' passages count as a large table
    archive.ingest_records(city_reports(0, 40))
    return archive


@pytest.fixture
def reader(reports: Archive) -> Iterator[Any]:
    with reports.store().reader() as opened:
        yield opened


def _narrowed(reader: Any, *terms: tuple[str, ...], every: bool = False, excluded: tuple[str, ...] = ()) -> Any:
    query = KeywordQuery(terms, excluded, every)
    return selective.narrowed(reader.session, FTS_TABLE, query, reader.approx_passages())


def test_a_word_in_more_than_half_the_passages_is_not_asked(reader: Any) -> None:
    narrowed = _narrowed(reader, COMMON, RARE, RARER)
    assert narrowed is not None
    assert narrowed.terms == (RARE, RARER)
    assert narrowed.every is False


def test_a_word_in_a_fifth_to_half_of_the_passages_is_still_asked(reader: Any) -> None:
    """Its IDF is still well above zero: leaving it out would reorder the rows the other words match."""
    rows = reader.approx_passages()
    conn = reader.session.connection()
    share = {
        word: selective.matching_rows(conn, FTS_TABLE, keyword.term_expression((word,)), rows, rows) / rows
        for word in (*(c.lower() for c in REPORT_CITIES), *REPORT_EVENTS)
    }
    word = next((w for w, part in share.items() if 0.2 < part <= selective.COMMON_SHARE), None)
    assert word is not None, share
    assert _narrowed(reader, COMMON, (word,), RARE) == KeywordQuery(((word,), RARE), (), False)


def test_exclusions_stay(reader: Any) -> None:
    narrowed = _narrowed(reader, COMMON, RARE, excluded=("odesa",))
    assert narrowed is not None and narrowed.excluded == ("odesa",)


@pytest.mark.parametrize(
    ("terms", "every"),
    [
        ((COMMON, ("paragraph",)), False),  # every word common: nothing is left out
        ((RARE, RARER), False),  # every word selective
        ((COMMON, RARE), True),  # all words asked for: each one narrows
        ((COMMON,), False),  # one word
    ],
)
def test_nothing_is_narrowed(reader: Any, terms: tuple[tuple[str, ...], ...], every: bool) -> None:
    assert _narrowed(reader, *terms, every=every) is None


def test_small_tables_ask_every_word(reports: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selective, "SELECTIVE_MIN_ROWS", 10_000)
    with reports.store().reader() as reader:
        assert _narrowed(reader, COMMON, RARE) is None


def test_a_spelling_variant_counts_with_its_term(reader: Any) -> None:
    # ("code7", "witnesses") as one term matches half the passages: the term is common.
    assert _narrowed(reader, ("code7", "witnesses"), RARER) == KeywordQuery((RARER,), (), False)


def test_the_selective_words_answer_when_they_fill_the_window(reader: Any) -> None:
    query = KeywordQuery((COMMON, RARE, RARER))
    found = reader.passage_keyword(query, 2, Filters())
    expected = keyword.fts(reader.session, keyword.match_expression(KeywordQuery((RARE, RARER))), 2, Filters())
    assert found == expected
    assert len(found) == 2


def test_every_word_is_asked_when_the_selective_ones_fall_short(reader: Any) -> None:
    query = KeywordQuery((COMMON, RARE))
    found = reader.passage_keyword(query, 10, Filters())
    assert found == keyword.fts(reader.session, keyword.match_expression(query), 10, Filters())
    assert len(found) == 10  # code7 alone holds one passage: the others come from "witnesses"


def test_counts_stop_past_the_cap_and_follow_the_archive_size(reports: Archive) -> None:
    with reports.store().reader() as reader:
        conn = reader.session.connection()
        rows = reader.approx_passages()
        assert selective.matching_rows(conn, FTS_TABLE, '"witnesses"', rows, 3) == 4
        assert selective.matching_rows(conn, FTS_TABLE, '"code40"', rows, 3) == 0
        # the same words under a higher cap are counted again, not read back from the capped count
        assert selective.matching_rows(conn, FTS_TABLE, '"witnesses"', rows, rows) == rows
    reports.ingest_records(city_reports(40, 2))
    with reports.store().reader() as reader:
        conn = reader.session.connection()
        assert selective.matching_rows(conn, FTS_TABLE, '"code40"', reader.approx_passages(), 3) == 1


def test_narrowing_never_reaches_an_empty_archive(tmp_path: Any) -> None:
    with Archive.open(tmp_path / "empty.db", embedder=FakeEmbedder()) as empty, empty.store().reader() as reader:
        assert _narrowed(reader, COMMON, RARE) is None
