"""Operations on a whole archive: doctor, delete, reembed, vacuum, backup, stats --json."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive
from archive.cli import cli
from archive.embedding.fake import FakeEmbedder
from archive.errors import LockedError, ModelMismatchError, NotFoundError, OperationError
from archive.ops import diagnose
from archive.ops.lock import writer_lock
from tests.conftest import SAMPLE


@pytest.fixture
def filled(archive: Archive) -> Archive:
    """The sample corpus: 8 articles, one exact and one near copy of the Odesa story."""
    report = archive.ingest([SAMPLE])
    assert report.added == 7 and report.duplicates == 1
    return archive


def _statuses(archive: Archive) -> dict[str, str]:
    return {c.name: c.status for c in archive.doctor().checks}


def _sql(archive: Archive, *statements: str) -> None:
    raw = archive.engine.raw_connection()
    try:
        for statement in statements:
            raw.driver_connection.execute(statement)
    finally:
        raw.close()


def _article_id(archive: Archive, title_start: str) -> int:
    return next(s.article_id for s in archive.select_for_delete(after="1900") if s.title.startswith(title_start))


# -- doctor --------------------------------------------------------------------
def test_doctor_is_green_on_a_healthy_archive(filled: Archive) -> None:
    report = filled.doctor()
    assert report.ok and {c.status for c in report.checks} == {"ok"}
    checks = {c.name: c.detail for c in report.checks}
    assert {
        "driver",
        "sqlite-vec",
        "schema",
        "integrity",
        "model",
        "model file",
        "index counts",
        "duplicate links",
        "vector tables",
        "prefilter",
    } <= set(checks)
    assert "sqlite-vec v0." in checks["sqlite-vec"] and "not checked" in checks["model file"]
    counts = filled.stats()["chunks"]
    assert checks["index counts"].startswith(f"{counts} chunks, {counts} vectors, {counts} keyword-index rows")


def test_doctor_reports_the_prefilter_and_warns_when_its_blocks_cannot_be_read(filled: Archive) -> None:
    check = next(c for c in filled.doctor().checks if c.name == "prefilter")
    assert check.status == "ok" and f"{filled.stats()['chunks']:,} passages" in check.detail
    _sql(filled, "UPDATE vec_chunks_bits_vector_chunks00 SET vectors = substr(vectors, 1, 100)")
    check = next(c for c in filled.doctor().checks if c.name == "prefilter")
    assert check.status == "warn" and "exact scan" in check.detail and "sqlite-vec" in check.fix


def test_doctor_fails_with_a_fix_when_vectors_are_missing(filled: Archive) -> None:
    _sql(filled, "DELETE FROM vec_chunks WHERE chunk_id = (SELECT min(id) FROM chunks)")
    report = filled.doctor()
    check = next(c for c in report.checks if c.name == "index counts")
    assert not report.ok and check.status == "fail" and "archive reembed" in check.fix


def test_doctor_fails_on_a_duplicate_pointing_nowhere(filled: Archive) -> None:
    _sql(
        filled,
        "PRAGMA foreign_keys = OFF",
        "UPDATE articles SET canonical_id = 9999 WHERE id = 2",
        "PRAGMA foreign_keys = ON",
    )
    check = next(c for c in filled.doctor().checks if c.name == "duplicate links")
    assert check.status == "fail" and ": 2" in check.detail and "archive delete --article" in check.fix


def test_doctor_fails_on_an_old_schema_and_stops_there(filled: Archive) -> None:
    _sql(filled, "UPDATE alembic_version SET version_num = '0001'")
    report = filled.doctor()
    assert report.checks[-1].name == "schema" and report.checks[-1].status == "fail"
    assert report.checks[-1].fix == "run `archive db upgrade`"


def test_doctor_on_a_missing_or_foreign_file_fails_without_touching_it(tmp_path: Path) -> None:
    report = diagnose(tmp_path / "nope.db", home=tmp_path)
    assert not report.ok and report.checks[0].name == "database"
    assert not (tmp_path / "nope.db").exists()
    (tmp_path / "notes.txt").write_text("not a database", encoding="utf-8")
    (check,) = diagnose(tmp_path / "notes.txt", home=tmp_path).checks
    assert check.status == "fail" and "not a SQLite database" in check.detail


def test_doctor_checks_the_default_models_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Archive.open(tmp_path / "a.db", home=home, embedder=FakeEmbedder(384, name="all-MiniLM-L6-v2")) as archive:
        assert _statuses(archive)["model file"] == "warn"  # not unpacked yet: fine, it is on first use
        (home / "models" / "all-MiniLM-L6-v2").mkdir(parents=True)
        (home / "models" / "all-MiniLM-L6-v2" / "model.safetensors").write_bytes(b"corrupt")
        check = next(c for c in archive.doctor().checks if c.name == "model file")
    assert check.status == "fail" and "corrupt" in check.detail and check.fix


def test_doctor_cli_prints_fixes_and_exits_1_on_failure_2_without_a_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["doctor", "-d", str(tmp_path / "missing.db"), "--json"])
    assert result.exit_code == 2  # no archive at all: exit 2, like every reading command (issue 10)
    data = json.loads(result.output)
    assert data["ok"] is False and data["checks"][0]["fix"]
    (tmp_path / "notes.db").write_text("not a database", encoding="utf-8")
    failed = runner.invoke(cli, ["doctor", "-d", str(tmp_path / "notes.db"), "--json"])
    assert failed.exit_code == 1 and json.loads(failed.output)["checks"][0]["fix"]


# -- delete --------------------------------------------------------------------
def test_delete_one_article_removes_its_passages_and_doctor_stays_green(filled: Archive) -> None:
    aleppo = _article_id(filled, "Aid convoy")
    assert filled.delete_articles([aleppo]) == 1
    assert all(hit.article_id != aleppo for hit in filled.search("aid convoy Aleppo", k=10))
    with pytest.raises(NotFoundError):
        filled.article(aleppo)
    assert filled.doctor().ok and set(_statuses(filled).values()) == {"ok"}


def test_deleting_a_canonical_takes_its_exact_copies_and_frees_its_near_copy(filled: Archive) -> None:
    odesa = filled.select_for_delete(ids=[_article_id(filled, "Drones hit Odesa")])
    assert [a.duplicate_kind for a in odesa] == [None, "exact"]
    assert filled.delete_articles([a.article_id for a in odesa]) == 2
    near = filled.search("Russian drones cut power in Odesa region", k=1)[0]
    assert filled.article(near.article_id).duplicate_kind is None
    assert filled.doctor().ok and "fail" not in _statuses(filled).values()


def test_delete_filters_by_outlet_and_dates_exclusively(filled: Archive) -> None:
    old = filled.select_for_delete(before="2018")
    assert {a.published[:4] for a in old if a.published} == {"2016", "2017"}
    assert filled.select_for_delete(before="2017-04-04") == tuple(a for a in old if a.published.startswith("2016"))
    late = filled.select_for_delete(after="2023-08")
    assert {a.published for a in late} == {"2023-09-16"}
    wire = filled.select_for_delete(outlets=["example wire"], after="2022")
    assert {a.outlet for a in wire if not a.duplicate_kind} == {"Example Wire"}


def test_delete_refuses_vague_or_unknown_selections(filled: Archive) -> None:
    with pytest.raises(OperationError, match="say what to delete"):
        filled.select_for_delete()
    with pytest.raises(NotFoundError, match="outlets in this archive: Example Daily"):
        filled.select_for_delete(outlets=["Nobody"])
    with pytest.raises(NotFoundError, match="no article with id 999"):
        filled.select_for_delete(ids=[999])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"ARCHIVE_DB": str(tmp_path / "cli.db"), "ARCHIVE_MODEL": "fake"}


@pytest.fixture
def cli_filled(runner: CliRunner, env: dict[str, str]) -> dict[str, str]:
    assert runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=env).exit_code == 0
    return env


def test_delete_cli_dry_run_lists_and_keeps_everything(runner: CliRunner, cli_filled: dict[str, str]) -> None:
    result = runner.invoke(cli, ["delete", "--outlet", "Example Gazette", "--dry-run", "--json"], env=cli_filled)
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["dry_run"] and data["deleted"] == 0 and len(data["articles"]) == 2
    stats = json.loads(runner.invoke(cli, ["stats", "--json"], env=cli_filled).output)
    assert stats["articles"] == 8


def test_delete_cli_needs_yes_for_many_articles_when_it_cannot_ask(
    runner: CliRunner, cli_filled: dict[str, str]
) -> None:
    refused = runner.invoke(cli, ["delete", "--before", "2020"], env=cli_filled)
    assert refused.exit_code == 1 and "pass --yes" in refused.output
    done = runner.invoke(cli, ["delete", "--before", "2020", "--yes", "--json"], env=cli_filled)
    assert done.exit_code == 0 and json.loads(done.output)["deleted"] == 2
    one = runner.invoke(cli, ["delete", "--after", "2023-08"], env=cli_filled)
    assert one.exit_code == 0 and "deleted 1 article" in one.output
    doctor = runner.invoke(cli, ["doctor"], env=cli_filled)
    assert doctor.exit_code == 0 and "fail" not in doctor.output


# -- reembed -------------------------------------------------------------------
def test_reembed_switches_the_archive_to_the_new_model(filled: Archive, db_path: Path) -> None:
    report = filled.reembed(FakeEmbedder(64, name="fake-embedder:64"), batch_size=4)
    assert (report.old_table, report.table, report.dimension) == ("vec_chunks", "vec_chunks_2", 64)
    assert report.chunks == filled.stats()["chunks"]
    assert filled.search("Aleppo aid convoy", k=1)[0].title.startswith("Aid convoy")
    filled.close()
    with Archive.open(db_path) as reopened:
        assert (reopened.embedder.name, reopened.embedder.dimension) == ("fake-embedder:64", 64)
        assert reopened.search("chemical attack Idlib", k=1, mode="semantic")[0].title.startswith("Chemical")
        assert set(_statuses(reopened).values()) == {"ok"}
    with pytest.raises(ModelMismatchError, match="archive reembed"):
        Archive.open(db_path, embedder=FakeEmbedder())


def test_interrupted_reembed_keeps_the_old_model_and_the_next_one_cleans_up(filled: Archive, db_path: Path) -> None:
    from archive.ops import reembed

    def crash(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reembed(filled.store(), FakeEmbedder(64, name="fake-embedder:64"), chunks_per_batch=3, progress=crash)
    assert filled.search("Aleppo aid convoy", k=1)[0].title.startswith("Aid convoy")
    assert _statuses(filled)["vector tables"] == "warn"
    filled.close()
    with Archive.open(db_path) as reopened:
        assert reopened.embedder.name == "fake-embedder"
        report = reopened.reembed("fake:32")
    assert report.dropped_leftovers == ("vec_chunks_2",) and report.table == "vec_chunks_2"
    with Archive.open(db_path) as reopened:
        assert reopened.embedder.dimension == 32 and set(_statuses(reopened).values()) == {"ok"}


def test_reembed_cli_reports_as_json_and_ignores_archive_model_env(
    runner: CliRunner, cli_filled: dict[str, str]
) -> None:
    result = runner.invoke(
        cli, ["reembed", "--model", "fake:64", "--json"], env={**cli_filled, "ARCHIVE_MODEL": "fake:64"}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["model"] == "fake-embedder:64"
    search = runner.invoke(cli, ["search", "Aleppo", "-k", "1", "--json"], env={**cli_filled, "ARCHIVE_MODEL": ""})
    assert search.exit_code == 0 and json.loads(search.output)[0]["title"].startswith("Aid convoy")
    bad = runner.invoke(cli, ["reembed", "--model", "fake:1"], env=cli_filled)
    assert bad.exit_code == 1 and "Traceback" not in bad.output


# -- vacuum and backup ---------------------------------------------------------
def test_vacuum_reports_sizes_and_keeps_the_archive_healthy(filled: Archive) -> None:
    filled.delete_articles([a.article_id for a in filled.select_for_delete(after="1900")][:4])
    report = filled.vacuum()
    assert report.bytes_before > 0 and 0 < report.bytes_after <= report.bytes_before
    assert not Path(f"{filled.path}-wal").exists() or Path(f"{filled.path}-wal").stat().st_size == 0
    assert filled.doctor().ok and filled.search("chemical attack", k=1)


def test_backup_is_a_valid_archive_and_never_overwrites_by_accident(filled: Archive, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    report = filled.backup(target)
    assert report.bytes == target.stat().st_size > 0
    with Archive.open(target) as copy:
        assert copy.stats()["articles"] == 8 and copy.search("Aleppo aid convoy", k=1)
        assert set(_statuses(copy).values()) == {"ok"}
    with pytest.raises(OperationError, match="--force"):
        filled.backup(target)
    with pytest.raises(OperationError, match="the archive itself"):
        filled.backup(filled.path, force=True)
    filled.delete_articles([_article_id(filled, "Aid convoy")])
    filled.backup(target, force=True)
    with Archive.open(target) as copy:
        assert copy.stats()["articles"] == 7
    assert not list(tmp_path.glob(".copy.db.*"))


def test_vacuum_and_backup_cli_as_json(runner: CliRunner, cli_filled: dict[str, str], tmp_path: Path) -> None:
    vacuum = runner.invoke(cli, ["vacuum", "--json"], env=cli_filled)
    assert vacuum.exit_code == 0 and {"bytes_before", "bytes_after", "bytes_saved"} <= set(json.loads(vacuum.output))
    target = tmp_path / "b.db"
    first = runner.invoke(cli, ["backup", str(target), "--json"], env=cli_filled)
    assert first.exit_code == 0 and json.loads(first.output)["path"] == str(target)
    again = runner.invoke(cli, ["backup", str(target)], env=cli_filled)
    assert again.exit_code == 1 and "already exists" in again.output
    doctor = runner.invoke(cli, ["doctor", "-d", str(target)])
    assert doctor.exit_code == 0, doctor.output


# -- stats ---------------------------------------------------------------------
def test_stats_json_matches_the_library(runner: CliRunner, cli_filled: dict[str, str]) -> None:
    printed = json.loads(runner.invoke(cli, ["stats", "--json"], env=cli_filled).output)
    with Archive.open(cli_filled["ARCHIVE_DB"], model="fake") as archive:
        expected = archive.stats()
    assert set(printed) == set(expected)
    assert {k: v for k, v in printed.items() if k != "db_bytes"} == {
        k: v for k, v in expected.items() if k != "db_bytes"
    }


def test_a_delete_that_fails_midway_changes_nothing(filled: Archive) -> None:
    from archive.ops import delete_articles
    from archive.store.sqlite.store import SqliteStore

    ids = [a.article_id for a in filled.select_for_delete(after="1900")]
    with pytest.raises(Exception, match="vec_missing"):
        delete_articles(SqliteStore(filled.engine, "vec_missing"), ids)
    assert filled.stats()["articles"] == 8 and filled.doctor().ok


# -- writer lock ---------------------------------------------------------------
@contextmanager
def lock_held_elsewhere(db_path: Path) -> Iterator[None]:
    """Another thread holds the writer lock (refused like another process would be)."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(db_path, command="archive ingest news.jsonl"):
            taken.set()
            release.wait(10)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def test_every_write_operation_refuses_while_another_writer_holds_the_lock(filled: Archive, tmp_path: Path) -> None:
    aleppo = _article_id(filled, "Aid convoy")
    with lock_held_elsewhere(filled.path):
        for attempt in (
            lambda: filled.delete_articles([aleppo]),
            lambda: filled.reembed("fake:64"),
            lambda: filled.vacuum(),
            lambda: filled.poll_feeds(),
        ):
            with pytest.raises(LockedError, match="another ingest"):
                attempt()
        filled.backup(tmp_path / "online.db")  # a backup needs no lock
    assert filled.delete_articles([aleppo], wait=5) == 1


def test_delete_cli_says_who_holds_the_lock(runner: CliRunner, cli_filled: dict[str, str]) -> None:
    with lock_held_elsewhere(Path(cli_filled["ARCHIVE_DB"])):
        result = runner.invoke(cli, ["delete", "--after", "2023-08"], env=cli_filled)
    assert result.exit_code == 75 and "another ingest" in result.output and "--wait" in result.output  # EX_TEMPFAIL
