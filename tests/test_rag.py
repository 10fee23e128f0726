"""RAG context: numbering, citations, token budget, duplicate collapse, empty results."""

from __future__ import annotations

import re

import pytest

from archive import Archive, InvalidQueryError, RawArticle, SearchResult, Source
from archive.embedding.fake import FakeEmbedder
from archive.search.rag import build_context, format_citation

COUNT = FakeEmbedder().count_tokens

STORIES = [
    ("Grain ship leaves Odesa", "A cargo ship loaded with grain left the port of Odesa under a UN-brokered deal."),
    ("Power cuts in Kyiv", "Rolling power cuts hit Kyiv after strikes on the grid left substations damaged."),
    ("Refugees reach Poland", "Thousands of refugees crossed into Poland at Medyka, aid workers said on Monday."),
    ("Talks in Istanbul", "Negotiators met in Istanbul for peace talks that ended without a ceasefire deal."),
    ("Bridge attack", "An explosion damaged the Kerch bridge linking Crimea to Russia early on Saturday."),
]


def _ingest_stories(archive: Archive) -> None:
    archive.ingest_records(
        RawArticle(
            text=text, title=title, outlet=f"Outlet {i}", published=f"2022-0{i + 1}-15", url=f"https://example.org/{i}"
        )
        for i, (title, text) in enumerate(STORIES)
    )


def _hit(rank: int, text: str, *, article_id: int, start: int = 0, sources: tuple[Source, ...] = ()) -> SearchResult:
    return SearchResult(
        rank=rank,
        score=1.0 / rank,
        text=text,
        article_id=article_id,
        chunk_id=100 * article_id + start,
        char_start=start,
        char_end=start + len(text),
        outlet=f"Outlet {article_id}",
        title=f"Title {article_id}",
        url=f"https://example.org/{article_id}",
        published="2022-03-01T10:00:00",
        sources=sources,
    )


def test_empty_archive_gives_empty_context_not_an_error(archive: Archive) -> None:
    context = archive.context("grain exports from Odesa")
    assert context.text == ""
    assert context.sources == [] and context.results == []


def test_no_keyword_hits_gives_empty_context(archive: Archive) -> None:
    _ingest_stories(archive)
    context = archive.context("zzyzx", mode="keyword")
    assert context.text == "" and context.sources == []


def test_passages_are_numbered_in_order_with_a_citation_each(archive: Archive) -> None:
    _ingest_stories(archive)
    context = archive.context("grain ship Odesa power cuts Kyiv refugees Poland", k=5)
    numbers = [int(n) for n in re.findall(r"^\[(\d+)\] ", context.text, flags=re.MULTILINE)]
    assert numbers == list(range(1, len(context.sources) + 1)) and len(numbers) == 5
    assert [c.number for c in context.sources] == numbers
    assert context.text.count("(Source: ") == 5
    first = context.sources[0].primary
    assert f"(Source: {first.outlet}, {first.title}, {first.published[:10]}, {first.url})" in context.text


def test_citations_follow_search_rank(archive: Archive) -> None:
    _ingest_stories(archive)
    hits = archive.search("Kerch bridge explosion Crimea", k=3)
    context = archive.context("Kerch bridge explosion Crimea", k=3)
    assert [c.primary.article_id for c in context.sources] == [h.article_id for h in hits]
    assert context.text.startswith("[1] An explosion damaged the Kerch bridge")


@pytest.mark.parametrize("budget", [25, 40, 60, 90, 1500])
def test_text_never_exceeds_the_token_budget(archive: Archive, budget: int) -> None:
    _ingest_stories(archive)
    context = archive.context("ship grain power refugees talks bridge", k=5, max_tokens=budget)
    assert COUNT(context.text) <= budget
    assert context.token_count == COUNT(context.text)
    assert len(context.sources) + context.dropped == 5


def test_passages_that_do_not_fit_are_dropped_whole_not_cut(archive: Archive) -> None:
    _ingest_stories(archive)
    context = archive.context("ship grain power refugees talks bridge", k=5, max_tokens=60)
    assert 0 < len(context.sources) < 5 and context.dropped > 0
    for result in context.results:
        assert " ".join(result.text.split()) in context.text


def test_a_shorter_later_passage_still_fills_the_budget() -> None:
    long = _hit(1, "word " * 50, article_id=1)
    short = _hit(2, "Short passage here.", article_id=2)
    context = build_context("q", [long, short], count_tokens=COUNT, max_tokens=40)
    assert [c.primary.article_id for c in context.sources] == [2]
    assert context.text.startswith("[1] Short passage here.")
    assert context.dropped == 1


def test_passage_carried_by_three_outlets_is_cited_once_listing_all(archive: Archive) -> None:
    text = "Shelling destroyed the drama theatre in Mariupol where civilians were sheltering."
    archive.ingest_records(
        RawArticle(
            text=text, title="Theatre hit", outlet=outlet, published=f"2022-03-1{i}", url=f"https://{i}.example/t"
        )
        for i, outlet in enumerate(["Wire", "Daily A", "Daily B"])
    )
    context = archive.context("Mariupol theatre shelling", k=5)
    assert len(context.sources) == 1
    citation = context.sources[0]
    assert [s.outlet for s in citation.sources] == ["Wire", "Daily A", "Daily B"]
    assert context.text.count("drama theatre") == 1
    assert (
        "(Source: Wire, Theatre hit, 2022-03-10, https://0.example/t; also carried by 2 other outlets: Daily A, Daily B)"
        in context.text
    )


def test_overlapping_passages_of_one_article_merge_under_one_number() -> None:
    article = "First sentence here. Second sentence here. Third sentence here. Fourth one."
    a = _hit(1, article[21:63], article_id=7, start=21)  # "Second ... Third sentence here."
    b = _hit(2, article[0:42], article_id=7, start=0)  # "First ... Second sentence here."
    far = _hit(3, article[64:], article_id=7, start=64)
    context = build_context("q", [a, b, far], count_tokens=COUNT)
    assert len(context.sources) == 1
    assert context.text.startswith(
        "[1] First sentence here. Second sentence here. Third sentence here. … Fourth one.\n"
    )
    assert [r.char_start for r in context.results] == [0, 21, 64]


def test_the_same_passage_twice_is_quoted_once() -> None:
    hit = _hit(1, "Only once.", article_id=3)
    context = build_context("q", [hit, hit], count_tokens=COUNT)
    assert context.text.count("Only once.") == 1 and len(context.results) == 1


def test_filters_reach_the_search(archive: Archive) -> None:
    _ingest_stories(archive)
    context = archive.context("ship grain power refugees talks bridge", k=5, outlets=["Outlet 2"])
    assert {c.primary.outlet for c in context.sources} == {"Outlet 2"}


def test_budget_below_one_token_is_rejected(archive: Archive) -> None:
    with pytest.raises(InvalidQueryError):
        archive.context("grain", max_tokens=0)


def test_citation_omits_missing_fields_and_same_outlet_copies() -> None:
    sources = (Source(1, "BBC", "Headline", None, None), Source(2, "BBC", "Headline", "https://b", None))
    assert format_citation(sources) == "(Source: BBC, Headline)"
    assert format_citation(()) == "(Source: unknown)"
