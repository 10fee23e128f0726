"""quick_search: a ready SQLite archive searched without an Archive gives Archive.search's results,
and anything it cannot answer the same way is handed back (None) to the Archive."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.oneshot import quick_search
from archive.store.sqlite import direct, knn
from archive.store.sqlite.driver import access_mode, pick_driver
from archive.store.sqlite.search import SqliteSearchReader
from tests.helpers import city_reports, run_sql

QUERIES = ("shelling in Kharkiv", '"grain ships" Odesa -Mariupol', "drone strike Sumy code7", "evacuation detail12")
OPTIONS: list[dict[str, Any]] = [
    {},
    {"mode": "semantic", "k": 5},
    {"mode": "keyword", "k": 7},
    {"since": "2022-03", "until": "2022-09", "outlets": ["Outlet 1", "Outlet 2"]},
    {"language": "uk"},
    {"per_article": 2},
    {"passages": True, "dedup": False, "k": 20},
    {"min_score": 0.1, "semantic_weight": 2.0, "keyword_weight": 0.5},
]


@pytest.fixture
def filled(db_path: Path) -> Path:
    with Archive.open(db_path, embedder=FakeEmbedder()) as archive:
        archive.ingest_records(city_reports(0, 60))
    return db_path


class _Close(float):
    """A score that equals any within 1e-6: the one-shot reader scores vectors by vec0's arithmetic where a
    long-lived Archive holds them in NumPy (the same cosines but for the last float32 bits)."""

    tolerance = 1e-6

    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and math.isclose(self, other, rel_tol=self.tolerance, abs_tol=self.tolerance)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = float.__hash__  # never hashed here: the dicts compared hold these as values only


class _Rounded(_Close):
    """A score that equals any within 2^-8: an Archive holds a table the prefilter serves as bfloat16
    (``archive.store.sqlite.matrix``), whose cosines are that close to float32's."""

    tolerance = 2.0**-8


def _dicts(results: list[Any] | None, close: type[_Close] = _Close) -> list[dict[str, Any]]:
    assert results is not None
    return [_close(r.to_dict(), close) for r in results]


def _close(value: Any, close: type[_Close]) -> Any:
    if isinstance(value, float):
        return close(value)
    if isinstance(value, dict):
        return {key: _close(item, close) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_close(item, close) for item in value)
    return value


