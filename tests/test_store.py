"""Driver fallback, PRAGMAs, migrations (alembic upgrade/check), model record (and its vectors' precision)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from archive import Archive, ModelMismatchError, RawArticle, SchemaOutOfDateError
from archive.embedding.fake import FakeEmbedder
from archive.store import migrate
from archive.store.records import merged_precision
from archive.store.sqlite import knn
from archive.store.sqlite import store as sqlite_store
from archive.store.sqlite.driver import CACHE_KIB
from archive.store.sqlite.engine import create_archive_engine, pick_driver
from archive.store.sqlite.vtables import vec_table_dimension
from tests.helpers import Bfloat16Fake, downgrade_then_upgrade, mapped_resident

REPO = Path(__file__).resolve().parents[1]


def test_driver_can_load_sqlite_vec_and_says_which_it_is() -> None:
    driver = pick_driver()
    assert driver.name in {"sqlite3 (stdlib)", "sqlean.py", "pysqlite3"}
    engine = create_archive_engine(":memory:")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT vec_version()").scalar().startswith("v0.1")


def test_connections_use_wal_busy_timeout_and_foreign_keys(db_path: Path) -> None:
    engine = create_archive_engine(db_path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    engine.dispose()


def test_open_creates_schema_at_head_with_virtual_tables(archive: Archive) -> None:
    assert migrate.current_revision(archive.engine) == migrate.head_revision()
    with archive.engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
        assert {"articles", "chunks", "sources", "vec_chunks", "fts_chunks", "ingest_runs", "embedding_models"} <= names
        assert vec_table_dimension(conn, "vec_chunks") == 384


def _alembic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_alembic_cli_upgrade_then_check_reports_no_drift(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    up = _alembic("-x", f"db={db}", "upgrade", "head")
    assert up.returncode == 0, up.stderr
    check = _alembic("-x", f"db={db}", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr


def test_alembic_downgrade_removes_every_table(tmp_path: Path) -> None:
    db = tmp_path / "down.db"
    assert _alembic("-x", f"db={db}", "upgrade", "head").returncode == 0
    down = _alembic("-x", f"db={db}", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    engine = create_archive_engine(db)
    with engine.connect() as conn:
        left = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    engine.dispose()
    assert left <= {"alembic_version", "sqlite_sequence"}


def test_vector_dimension_follows_the_model_of_a_new_database(tmp_path: Path) -> None:
    with (
        Archive.open(tmp_path / "d64.db", embedder=FakeEmbedder(64, name="fake-embedder:64")) as archive,
        archive.engine.connect() as conn,
    ):
        assert vec_table_dimension(conn, "vec_chunks") == 64


def test_opening_with_another_model_raises_instead_of_mixing_vectors(db_path: Path) -> None:
    Archive.open(db_path, embedder=FakeEmbedder()).close()
    with pytest.raises(ModelMismatchError, match="reembed"):
        Archive.open(db_path, embedder=FakeEmbedder(384, name="other-model"))


def test_reopening_uses_the_recorded_model(db_path: Path) -> None:
    Archive.open(db_path, model="fake").close()
    with Archive.open(db_path) as archive:
        assert archive.embedder.name == "fake-embedder"


def test_old_schema_is_refused_with_the_fix(db_path: Path) -> None:
    Archive.open(db_path, embedder=FakeEmbedder()).close()
    engine = create_archive_engine(db_path)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    engine.dispose()
    with pytest.raises(SchemaOutOfDateError, match="archive db upgrade"):
        Archive.open(db_path, embedder=FakeEmbedder())


# --- what the vectors were computed in (embedding_models.precision) ---------------------------


_FIRST = RawArticle(text="Grain ships left Odesa under a deal brokered in Istanbul.", title="Grain", outlet="Wire")
_SECOND = RawArticle(
    text="Engineers restored power to the nuclear plant after shelling.", title="Power", outlet="Daily"
)


def test_merged_precision_lists_every_precision_once_sorted() -> None:
    assert merged_precision(None, "bfloat16") == "bfloat16"
    assert merged_precision("float32", "float32") == "float32"
    assert merged_precision("float32", "bfloat16") == "bfloat16+float32"
    assert merged_precision("bfloat16+float32", "float32") == "bfloat16+float32"


def test_the_model_record_says_what_its_vectors_were_computed_in(location: str) -> None:
    with Archive.open(location, embedder=Bfloat16Fake()) as archive:
        assert archive.stats()["precision"] is None  # no vectors yet
        archive.ingest_records([_FIRST])
        assert archive.stats()["precision"] == "bfloat16"
    with Archive.open(location, embedder=FakeEmbedder()) as archive:  # float32 (no precision of its own)
        archive.ingest_records([_FIRST])  # already stored: nothing embedded, nothing noted
        assert archive.stats()["precision"] == "bfloat16"
        archive.ingest_records([_SECOND])
        assert archive.stats()["precision"] == "bfloat16+float32"
        report = archive.reembed(Bfloat16Fake(dimension=64, name="fake-64"))
        assert report.chunks == 2
        assert archive.stats()["precision"] == "bfloat16"  # the new table's vectors, all computed anew


def test_a_reused_table_name_leaves_the_replaced_models_record_alone(archive: Archive) -> None:
    archive.ingest_records([_FIRST])
    archive.reembed(FakeEmbedder(dimension=64, name="fake-64"))  # -> vec_chunks_2
    archive.reembed(FakeEmbedder(dimension=32, name="fake-32"))  # -> vec_chunks_3, vec_chunks_2 dropped
    report = archive.reembed(Bfloat16Fake(dimension=16, name="fake-16"))  # reuses the name vec_chunks_2
    assert report.table == "vec_chunks_2"
    with archive.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, vector_table, precision FROM embedding_models ORDER BY id").all()
    assert [tuple(r) for r in rows] == [
        ("fake-embedder", "vec_chunks", "float32"),
        ("fake-64", "vec_chunks_2", "float32"),
        ("fake-32", "vec_chunks_3", "float32"),
        ("fake-16", "vec_chunks_2", "bfloat16"),
    ]


def test_upgrading_an_archive_with_passages_records_float32(tmp_path: Path) -> None:
    for name, records, expected in (("full.db", [_FIRST], "float32"), ("empty.db", [], None)):
        path = tmp_path / name
        with Archive.open(path, embedder=Bfloat16Fake()) as archive:
            archive.ingest_records(records)
        downgrade_then_upgrade(path, "0005")  # 0006 adds the column again (it fails if the column stayed)
        with Archive.open(path, embedder=FakeEmbedder()) as archive:
            assert archive.stats()["precision"] == expected  # every vector before 0006 was float32


def _file_access(archive: Archive) -> tuple[int, int]:
    """(bytes mapped, page cache KiB) of a checkout, as every reader and writer session makes one."""
    with archive.engine.connect() as conn:
        mapped = int(conn.exec_driver_sql("PRAGMA mmap_size").scalar_one())
        return mapped, -int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())


def _mapped_bytes(archive: Archive) -> int:
    return _file_access(archive)[0]


@pytest.fixture
def large(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Archive]:
    """An archive treated as past the held matrices' limit (``knn.MATRIX_MAX_ROWS``): its searches map the file."""
    monkeypatch.setattr(knn, "MATRIX_MAX_ROWS", -1)
    with Archive.open(db_path, embedder=FakeEmbedder()) as opened:
        yield opened


