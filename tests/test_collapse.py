"""Tests for archive.search.collapse through Archive.search: one result per article, copies and shared text merged."""

from __future__ import annotations

import pytest

from archive import Archive, InvalidQueryError, RawArticle
from archive.dedup.overlap import spans
from archive.search.collapse import _Chosen, _Echoes
from archive.store.interface import Passage

WORDS = [
    "amber",
    "birch",
    "cobalt",
    "delta",
    "ember",
    "fjord",
    "granite",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lagoon",
    "meadow",
    "nectar",
    "onyx",
]


def _long_article(i: int, topic: str, city: str) -> RawArticle:
    """Six paragraphs of their own (distinct words per article, so no two articles are near-duplicates)."""
    own = [f"{WORDS[(i + p) % len(WORDS)]}{i}x{p}" for p in range(6)]
    paragraphs = [
        f"{topic.capitalize()} in {city} continued, officials said, as residents sheltered in basements. "
        f"Witness {own[p]} described {own[(p + 1) % 6]} near {own[(p + 2) % 6]} while {own[(p + 3) % 6]} waited "
        f"for {own[(p + 4) % 6]} and {own[(p + 5) % 6]} beside marker {i * 10 + p}."
        for p in range(6)
    ]
    return RawArticle(
        text="\n\n".join(paragraphs),
        title=f"Report {i}: {topic} in {city}",
        outlet=f"Outlet {i % 3}",
        published=f"2022-0{1 + i % 8}-1{i % 9}",
        url=f"https://example.org/{i}",
    )


@pytest.fixture
def reports(archive: Archive) -> Archive:
    topics = [("shelling", "Kharkiv"), ("evacuation", "Mariupol"), ("power cuts", "Odesa"), ("drone strikes", "Kyiv")]
    archive.ingest_records([_long_article(i, *topics[i % 4]) for i in range(24)])
    return archive


def test_one_result_per_article_with_its_other_passages_attached(reports: Archive) -> None:
    hits = reports.search("shelling in Kharkiv residents sheltered", k=5)
    assert hits
    assert len({h.article_id for h in hits}) == len(hits)
    assert any(h.passages for h in hits)
    for hit in hits:
        for other in hit.passages:
            assert other.chunk_id != hit.chunk_id and other.char_end > other.char_start


def test_passages_mode_repeats_articles_and_per_article_caps_them(reports: Archive) -> None:
    raw = reports.search("shelling in Kharkiv residents sheltered", k=10, passages=True)
    assert len({h.article_id for h in raw}) < len(raw)
    capped = reports.search("shelling in Kharkiv residents sheltered", k=10, per_article=2)
    per_article: dict[int, int] = {}
    for hit in capped:
        per_article[hit.article_id] = per_article.get(hit.article_id, 0) + 1
    assert capped and max(per_article.values()) <= 2 and max(per_article.values()) == 2


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_the_top_k_does_not_depend_on_k(reports: Archive, mode: str) -> None:
    few = reports.search("evacuation buses from Mariupol", k=3, mode=mode)
    many = reports.search("evacuation buses from Mariupol", k=12, mode=mode)
    assert few and [h.chunk_id for h in few] == [h.chunk_id for h in many[:3]]


def test_excluded_words_drop_the_articles_holding_them(reports: Archive) -> None:
    hits = reports.search("residents sheltered -Kharkiv", k=10)
    assert hits and all("Kharkiv" not in h.title for h in hits)
    with pytest.raises(InvalidQueryError, match="only excludes"):
        reports.search("-Kharkiv")


def test_a_phrase_must_appear_as_written(reports: Archive) -> None:
    hits = reports.search('"power cuts in Odesa"', k=5, mode="keyword")
    assert hits and all("Power cuts in Odesa" in h.text or "power cuts in Odesa" in h.text for h in hits)


def test_every_spelling_of_a_place_matches(reports: Archive) -> None:
    hits = reports.search("Kiev drone", k=5, mode="keyword")
    assert hits and all("Kyiv" in h.title for h in hits)
    assert "Kyiv" in hits[0].highlights