def _calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """One entry per call of ``knn.<name>`` from now on."""
    calls: list[int] = []
    original = getattr(knn, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(knn, name, counted)
    return calls


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_quick_search_gives_archive_search_results(filled: Path, options: dict[str, Any]) -> None:
    with Archive.open(filled, create=False) as archive:
        for query in QUERIES:
            expected = _dicts(archive.search(query, **options))
            assert _dicts(quick_search(query, db=filled, **options)) == expected, query
    assert any(_dicts(quick_search(q, db=filled, **options)) for q in QUERIES)  # not all empty


@pytest.mark.parametrize("scan", ["prefilter", "vec0"])
def test_quick_search_takes_the_sign_bit_prefilter_and_the_vec0_scan_as_archive_search_does(
    filled: Path, monkeypatch: pytest.MonkeyPatch, scan: str
) -> None:
    """Large archives leave the shared matrix: those scans run over the direct connection too."""
    taken = {"prefilter": "_knn_prefiltered", "vec0": "_knn_vec0"}[scan]
    if scan == "prefilter":
        monkeypatch.setenv("ARCHIVE_PREFILTER_MIN_ROWS", "0")
    monkeypatch.setattr(knn, "MATRIX_MAX_ROWS", 0)  # past the shared matrix: vec0's bit table or scan
    monkeypatch.setattr(knn, "ARTICLE_MATRIX_MAX_ROWS", 0)  # the article vectors too
    calls = _calls(monkeypatch, taken)
    with Archive.open(filled, create=False) as archive:
        expected = _dicts(archive.search("shelling in Kharkiv", mode="semantic"))
    taken_by_archive = len(calls)
    assert taken_by_archive and expected
    assert _dicts(quick_search("shelling in Kharkiv", db=filled, mode="semantic")) == expected
    assert len(calls) > taken_by_archive


def test_quick_search_reads_an_archive_in_a_folder_it_cannot_write(filled: Path) -> None:
    expected = _dicts(quick_search("drone strike Sumy", db=filled))
    os.chmod(filled.parent, 0o555)  # no -wal or -shm can be made there: the file opens immutable
    try:
        assert access_mode(filled) == "immutable"
        assert _dicts(quick_search("drone strike Sumy", db=filled)) == expected
    finally:
        os.chmod(filled.parent, 0o755)


def test_quick_search_accepts_the_model_the_archive_records(filled: Path) -> None:
    assert _dicts(quick_search("shelling", db=filled, model="fake"))
    assert _dicts(quick_search("shelling", db=filled, model="fake-embedder"))


@pytest.mark.parametrize(
    "arguments",
    [
        {"model": "fake:64"},  # another model: Archive.open raises ModelMismatchError
        {"outlets": ["No Such Outlet"]},  # build_params lists the known outlets
        {"k": 0},
        {"mode": "fuzzy"},
        {"since": "yesterday"},
    ],
    ids=repr,
)
def test_quick_search_hands_back_what_the_archive_reports(filled: Path, arguments: dict[str, Any]) -> None:
    assert quick_search("shelling", db=filled, **arguments) is None


def test_quick_search_hands_back_a_missing_file_and_a_server_url(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert quick_search("shelling", db=missing) is None
    assert not missing.exists()  # nothing created on the way
    assert quick_search("shelling", db="postgresql://nobody@127.0.0.1:1/none") is None


def test_quick_search_hands_back_a_database_that_is_not_an_archive(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    run_sql(other, "CREATE TABLE notes (body TEXT)")
    assert quick_search("shelling", db=other) is None
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert quick_search("shelling", db=garbage) is None


def test_quick_search_hands_back_an_archive_not_at_the_head_revision(filled: Path) -> None:
    run_sql(filled, "UPDATE alembic_version SET version_num = '0004'")
    assert quick_search("shelling", db=filled) is None


def test_quick_search_hands_back_a_writable_archive_not_in_wal_mode(filled: Path) -> None:
    run_sql(filled, "PRAGMA journal_mode = DELETE")
    assert quick_search("shelling", db=filled) is None
    with Archive.open(filled, create=False) as archive:  # the store's engine switches it back to WAL
        expected = _dicts(archive.search("shelling"))
    assert _dicts(quick_search("shelling", db=filled)) == expected


def test_quick_search_reads_a_file_it_cannot_write_and_writes_nothing(filled: Path) -> None:
    expected = _dicts(quick_search("shelling in Kharkiv", db=filled))
    before = {p.name: p.stat().st_mtime_ns for p in filled.parent.iterdir()}
    os.chmod(filled, 0o444)
    try:
        assert _dicts(quick_search("shelling in Kharkiv", db=filled)) == expected
    finally:
        os.chmod(filled, 0o644)
    after = {p.name: p.stat().st_mtime_ns for p in filled.parent.iterdir() if p.name in before}
    assert after[filled.name] == before[filled.name]


def test_quick_search_sees_articles_ingested_since_its_last_search(filled: Path) -> None:
    """The process-wide vector matrix is reused only while the file holds the same rows."""
    assert not any("code70 " in r["text"] for r in _dicts(quick_search("code70", db=filled, mode="semantic")))
    with Archive.open(filled, create=False) as archive:
        archive.ingest_records(city_reports(70, 3))
        expected = _dicts(archive.search("code70", mode="semantic"))
    found = _dicts(quick_search("code70", db=filled, mode="semantic"))
    assert found == expected
    assert any(r["article_id"] for r in found if "code70" in r["text"])


def test_direct_snapshot_is_one_read_snapshot(filled: Path) -> None:
    snapshot = direct.open_snapshot(str(filled))
    assert snapshot is not None
    try:
        reader = snapshot.reader(prefilter_min_rows=None)
        assert isinstance(reader, SqliteSearchReader)
        before = reader.approx_passages()
        with Archive.open(filled, create=False) as archive:  # another connection commits meanwhile
            archive.ingest_records(city_reports(100, 5))
        fresh = direct.open_snapshot(str(filled))
        assert fresh is not None
        try:
            assert fresh.reader(prefilter_min_rows=None).approx_passages() > before
        finally:
            fresh.close()
        assert SqliteSearchReader(reader.session, reader.table).approx_passages() == before
        with pytest.raises(pick_driver().module.OperationalError, match="readonly"):
            snapshot.conn.exec_driver_sql("DELETE FROM chunks")
    finally:
        snapshot.close()


def test_direct_snapshot_reports_the_active_model(filled: Path) -> None:
    snapshot = direct.open_snapshot(str(filled))
    assert snapshot is not None
    try:
        assert snapshot.model.name == "fake-embedder"
        assert snapshot.dimension == FakeEmbedder().dimension
        assert snapshot.model.vector_table.startswith("vec_")
    finally:
        snapshot.close()


def test_quick_search_loads_no_shared_matrix(filled: Path, matrix_loads: list[str]) -> None:
    """One search answers from vec0's scans: reading every vector into a matrix would cost it more."""
    from archive.store.sqlite.matrix_cache import CACHE

    CACHE.clear()
    for mode in ("hybrid", "semantic"):
        assert _dicts(quick_search("shelling in Kharkiv", db=filled, mode=mode))
    assert matrix_loads == []
    with Archive.open(filled, create=False) as archive:  # a long-lived Archive holds them
        assert archive.search("shelling in Kharkiv", mode="semantic")
    assert matrix_loads


def test_quick_search_prefilters_through_the_bit_table_where_an_archive_would_hold_the_matrix(
    filled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below ``MATRIX_MAX_ROWS`` an Archive picks candidates from its held matrix's sign bits; the one-shot
    holds none, so the vec0 bit table picks them, and the results agree (the Archive's cosines come from
    its compact matrix)."""
    monkeypatch.setenv("ARCHIVE_PREFILTER_MIN_ROWS", "0")
    calls = _calls(monkeypatch, "_knn_prefiltered")
    with Archive.open(filled, create=False) as archive:
        expected = _dicts(archive.search("shelling in Kharkiv", mode="semantic"), _Rounded)
    assert calls == [] and expected  # the held matrix's own sign bits
    assert _dicts(quick_search("shelling in Kharkiv", db=filled, mode="semantic")) == expected
    assert calls == [1]