def _searched(archive: Archive, articles: int) -> None:
    archive.ingest_records(
        [
            RawArticle(title=f"Report {i}", text=f"Shelling near town{i} on day {i}.", outlet="A")
            for i in range(articles)
        ]
    )
    assert archive.search("shelling town3", k=3)


def test_connections_inside_bounded_memory_do_not_map_the_file(large: Archive) -> None:
    store = large.store()
    mapped = _mapped_bytes(large)
    assert mapped > 0  # searches of a large archive map the file
    with store.bounded_memory():
        assert _file_access(large) == (0, CACHE_KIB)
        with store.bounded_memory():  # nested blocks count
            assert _mapped_bytes(large) == 0
        assert _mapped_bytes(large) == 0
        with store.reader() as reader:  # the store's own sessions check out the same way
            assert reader.counts()["articles"] == 0
    assert _file_access(large) == (mapped, CACHE_KIB)  # mapped again once the block ends


def test_an_ingest_reads_the_archive_unmapped(large: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    original = large.embedder.embed

    def spy(texts: list[str], **kwargs: object) -> object:
        seen.append(_mapped_bytes(large))
        return original(texts, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(large.embedder, "embed", spy)
    article = RawArticle(title="Unmapped", text="Shelling hit the outskirts of Kharkiv overnight. " * 4, outlet="Test")
    assert large.ingest_records([article]).added == 1
    assert seen and set(seen) == {0}
    assert _mapped_bytes(large) > 0


def test_an_archive_the_held_matrices_answer_is_read_unmapped_from_its_first_checkout(db_path: Path) -> None:
    with Archive.open(db_path, embedder=FakeEmbedder()) as archive:
        _searched(archive, 12)
    with Archive.open(db_path, embedder=FakeEmbedder()) as reopened:  # a new process's store: nothing learned yet
        assert _file_access(reopened) == (0, CACHE_KIB)
        assert reopened.search("shelling town3", k=3)
        assert _file_access(reopened) == (0, CACHE_KIB)
        if sys.platform.startswith("linux"):  # no page of the file sits in this process's RSS
            assert mapped_resident(reopened.store().path.resolve()) == 0


def test_past_the_full_cache_size_unmapped_reads_keep_a_small_page_cache(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "FULL_CACHE_MAX_ROWS", 5)
    _searched(archive, 12)  # one passage each: 12 passages, above 5
    assert _file_access(archive) == (0, sqlite_store.UNMAPPED_READ_CACHE_KIB)
    assert sqlite_store.UNMAPPED_READ_CACHE_KIB < CACHE_KIB


def test_an_archive_growing_past_the_matrix_limit_is_mapped_again(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    _searched(archive, 4)
    assert _mapped_bytes(archive) == 0
    monkeypatch.setattr(knn, "MATRIX_MAX_ROWS", 6)
    _searched(archive, 12)  # the search saw more passages than the limit: vec0's point lookups need the map
    assert _mapped_bytes(archive) > 0


# --- story lookups from covering indexes (migration 0007) ------------------------------------------------------


def _plan(archive: Archive, sql: str) -> list[str]:
    with archive.engine.connect() as conn:
        return [str(row[3]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, ("[]",))]


def test_a_searchs_story_lookups_read_the_covering_indexes_not_the_rows_holding_text(db_path: Path) -> None:
    from archive.store.sqlite import search

    long_text = " ".join(f"Sentence {i} of a long report on the shelling of the district." for i in range(400))
    article = RawArticle(text=long_text, title="Long report", outlet="Wire", published="2022-03-01")
    copy = RawArticle(text=long_text, title="Long report", outlet="Daily", published="2022-03-02")
    with Archive.open(db_path, embedder=FakeEmbedder()) as archive:
        archive.ingest_records([article, copy])
        stories = _plan(archive, search._PASSAGE_STORIES_SQL)
        assert any("COVERING INDEX ix_chunks_story" in step for step in stories)
        assert any("COVERING INDEX ix_articles_story" in step for step in stories)
        assert any("COVERING INDEX ix_articles_story" in step for step in _plan(archive, search._STORY_IDS_SQL))
        with archive.store().reader() as reader:
            ids = [p for ps in reader.story_passages([1]).values() for p in ps]
            assert ids and {story for story, _ in reader.passage_stories(ids).values()} == {1}
            assert reader.story_ids([1, 2]) == {1: 1, 2: 1}  # the exact copy's story is the first article's
    downgrade_then_upgrade(db_path, "0006")  # 0007 makes them again (it fails if they stayed)
    with Archive.open(db_path, embedder=FakeEmbedder()) as archive:
        assert archive.search("shelling of the district", k=1)[0].article_id in (1, 2)
