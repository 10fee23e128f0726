"""Duplicate decisions through the real ingest pipeline, against ground truth."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from archive import Archive, RawArticle
from archive.dedup.minhash import normalize_for_hash
from archive.store.sqlite import reads
from tests.conftest import SAMPLE, shared_path


def _seed_copies() -> list[RawArticle]:
    seed = (SAMPLE / "seed_article.txt").read_text(encoding="utf-8")
    lightly_edited = seed.replace("The call, which took place yesterday,", "The call, which took place on Tuesday,")
    return [
        RawArticle(text=seed, outlet="Original", url="https://original.example/story", published="2025-03-19"),
        RawArticle(text=seed, outlet="Syndicate A", url="https://a.example/world/story", published="2025-03-19"),
        RawArticle(text=lightly_edited, outlet="Syndicate B", url="https://b.example/s", published="2025-03-20"),
    ]


def test_seed_and_two_syndicated_copies_are_one_hit_with_three_sources(archive: Archive) -> None:
    report = archive.ingest_records(_seed_copies())
    assert (report.added, report.duplicates, report.near_duplicates) == (2, 1, 1)
    hits = archive.search("Putin demands an end to Western military support before a ceasefire", k=3)
    call = [h for h in hits if "The call, which took place" in h.text]
    assert len(call) == 1
    assert [s.outlet for s in call[0].sources] == ["Original", "Syndicate A", "Syndicate B"]
    assert call[0].source_count == 3


def test_same_story_twice_in_one_batch_is_linked_not_stored_twice(archive: Archive) -> None:
    copies = _seed_copies()
    report = archive.ingest_records([copies[0], copies[1]])
    assert report.added == 1 and report.duplicates == 1
    groups = archive.duplicates()
    assert len(groups) == 1 and groups[0].copies[0].duplicate_kind == "exact"


def test_duplicates_of_one_article_list_its_group(archive: Archive) -> None:
    archive.ingest_records(_seed_copies())
    group = archive.duplicates(3)[0]
    assert group.canonical.outlet == "Original"
    assert {c.outlet: c.duplicate_kind for c in group.copies} == {"Syndicate A": "exact", "Syndicate B": "near"}
    assert 0.5 <= group.copies[-1].similarity < 1.0


def test_unrelated_articles_on_the_same_topic_are_not_linked(archive: Archive) -> None:
    archive.ingest([SAMPLE / "articles.jsonl"])
    linked = {c.outlet for g in archive.duplicates() for c in g.copies}
    assert linked == {"Example Daily", "Example Gazette"}  # only the wire story's copies


@pytest.fixture(scope="module")
def bbc(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, int], list[tuple[int, int, str, float]], list[dict]]:
    from archive.embedding.fake import FakeEmbedder

    path = shared_path("bbc_news", "bbc_news_2225.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [RawArticle(text=r["text"], title=r["title"], origin=r["id"], url=f"bbc://{r['id']}") for r in rows]
    with Archive.open(tmp_path_factory.mktemp("bbc") / "bbc.db", embedder=FakeEmbedder()) as archive:
        archive.ingest_records(records)
        with Session(archive.engine) as session:
            links = reads.article_links(session)
    by_origin = {origin: aid for aid, _, origin, _ in links}
    return by_origin, links, rows


def _root(links: list[tuple[int, int | None, str, str | None]]) -> dict[int, int]:
    return {aid: canon or aid for aid, canon, _, _ in links}


def test_bbc_every_exact_duplicate_group_is_found(bbc) -> None:  # type: ignore[no-untyped-def]
    by_origin, links, rows = bbc
    root = _root(links)
    groups: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        groups.setdefault((normalize_for_hash(r["title"]), normalize_for_hash(r["text"])), []).append(r["id"])
    exact = [ids for ids in groups.values() if len(ids) > 1]
    assert len(exact) == 103
    found = sum(len({root[by_origin[i]] for i in ids}) == 1 for ids in exact)
    assert found == 103


def test_bbc_near_duplicates_recall_and_precision(bbc) -> None:  # type: ignore[no-untyped-def]
    by_origin, links, _ = bbc
    truth_file = shared_path("bbc_news", "near_duplicate_pairs_j050.json")
    truth = [(p["a"], p["b"]) for p in json.loads(truth_file.read_text()) if p["jaccard_5gram"] < 1.0]
    assert len(truth) == 31
    root = _root(links)
    recall = sum(root[by_origin[a]] == root[by_origin[b]] for a, b in truth) / len(truth)
    origin_of = {aid: origin for aid, _, origin, _ in links}
    truth_set = {frozenset(p) for p in truth}
    near = [(origin_of[aid], origin_of[canon]) for aid, canon, _, kind in links if kind == "near"]
    correct = [pair for pair in near if frozenset(pair) in truth_set]
    precision = len(correct) / len(near) if near else 1.0
    assert recall >= 0.90, recall
    assert precision >= 0.95, [p for p in near if frozenset(p) not in truth_set]
