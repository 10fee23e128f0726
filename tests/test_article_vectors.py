"""Tests for article vectors (archive.store.sqlite.article_vectors, archive.ops.article_vectors):
one vector per article (headline and lead), stored at ingest, filled for older archives, ranked on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive, RawArticle
from archive.cli import cli
from archive.embedding.fake import FakeEmbedder
from tests.helpers import downgrade_then_upgrade

STORIES = [
    RawArticle(
        text="Grain ships left Odesa under a deal brokered in Istanbul. Insurers were wary of mines.",
        title="Grain corridor opens",
        outlet="Wire",
        published="2022-08-01",
    ),
    RawArticle(
        text="Engineers restored power to the Zaporizhzhia plant after shelling cut the last line.",
        title="Nuclear plant back on the grid",
        outlet="Daily",
        published="2022-09-05",
    ),
    RawArticle(
        text="Finland and Sweden applied to join the alliance, ending decades of neutrality.",
        title="Nordic states seek NATO entry",
        outlet="Wire",
        published="2022-05-18",
    ),
]


@pytest.fixture
def on_any(location: str) -> Iterator[Archive]:
    """An empty archive on each backend (SQLite file, PostgreSQL database)."""
    with Archive.open(location, embedder=FakeEmbedder()) as opened:
        yield opened


def _ids_with_text(archive: Archive) -> set[int]:
    with archive._store.reader() as reader:
        return {row.id for row in reader.articles_for_vectors(0, 100)}


def _forget_article_vectors(archive: Archive) -> None:
    """Make the archive look like one stored before article vectors existed."""
    with archive._store.writer() as writer:
        writer.session.connection().exec_driver_sql("DELETE FROM vec_articles")  # type: ignore[attr-defined]
        writer.mark_article_vectors(False)


def test_ingest_stores_one_article_vector_per_article_holding_text(on_any: Archive) -> None:
    copy = RawArticle(text=STORIES[0].text, title=STORIES[0].title, outlet="Other", published="2022-08-02")
    on_any.ingest_records([*STORIES, copy])
    with on_any._store.reader() as reader:
        stored = reader.article_vector_ids()
        nearest = reader.article_knn(FakeEmbedder().embed_query("Nordic states seek NATO entry"), 3, _no_filters())
    assert len(stored) == 3 and stored == _ids_with_text(on_any)  # the exact copy holds no text of its own
    assert on_any.article(nearest[0][0]).title == "Nordic states seek NATO entry"


def test_article_vectors_are_left_out_until_every_article_has_one(on_any: Archive) -> None:
    on_any.ingest_records(STORIES)
    _forget_article_vectors(on_any)
    query = FakeEmbedder().embed_query("Grain corridor opens")
    with on_any._store.reader() as reader:
        assert reader.article_knn(query, 3, _no_filters()) == []
    assert _check(on_any, "article vectors").status == "warn"
    report = on_any.embed_articles()
    assert (report.embedded, report.already) == (3, 0)
    with on_any._store.reader() as reader:
        assert [a for a, _ in reader.article_knn(query, 3, _no_filters())][:1] == [min(_ids_with_text(on_any))]
    assert _check(on_any, "article vectors").status == "ok"
    assert on_any.embed_articles().embedded == 0  # a rerun has nothing to do


def test_filters_apply_to_article_vectors(on_any: Archive) -> None:
    on_any.ingest_records(STORIES)
    hits = on_any.search("Grain corridor opens", k=5, mode="semantic", outlets=["Daily"])
    assert hits and {h.outlet for h in hits} == {"Daily"}


def test_deleting_an_article_drops_its_article_vector(on_any: Archive) -> None:
    on_any.ingest_records(STORIES)
    victim = min(_ids_with_text(on_any))
    assert on_any.delete_articles([victim]) == 1
    with on_any._store.reader() as reader:
        assert victim not in reader.article_vector_ids() and len(reader.article_vector_ids()) == 2


def test_reembed_fills_the_new_models_article_vectors(on_any: Archive) -> None:
    on_any.ingest_records(STORIES)
    report = on_any.reembed(FakeEmbedder(dimension=64, name="fake-64"))
    with on_any._store.reader() as reader:
        assert reader.article_vector_ids(report.table) == _ids_with_text(on_any)
        assert reader.active_model().article_vectors  # type: ignore[union-attr]
    assert on_any.search("Nuclear plant back on the grid", k=1, mode="semantic")[0].title == (
        "Nuclear plant back on the grid"
    )


def test_upgrading_an_archive_with_articles_marks_its_article_vectors_missing(db_path: Path) -> None:
    with Archive.open(db_path, embedder=FakeEmbedder()) as archive:
        archive.ingest_records(STORIES)
    downgrade_then_upgrade(db_path, "0004")
    with Archive.open(db_path, embedder=FakeEmbedder()) as archive:
        with archive._store.reader() as reader:
            assert reader.active_model().article_vectors is False  # type: ignore[union-attr]
            assert reader.article_vector_ids() == set()
        assert archive.embed_articles().embedded == 3


def test_reembed_articles_command(archive: Archive, runner: CliRunner) -> None:
    archive.ingest_records(STORIES)
    _forget_article_vectors(archive)
    db = str(archive.path)
    result = runner.invoke(cli, ["reembed", "--articles", "-d", db, "--json"], env={"ARCHIVE_MODEL": "fake"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["embedded"] == 3
    neither = runner.invoke(cli, ["reembed", "-d", db])
    assert neither.exit_code == 2 and "--articles" in neither.output and "Traceback" not in neither.output


def _no_filters():  # type: ignore[no-untyped-def]
    from archive.store.interface import Filters

    return Filters()


def _check(archive: Archive, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in archive.doctor().checks if c.name == name)