def test_similarity_is_reported_and_min_score_drops_weak_results(reports: Archive) -> None:
    hits = reports.search("drone strikes in Kyiv", k=10)
    assert hits and all(h.similarity is not None for h in hits)
    floor = sorted(h.similarity or 0 for h in hits)[len(hits) // 2]
    kept = reports.search("drone strikes in Kyiv", k=10, min_score=floor)
    assert kept and all((h.similarity or 0) >= floor for h in kept) and len(kept) < len(hits)
    with pytest.raises(InvalidQueryError, match="min_score"):
        reports.search("x", min_score=float("nan"))


def test_an_article_found_only_by_its_headline_still_shows_a_passage(archive: Archive) -> None:
    archive.ingest_records(
        [
            RawArticle(
                text="Trucks queued at the border for a second day. " * 3,
                title="Zaporizhzhia convoy waits",
                outlet="Wire",
                published="2022-05-01",
            ),
            RawArticle(
                text="Farmers counted losses after the frost. " * 3,
                title="Frost damages crops",
                outlet="Daily",
                published="2022-05-02",
            ),
        ]
    )
    hit = archive.search("Zaporozhye convoy", k=1, mode="keyword")[0]
    assert hit.title == "Zaporizhzhia convoy waits" and "Trucks queued" in hit.text


def _passage(pid: int, text: str, group: int | None = None) -> Passage:
    return Passage(pid, text, 0, len(text), group, pid, pid, f"Title {pid}", None, None, None)


def _chosen(passage: Passage, *attached: Passage) -> _Chosen:
    every = [passage, *attached]
    return _Chosen(
        passage.story_id,
        passage,
        1.0,
        list(attached),
        [spans(p.text) for p in every],
        {p.group_id or -p.id for p in every},
    )


SHARED = (
    "The International Committee of the Red Cross said its teams delivered insulin, surgical kits and blankets "
    "to the two hospitals still working in the besieged city after a local truce allowed a convoy to cross."
)


def test_echoes_find_the_earliest_chosen_result_a_passage_repeats() -> None:
    echoes = _Echoes(dedup=True)
    first = _chosen(_passage(1, "Shelling went on overnight in the north of the city, residents said."))
    second = _chosen(_passage(2, "Markets reopened on Monday."), _passage(3, "Officials said. " + SHARED))
    third = _chosen(_passage(4, SHARED + " Fuel ran short."))
    for item in (first, second, third):
        echoes.add(item)
    repeat = _passage(9, SHARED.replace("blankets", "warm blankets"))
    assert echoes.first_echoed(repeat, spans(repeat.text)) is second  # an attached passage counts; 2 before 3
    unrelated = _passage(10, "Aid trucks reached two hospitals in the encircled city on Wednesday, after a truce.")
    assert echoes.first_echoed(unrelated, spans(unrelated.text)) is None
    assert _Echoes(dedup=False).first_echoed(repeat, spans(repeat.text)) is None


def test_echoes_follow_duplicate_groups_and_merged_copies() -> None:
    echoes = _Echoes(dedup=True)
    item = _chosen(_passage(1, "Shelling went on overnight.", group=7))
    echoes.add(item)
    copy = _passage(2, "A text sharing nothing with it at all, word for word.", group=7)
    assert echoes.first_echoed(copy, spans(copy.text)) is item
    other_group = _passage(3, "Another text sharing nothing either, in other words.", group=8)
    assert echoes.first_echoed(other_group, spans(other_group.text)) is None
    echoes.merge(item, other_group)  # found to repeat it: the rest of group 8 is item's too
    later = _passage(4, "Yet one more unrelated text of that group.", group=8)
    assert echoes.first_echoed(later, spans(later.text)) is item
    assert item.groups == {7, 8}


def test_echoes_find_a_later_result_through_spans_an_earlier_one_holds_too() -> None:
    """Every span the probe shares with the second result is also held by the first (spread over three of its
    passages, none of which shares half of its spans with the probe): the index must still lead to the second."""
    probe = _passage(20, " ".join(f"w{i}" for i in range(13)))  # 13 words: six 8-grams
    grams = sorted(spans(probe.text))
    assert len(grams) == 6
    first_spans = [frozenset(grams[i : i + 2]) | {100 + 10 * i + j for j in range(4)} for i in (0, 2, 4)]
    first = _Chosen(1, _passage(1, "one"), 1.0, [_passage(2, "two"), _passage(3, "three")], first_spans, {-1, -2, -3})
    second = _Chosen(4, _passage(4, "four"), 1.0, [], [frozenset(grams)], {-4})
    echoes = _Echoes(dedup=True)
    echoes.add(first)
    echoes.add(second)
    assert not first.echoes(probe, frozenset(grams)) and second.echoes(probe, frozenset(grams))
    assert echoes.first_echoed(probe, frozenset(grams)) is second
