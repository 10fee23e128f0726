"""Coverage: outlets with date ranges, timelines and facets counting matching articles."""

from __future__ import annotations

import pytest

from archive import Archive
from archive.errors import InvalidQueryError
from archive.ingest.records import RawArticle
from archive.results import SearchResult
from archive.search.coverage import bucket_of, build_timeline, sort_results
from archive.store.sqlite.facets import ArticleMeta


def _article(text: str, outlet: str, published: str | None, title: str = "t", url: str | None = None) -> RawArticle:
    return RawArticle(text=text, title=title, url=url, outlet=outlet, published=published)


@pytest.fixture
def coverage_archive(archive: Archive) -> Archive:
    story = "Russian forces withdrew from Bucha and residents described killings in the streets of the town."
    archive.ingest_records(
        [
            _article(story, "Wire", "2022-04-02", url="https://wire.example/bucha"),
            _article(story, "Daily", "2022-04-03"),  # an exact copy: no passage of its own
            _article("Investigators in Bucha collected evidence for weeks, prosecutors said.", "Daily", "2022-04-20"),
            _article("A grain deal was signed in Istanbul after weeks of talks.", "Wire", "2022-07-22"),
            _article("Bucha residents returned to rebuild houses a year later.", "Gazette", "2023-03-30"),
            _article("Bucha memorial service held without a date given.", "Gazette", None),
        ]
    )
    return archive


def test_outlets_list_every_outlet_with_counts_and_date_range(coverage_archive: Archive) -> None:
    outlets = {o.name: o for o in coverage_archive.outlets()}
    assert set(outlets) == {"Wire", "Daily", "Gazette"}
    assert outlets["Daily"].articles == 2
    assert outlets["Wire"].first_published == "2022-04-02" and outlets["Wire"].last_published == "2022-07-22"
    assert outlets["Gazette"].to_dict()["articles"] == 2


def test_keyword_timeline_counts_articles_with_their_exact_copies_and_marks_the_earliest(
    coverage_archive: Archive,
) -> None:
    timeline = coverage_archive.timeline("Bucha", by="month")
    assert timeline.total == 5 and timeline.undated == 1  # 4 dated articles incl. the exact copy, 1 undated
    counts = {b.start: b.count for b in timeline.buckets}
    assert counts["2022-04"] == 3 and counts["2023-03"] == 1
    assert counts["2022-07"] == 0  # gaps are filled so that a chart shows time to scale
    assert len(timeline.buckets) == 12  # 2022-04 .. 2023-03
    april = next(b for b in timeline.buckets if b.start == "2022-04")
    assert april.outlets == {"Daily": 2, "Wire": 1}
    assert timeline.earliest is not None and timeline.earliest.outlet == "Wire"
    assert timeline.earliest.published == "2022-04-02" and timeline.earliest_bucket == "2022-04"
    assert "every query word" in timeline.matching
    assert timeline.to_dict()["earliest"]["url"] == "https://wire.example/bucha"


def test_keyword_matching_needs_every_word_somewhere_in_the_article(coverage_archive: Archive) -> None:
    assert coverage_archive.timeline("Bucha evidence").total == 1
    assert coverage_archive.timeline("Bucha grain").total == 0


def test_timeline_filters_apply_to_each_articles_own_outlet_and_date(coverage_archive: Archive) -> None:
    daily = coverage_archive.timeline("Bucha", outlets=["daily"], by="day")
    assert daily.total == 2 and {b.start for b in daily.buckets if b.count} == {"2022-04-03", "2022-04-20"}
    spring = coverage_archive.timeline("Bucha", since="2022-04-03", until="2022-04")
    assert spring.total == 2 and spring.undated == 0  # undated articles fail any date bound


def test_week_buckets_start_on_monday() -> None:
    assert bucket_of("2022-04-03", "week") == "2022-03-28"  # a Sunday
    assert bucket_of("2022-04-04T10:00:00", "week") == "2022-04-04"
    assert bucket_of("2022-04-04", "month") == "2022-04" and bucket_of(None, "day") is None


def test_week_timeline_fills_gaps_between_weeks() -> None:
    articles = [
        ArticleMeta(1, "A", 1, "x", None, "2024-01-01", None),
        ArticleMeta(2, "B", 2, "y", None, "2024-01-22", None),
    ]
    timeline = build_timeline("q", "week", "keyword", "note", articles)
    assert [b.start for b in timeline.buckets] == ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]
    assert [b.count for b in timeline.buckets] == [1, 0, 0, 1]


def test_semantic_timeline_is_bounded_by_the_passages_searched(coverage_archive: Archive) -> None:
    timeline = coverage_archive.timeline("Bucha killings", mode="semantic", limit=1)
    assert 1 <= timeline.total <= 2  # the best passage's article, and its exact copy
    assert "best 1 passages" in timeline.matching


def test_facets_count_outlets_and_months(coverage_archive: Archive) -> None:
    facets = coverage_archive.facets("Bucha")
    assert [(f.value, f.count) for f in facets.outlets] == [("Daily", 2), ("Gazette", 2), ("Wire", 1)]
    assert [(f.value, f.count) for f in facets.months] == [("2022-04", 3), ("2023-03", 1)]
    assert facets.to_dict()["total"] == 5


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.timeline("Bucha", by="year"), "day, week or month"),
        (lambda a: a.timeline("Bucha", outlets=["Nowhere"]), "unknown outlet"),
        (lambda a: a.timeline("   "), "empty"),
        (lambda a: a.facets("Bucha", limit=0), "limit"),
        (lambda a: a.facets("Bucha", mode="fuzzy"), "unknown mode"),
        (lambda a: a.timeline("the of", since="2022-13"), "invalid date"),
    ],
)
def test_bad_coverage_requests_raise_invalid_query(coverage_archive: Archive, call: object, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        call(coverage_archive)  # type: ignore[operator]


def _hit(rank: int, published: str | None) -> SearchResult:
    return SearchResult(rank, 1.0 / rank, "t", rank, rank, 0, 1, "o", "t", None, published)


def test_sort_results_by_date_keeps_ranks_and_puts_undated_last() -> None:
    hits = [_hit(1, "2022-05-01"), _hit(2, None), _hit(3, "2022-01-01")]
    assert [h.rank for h in sort_results(hits, "date")] == [3, 1, 2]
    assert [h.rank for h in sort_results(hits, "-date")] == [1, 3, 2]
    assert [h.rank for h in sort_results(hits, "score")] == [1, 2, 3]
    with pytest.raises(InvalidQueryError):
        sort_results(hits, "title")
