"""End to end with the real model: 200 real Russia–Ukraine war articles, queries about specific events.

The queries paraphrase each event (they do not copy the headline), so the
semantic side has to do the work. Every target must be in the top 3.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import Archive
from tests.conftest import shared_path

pytestmark = [pytest.mark.model, pytest.mark.shared]

# query -> id of the article it is about (ids from ukraine_media_r2nery.jsonl.gz)
QUERIES = {
    "which Russian intelligence unit poisoned the opposition politician Navalny": "r2n-00440",
    "Russian state TV staff say no to war and air Swan Lake before the channel goes off air": "r2n-02200",
    "how Moscow residents feel about the fast food chain McDonald's pulling out of Russia": "r2n-05390",
    "Hollywood actress makes unannounced trip to Lviv and meets children hurt by a missile": "r2n-04950",
    "head of the Russian space agency replaced while NASA agrees to swap astronauts on flights": "r2n-07040",
    "Iranian kamikaze drones Shahed-136 used by Russia in deadly strikes on Ukrainian cities": "r2n-09900",
    "Kyiv sets up warming centres as Russian strikes target power and heating infrastructure": "r2n-10560",
    "Finland hurries to become a member of the NATO alliance and Moscow reacts angrily": "r2n-05280",
    "EU looks at a gas pipeline linking Spain and Portugal with Italy": "r2n-07810",
}
SAMPLE_STEP, SAMPLE_SIZE = 55, 200


def _subset(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows[::SAMPLE_STEP][:SAMPLE_SIZE]


@pytest.fixture(scope="module")
def war_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archive, dict[str, str]]]:
    pytest.importorskip("sentence_transformers")
    source = shared_path("ukraine_media", "ukraine_media_r2nery.jsonl.gz")
    rows = _subset(source)
    folder = tmp_path_factory.mktemp("e2e")
    data = folder / "subset.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    home = tmp_path_factory.getbasetemp() / "archive-home"
    with Archive.open(folder / "war.db", home=home) as archive:
        report = archive.ingest([data])
        assert report.failed == 0, report.errors
        yield archive, {r["id"]: r["url"] for r in rows}


def test_real_model_is_recorded_in_the_database(war_archive: tuple[Archive, dict[str, str]]) -> None:
    archive, _ = war_archive
    stats = archive.stats()
    assert stats["model"] == "all-MiniLM-L6-v2" and stats["dimension"] == 384
    assert stats["articles"] == SAMPLE_SIZE and stats["chunks"] > SAMPLE_SIZE


@pytest.mark.parametrize("query", sorted(QUERIES))
@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_query_about_an_event_finds_its_article_in_the_top_3(
    war_archive: tuple[Archive, dict[str, str]], query: str, mode: str
) -> None:
    archive, urls = war_archive
    target = urls[QUERIES[query]]
    hits = archive.search(query, k=3, mode=mode)
    found = [s.url for h in hits for s in h.sources]
    assert target in found, f"{QUERIES[query]} not in top 3 for {query!r}: {[h.title for h in hits]}"


def test_passages_point_back_into_their_article(war_archive: tuple[Archive, dict[str, str]]) -> None:
    archive, _ = war_archive
    for hit in archive.search("sanctions on Russian banks", k=5):
        assert archive.article(hit.article_id).text[hit.char_start : hit.char_end] == hit.text
