"""Search modes, FTS safety, filters that still return k, duplicate collapse, highlights."""

from __future__ import annotations

import threading

import pytest

from archive import Archive, InvalidQueryError, RawArticle
from archive.search.params import highlight_terms, highlight_words, highlighted, keyword_query
from archive.search.query import parse_query
from archive.search.variants import Variants, load_variants
from archive.store.sqlite.keyword import match_expression
from archive.store.sqlite.search import SqliteSearchReader

TOPICS = ["artillery shelling", "grain exports", "drone strike", "peace talks", "refugees crossing", "power grid"]
CITIES = ["Kharkiv", "Odesa", "Mariupol", "Kherson", "Lviv", "Dnipro", "Sumy", "Mykolaiv"]


def _corpus(n: int = 200) -> list[RawArticle]:
    records = []
    for i in range(n):
        topic, city = TOPICS[i % len(TOPICS)], CITIES[i % len(CITIES)]
        month = 1 + i % 12
        records.append(
            RawArticle(
                title=f"Report {i}: {topic} in {city}",
                text=f"Officials in {city} described {topic} on day {i}. Item number {i} mentions code{i} and {topic} near {city}.",
                outlet="Rare Outlet" if i % 100 == 7 else f"Outlet {i % 5}",
                published=f"2022-{month:02d}-{1 + i % 28:02d}",
                url=f"https://example.org/{i}",
            )
        )
    return records


@pytest.fixture
def corpus(archive: Archive) -> Archive:
    archive.ingest_records(_corpus())
    return archive


@pytest.mark.parametrize(
    "query", ['"', "U.S.", "AND", "OR NOT", "*", "(((", "a) OR (b", "NEAR(x y)", "col:umn", "^start", "-", "'"]
)
def test_user_text_never_breaks_fts_syntax(corpus: Archive, query: str) -> None:
    for mode in ("keyword", "hybrid"):
        corpus.search(query, k=3, mode=mode)  # must not raise


def fts_query(text: str) -> str | None:
    """The passage MATCH expression search builds for ``text`` (no spelling variants)."""
    query = keyword_query(parse_query(text), Variants([]))
    return match_expression(query) if query is not None else None


def test_fts_query_quotes_every_term() -> None:
    assert fts_query('U.S. AND "sanctions" (') == '"u" OR "s" OR "sanctions"'
    assert fts_query("the") == '"the"'
    assert fts_query("!!!") is None


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
def test_each_mode_finds_the_exact_article(corpus: Archive, mode: str) -> None:
    hits = corpus.search("code137 power grid Odesa", k=3, mode=mode)
    assert any("code137" in h.text for h in hits)


def test_hybrid_reports_per_mode_score_components(corpus: Archive) -> None:
    hit = corpus.search("code42 artillery shelling Mariupol", k=1, mode="hybrid")[0]
    assert {"rrf", "semantic", "keyword"} <= set(hit.scores)
    assert "code42" in hit.highlights


def test_a_filter_matching_one_percent_still_returns_k(corpus: Archive) -> None:
    hits = corpus.search("artillery shelling in Kharkiv", k=2, mode="semantic", outlets=["Rare Outlet"])
    assert len(hits) == 2
    assert all(h.outlet == "Rare Outlet" for h in hits)
    hybrid = corpus.search("artillery shelling in Kharkiv", k=2, outlets=["rare outlet"])
    assert len(hybrid) == 2


def test_date_filters_are_inclusive_and_exclude_the_rest(corpus: Archive) -> None:
    hits = corpus.search("drone strike", k=50, since="2022-03", until="2022-03", mode="semantic")
    assert hits and all(h.published and h.published.startswith("2022-03") for h in hits)
    keyword = corpus.search("drone strike", k=50, since="2022-03", until="2022-03", mode="keyword")
    assert keyword and all(h.published.startswith("2022-03") for h in keyword)


