"""The Archive facade: ingest, idempotency, duplicates, search results, articles, stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive import Archive, InvalidQueryError, NotFoundError, RawArticle
from tests.conftest import SAMPLE

WIRE = (
    "KYIV — Russian missiles struck a thermal power plant in the Kharkiv region on Friday, officials said.\n"
    "Firefighters worked through the night to put out the blaze at the plant, which supplies heat to the city.\n"
    "The regional governor said two workers were injured and electricity was cut to several districts."
)


def _write_jsonl(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_ingesting_the_sample_stores_articles_chunks_and_a_run(archive: Archive) -> None:
    report = archive.ingest([SAMPLE])
    assert report.files == 2 and report.failed == 0
    assert report.added >= 7 and report.chunks > 0
    stats = archive.stats()
    assert stats["chunks"] == report.chunks
    assert stats["outlets"] == 3


def test_reingesting_the_same_files_adds_nothing(archive: Archive) -> None:
    first = archive.ingest([SAMPLE])
    before = archive.stats()
    second = archive.ingest([SAMPLE])
    assert second.added == 0 and second.duplicates == 0 and second.chunks == 0
    assert second.skipped == first.added + first.duplicates
    after = archive.stats()
    assert {k: after[k] for k in ("articles", "chunks")} == {k: before[k] for k in ("articles", "chunks")}


def test_chunk_offsets_point_into_the_article_text(archive: Archive) -> None:
    archive.ingest([SAMPLE])
    for hit in archive.search("drones power Odesa", k=5, dedup=False):
        article = archive.article(hit.article_id)
        assert article.text[hit.char_start : hit.char_end] == hit.text


def test_seed_is_cleaned_before_it_is_stored(archive: Archive) -> None:
    archive.ingest([SAMPLE / "seed_article.txt"])
    hit = archive.search("Putin Trump cease-fire", k=1)[0]
    article = archive.article(hit.article_id)
    assert article.title == "Putin and Trump Discuss Cease-Fire in Ukraine Conflict"
    assert article.text.count("Ukrainian President Volodymyr Zelensky responded") == 1
    assert "Putin and Trump Discuss Cease-Fire" not in article.text


def test_a_syndicated_passage_is_one_result_listing_every_source(archive: Archive, tmp_path: Path) -> None:
    edited = WIRE.replace("officials said", "local officials said")
    path = _write_jsonl(
        tmp_path / "wire.jsonl",
        [
            {
                "title": "Missiles hit Kharkiv power plant",
                "text": WIRE,
                "outlet": "Wire",
                "url": "https://w.example/1",
                "published": "2022-10-07",
            },
            {
                "title": "Missiles hit Kharkiv power plant",
                "text": WIRE,
                "outlet": "Daily",
                "url": "https://d.example/2",
                "published": "2022-10-08",
            },
            {
                "title": "Kharkiv plant struck",
                "text": edited,
                "outlet": "Gazette",
                "url": "https://g.example/3",
                "published": "2022-10-06",
            },
        ],
    )
    report = archive.ingest([path])
    assert (report.added, report.duplicates, report.near_duplicates) == (2, 1, 1)
    hits = archive.search("missile strike on Kharkiv thermal power plant", k=5)
    firefighters = [h for h in hits if "Firefighters" in h.text]
    assert len(firefighters) == 1
    outlets = [s.outlet for s in firefighters[0].sources]
    assert sorted(outlets) == ["Daily", "Gazette", "Wire"]
    assert outlets[0] == "Gazette"  # earliest first
    raw = archive.search("missile strike on Kharkiv thermal power plant", k=10, dedup=False)
    assert sum("Firefighters" in h.text for h in raw) >= 2


def test_exact_copy_keeps_its_own_metadata_and_points_at_the_text(archive: Archive, tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "copies.jsonl",
        [
            {"title": "A", "text": WIRE, "outlet": "Wire", "url": "https://w.example/1"},
            {"title": "A", "text": WIRE, "outlet": "Daily", "url": "https://d.example/2"},
        ],
    )
    archive.ingest([path])
    copy = archive.article(2)
    assert copy.duplicate_kind == "exact" and copy.canonical_id == 1
    assert copy.outlet == "Daily" and copy.text == archive.article(1).text
    assert {s.outlet for s in copy.copies} == {"Wire", "Daily"}


def test_bad_file_is_reported_and_the_rest_continue(archive: Archive, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    report = archive.ingest([bad, SAMPLE / "articles.jsonl", tmp_path / "missing.txt"])
    assert report.added >= 6
    assert report.failed == 2
    assert any("bad.json" in where or "bad.json" in err for where, err in report.errors)


def test_outlet_override_applies_to_every_record(archive: Archive) -> None:
    archive.ingest([SAMPLE / "articles.jsonl"], outlet="Mirror")
    assert {s.outlet for h in archive.search("Odesa", k=5) for s in h.sources} == {"Mirror"}


def test_ingest_records_from_python(archive: Archive) -> None:
    report = archive.ingest_records([RawArticle(text=WIRE, title="Kharkiv", outlet="Wire", published="2022-10-07")])
    assert report.added == 1
    hit = archive.search("Kharkiv power plant fire", k=1)[0]
    assert hit.outlet == "Wire" and hit.published == "2022-10-07"


def test_search_validates_its_input(archive: Archive) -> None:
    with pytest.raises(InvalidQueryError, match="empty"):
        archive.search("   ")
    with pytest.raises(InvalidQueryError, match="at least 1"):
        archive.search("x", k=0)
    with pytest.raises(InvalidQueryError, match="hybrid"):
        archive.search("x", mode="fuzzy")


def test_unknown_article_id_raises_not_found(archive: Archive) -> None:
    with pytest.raises(NotFoundError, match="no article"):
        archive.article(999)


def test_runs_record_what_happened(archive: Archive) -> None:
    report = archive.ingest([SAMPLE])
    runs = archive.runs()
    assert runs[0].id == report.run_id and runs[0].status == "ok"
    assert runs[0].added == report.added


# -- opening without creating, read-only archives (issue 10) ------------------
def test_open_without_create_refuses_a_missing_file_and_leaves_nothing(tmp_path: Path) -> None:
    from archive.errors import ArchiveNotFoundError, NotFoundError

    path = tmp_path / "typo" / "ukr.bd"
    with pytest.raises(
        ArchiveNotFoundError, match=r"no archive at .*ukr\.bd \(create it with: archive ingest -d"
    ) as caught:
        Archive.open(path, create=False)
    assert isinstance(caught.value, NotFoundError) and caught.value.exit_code == 2
    assert not path.exists() and not path.parent.exists()


def test_open_without_create_refuses_an_empty_sqlite_file(tmp_path: Path) -> None:
    from archive.errors import NotAnArchiveError

    (tmp_path / "empty.db").touch()
    with pytest.raises(NotAnArchiveError, match="not an archive"):
        Archive.open(tmp_path / "empty.db", create=False)


def test_a_read_only_archive_searches_and_refuses_writes_with_the_fix(tmp_path: Path) -> None:
    from archive.embedding.fake import FakeEmbedder
    from archive.errors import ReadOnlyArchiveError

    path = tmp_path / "ro.db"
    with Archive.open(path, embedder=FakeEmbedder()) as writable:
        writable.ingest([SAMPLE])
        assert not writable.read_only
    path.chmod(0o444)
    try:
        with Archive.open(path, embedder=FakeEmbedder(), create=False) as archive:
            assert archive.read_only and archive.search("Aleppo aid convoy", k=1)
            for write in (
                lambda: archive.ingest([SAMPLE]),
                lambda: archive.delete_articles([1]),
                archive.vacuum,
                lambda: archive.add_feed("feed.xml"),
            ):
                with pytest.raises(ReadOnlyArchiveError, match=r"is read-only .*\(chmod u\+w\)"):
                    write()
            assert archive.stats()["articles"] == 8
    finally:
        path.chmod(0o644)