def test_k_distinct_results_come_back_even_when_copies_crowd_the_top(archive: Archive) -> None:
    story = "Ukrainian forces recaptured the village after days of fighting, the general staff said."
    copies = [
        RawArticle(text=story, title="Village recaptured", outlet=f"Outlet {i}", url=f"https://x.example/{i}")
        for i in range(30)
    ]
    others = [
        RawArticle(text=f"Different report number {i} about fighting near a village.", title=f"Other {i}")
        for i in range(10)
    ]
    archive.ingest_records(copies + others)
    hits = archive.search("village recaptured after fighting", k=5)
    assert len(hits) == 5
    assert len({h.group_id for h in hits}) == 5
    assert hits[0].source_count == 30


def test_unknown_outlet_lists_the_known_ones(corpus: Archive) -> None:
    with pytest.raises(InvalidQueryError, match="Rare Outlet"):
        corpus.search("x", outlets=["Nope"])


def test_highlight_terms_skip_stopwords_and_keep_original_case() -> None:
    assert highlight_terms("the shelling of Kharkiv", "Shelling hit Kharkiv on the day") == ("Shelling", "Kharkiv")


def test_near_identical_passages_from_unlinked_articles_collapse_into_one_result(archive: Archive) -> None:
    shared = (
        "The International Committee of the Red Cross said its teams delivered insulin, surgical kits, blankets "
        "and water purification tablets to the two hospitals still working in the besieged city on Wednesday, "
        "after a local truce allowed a convoy of six trucks to cross the front line. Doctors there said supplies "
        "of anaesthetics would last only a few more days and asked for generators and fuel."
    )
    story_a = " ".join(f"Artillery duels continued overnight near village number {i} in the north." for i in range(8))
    story_b = " ".join(f"Residents queued for bread at bakery number {i} as the blockade went on." for i in range(8))
    archive.ingest_records(
        [
            RawArticle(text=shared + "\n\n" + story_a, title="Red Cross delivers aid", outlet="Wire"),
            RawArticle(
                text=story_b + "\n\n" + shared.replace("on Wednesday", "on Wednesday morning"),
                title="Bread queues as blockade drags on",
                outlet="Daily",
            ),
        ]
    )
    assert archive.duplicates() == []  # the articles are different stories
    query = "Red Cross delivered insulin and surgical kits to hospitals in the besieged city"
    raw = archive.search(query, k=2, mode="semantic", dedup=False)
    assert len(raw) == 2 and raw[0].group_id != raw[1].group_id
    assert all("Red Cross" in hit.text for hit in raw)
    collapsed = archive.search(query, k=1, mode="semantic")
    assert sorted(s.outlet for s in collapsed[0].sources) == ["Daily", "Wire"]


def _fts_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from archive.store.sqlite import keyword

    calls: list[str] = []
    original = keyword.fts

    def spy(session: object, match: str, limit: int, filters: object) -> list[tuple[int, float]]:
        calls.append(match)
        return original(session, match, limit, filters)  # type: ignore[arg-type]

    monkeypatch.setattr(keyword, "fts", spy)
    return calls


def _large_archive_fts_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Treat every archive as large (AND first), and record the MATCH expressions that run."""
    import archive.search.run as search

    monkeypatch.setattr(search, "KEYWORD_AND_MIN_ROWS", 0)
    monkeypatch.setattr(search, "DEPTH", 40)  # a window this small corpus can fill
    monkeypatch.setattr(Archive, "variants", property(lambda self: Variants([])))  # MATCH strings without variants
    return _fts_calls(monkeypatch)


def test_small_archives_rank_keyword_matches_with_one_or_query(
    corpus: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fts_calls(monkeypatch)
    corpus.search("officials described", k=5, mode="keyword")
    assert calls == ['"officials" OR "described"']


def test_large_archives_take_passages_with_every_word_when_they_fill_the_window(
    corpus: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _large_archive_fts_calls(monkeypatch)
    hits = corpus.search("officials described", k=5, mode="keyword")
    assert calls == ['"officials" AND "described"'] and len(hits) == 5


def test_large_archives_fall_back_to_any_word_when_too_few_have_every_word(
    corpus: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _large_archive_fts_calls(monkeypatch)
    hits = corpus.search("code5 grain Kharkiv", k=5, mode="keyword")
    assert calls == ['"code5" AND "grain" AND "kharkiv"', '"code5" OR "grain" OR "kharkiv"']
    assert "code5" in hits[0].text and len(hits) == 5


def test_hybrid_embeds_the_query_on_a_worker_thread_while_keyword_lists_are_read(
    corpus: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = corpus.embedder
    threads: list[str] = []
    original = type(embedder).embed_query

    def recording(self: object, text: str) -> object:
        threads.append(threading.current_thread().name)
        return original(self, text)  # type: ignore[arg-type]

    monkeypatch.setattr(type(embedder), "embed_query", recording)
    overlapped = corpus.search("grain exports in Odesa", k=8, mode="hybrid")
    monkeypatch.setattr(SqliteSearchReader, "fuse_in_sql", True)  # a store that fuses needs the vector first
    inline = corpus.search("grain exports in Odesa", k=8, mode="hybrid")
    assert threads[0].startswith("archive-query") and threads[1] == threading.current_thread().name
    assert [(r.chunk_id, r.score) for r in overlapped] == [(r.chunk_id, r.score) for r in inline] and overlapped
    semantic = corpus.search("grain exports in Odesa", k=3, mode="semantic")
    assert semantic and threads[2] == threading.current_thread().name  # nothing to overlap: embedded inline


def test_large_archives_read_hybrid_keyword_lists_on_sibling_connections_with_the_same_results(
    corpus: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archive.search.run as search
    from archive.store.sqlite.session import SqliteReader

    threads: list[str] = []
    original = SqliteReader.article_keyword

    def recording(self: SqliteReader, *args: object) -> object:
        threads.append(threading.current_thread().name)
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteReader, "article_keyword", recording)
    queries = ["grain exports in Odesa", "drone strike Kherson", "code17 peace talks"]
    inline = [corpus.search(q, k=8, mode="hybrid") for q in queries]
    assert threads and all(t == threading.current_thread().name for t in threads)  # small: read here
    threads.clear()
    monkeypatch.setattr(search, "LISTS_APART_MIN_ROWS", 0)
    apart = [corpus.search(q, k=8, mode="hybrid") for q in queries]
    assert len(threads) == len(queries) and all(t.startswith("archive-query") for t in threads)
    assert [[(r.chunk_id, r.score, r.sources) for r in hits] for hits in apart] == [
        [(r.chunk_id, r.score, r.sources) for r in hits] for hits in inline
    ]
    assert all(apart)


def test_writers_and_direct_snapshots_have_no_sibling(archive: Archive) -> None:
    from archive.store.sqlite.direct import open_snapshot

    archive.ingest_records(_corpus(3))
    store = archive.store()
    with store.writer() as writer:
        assert writer.sibling() is None  # another connection would not see its writes
    with store.reader() as reader:
        sibling = reader.sibling()
        assert sibling is not None
        with sibling as other:
            assert other.session is not reader.session and other.approx_passages() == reader.approx_passages()
    snapshot = open_snapshot(store.location)
    assert snapshot is not None
    try:
        assert snapshot.reader(prefilter_min_rows=None).sibling() is None
    finally:
        snapshot.close()


def test_highlight_words_are_read_once_and_give_what_highlight_terms_gives() -> None:
    variants = load_variants(None)
    query = '"nuclear plant" shelling of Kiev -Chernobyl'
    wanted = highlight_words(query, variants)
    assert {"nuclear", "plant", "shelling", "kiev", "kyiv"} <= wanted
    assert "of" not in wanted and "chernobyl" not in wanted
    passage = "Shelling near the Kyiv nuclear plant; Chernobyl staff left."
    assert (
        highlighted(wanted, passage)
        == highlight_terms(query, passage, variants)
        == ("Shelling", "Kyiv", "nuclear", "plant")
    )
