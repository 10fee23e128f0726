"""The sign-bit prefilter: kept in step with the float vectors, and searches through it stay exact.

The prefilter only switches on above ``Settings.prefilter_min_rows`` passages; these
tests lower that threshold with monkeypatch, so a few hundred passages suffice.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.store import migrate
from archive.store.interface import Filters
from archive.store.sqlite import knn, reads, vtables
from archive.store.sqlite.engine import create_archive_engine
from tests.helpers import city_reports


@pytest.fixture
def filled(archive: Archive) -> Archive:
    archive.ingest_records(city_reports(0, 120))
    return archive


def _counts(archive: Archive) -> tuple[int, int]:
    with archive.engine.connect() as conn:
        floats = conn.exec_driver_sql("SELECT count(*) FROM vec_chunks").scalar()
        bits = conn.exec_driver_sql("SELECT count(*) FROM vec_chunks_bits").scalar()
    return int(floats or 0), int(bits or 0)


def _knn(archive: Archive, query: str, k: int) -> list[tuple[int, float]]:
    with Session(archive.engine) as session:
        return knn.knn(
            session,
            archive.embedder.embed_query(query),
            k,
            Filters(),
            prefilter_min_rows=archive.settings.prefilter_min_rows,
        )


def _prefilter_on(monkeypatch: pytest.MonkeyPatch, oversample: int, archive: Archive | None = None) -> None:
    """Prefilter for ``archive`` and every archive opened next, keeping ``oversample`` candidates per neighbour."""
    monkeypatch.setenv("ARCHIVE_PREFILTER_MIN_ROWS", "0")
    if archive is not None:
        monkeypatch.setattr(archive, "settings", replace(archive.settings, prefilter_min_rows=0))
        monkeypatch.setattr(archive.store(), "prefilter_min_rows", 0)
    monkeypatch.setattr(knn, "NARROW_MIN", oversample)
    monkeypatch.setattr(knn, "NARROW_PER_K", oversample)
    monkeypatch.setattr(knn, "WIDE_MIN", 3 * oversample)
    monkeypatch.setattr(knn, "WIDE_PER_K", 3 * oversample)
    monkeypatch.setattr(knn, "NARROW_MAX", 10**9)
    monkeypatch.setattr(knn, "MATRIX_MAX_ROWS", 0)  # past the shared matrix: the vec0 bit table's prefilter


def _count_prefiltered(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Calls of the prefiltered KNN path, appended to the returned list as they happen."""
    calls: list[int] = []
    original = knn._knn_prefiltered

    def counting(*args: object, **kwargs: object) -> list[tuple[int, float]]:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(knn, "_knn_prefiltered", counting)
    return calls


def test_ingest_writes_a_sign_bit_copy_of_every_vector(filled: Archive) -> None:
    floats, bits = _counts(filled)
    assert floats >= 120 and bits == floats
    with filled.engine.connect() as conn:
        pairs = conn.exec_driver_sql(
            "SELECT f.embedding, b.embedding FROM vec_chunks f JOIN vec_chunks_bits b ON b.chunk_id = f.chunk_id LIMIT 20"
        ).all()
    for floats_blob, bits_blob in pairs:
        vector = np.frombuffer(floats_blob, dtype=np.float32)
        assert bits_blob == np.packbits(vector > 0, bitorder="little").tobytes()


def test_deleting_articles_removes_their_bit_vectors(filled: Archive) -> None:
    hits = filled.search("drone strike in Kharkiv", k=5, mode="semantic")
    filled.delete_articles([h.article_id for h in hits])
    floats, bits = _counts(filled)
    assert bits == floats


def test_prefiltered_knn_equals_the_exact_scan_when_candidates_cover_the_table(
    filled: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = ["shelling in Kharkiv", "grain ships leaving Odesa", "peace talks", "blackout detail7"]
    exact = [_knn(filled, q, 10) for q in queries]
    _prefilter_on(monkeypatch, oversample=1000, archive=filled)
    calls = _count_prefiltered(monkeypatch)
    for query, expected in zip(queries, exact):
        found = _knn(filled, query, 10)
        assert np.allclose([d for _, d in found], [d for _, d in expected], atol=1e-6)
        last = expected[-1][1] - 1e-6  # equal distances may come in any order: compare ids before the last tie
        assert {c for c, d in found if d < last} == {c for c, d in expected if d < last}
    assert calls == [1] * len(queries)


def test_prefiltered_distances_are_exact_cosine_distances(filled: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    exact = dict(_knn(filled, "evacuation from Mariupol", 1000))
    _prefilter_on(monkeypatch, oversample=2, archive=filled)
    found = _knn(filled, "evacuation from Mariupol", 10)
    assert len(found) == 10
    assert [d for _, d in found] == sorted(d for _, d in found)
    for chunk_id, distance in found:
        assert distance == pytest.approx(exact[chunk_id], abs=1e-6)


@pytest.mark.parametrize(
    "filters",
    [
        {"since": "2022-06", "until": "2022-08"},
        {"outlets": ["Outlet 2"]},
        {"language": "uk"},
        {"since": "2022-03", "outlets": ["Outlet 1", "Outlet 3"], "language": "en"},
    ],
    ids=["dates", "outlet", "language", "all"],
)
def test_filters_still_apply_through_the_prefilter(
    filled: Archive, monkeypatch: pytest.MonkeyPatch, filters: dict[str, object]
) -> None:
    exact = filled.search("prisoner swap near Sumy", k=8, mode="semantic", **filters)  # type: ignore[arg-type]
    _prefilter_on(monkeypatch, oversample=1000, archive=filled)
    calls = _count_prefiltered(monkeypatch)
    found = filled.search("prisoner swap near Sumy", k=8, mode="semantic", **filters)  # type: ignore[arg-type]
    assert bool(calls) == ("language" not in filters)  # language filters take the exact scan
    assert found and [h.chunk_id for h in found] == [h.chunk_id for h in exact]
    for hit in found:
        if "outlets" in filters:
            assert hit.outlet in filters["outlets"]  # type: ignore[operator]
        if "since" in filters:
            assert hit.published is not None and hit.published >= str(filters["since"])


def test_hybrid_search_runs_through_the_prefilter(filled: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    _prefilter_on(monkeypatch, oversample=8, archive=filled)
    hits = filled.search("drone strike code14", k=5)
    assert hits and hits[0].scores.get("keyword") is not None


def _at_revision(conn: Connection, revision: str, *, down: bool = False) -> None:
    cfg = migrate.alembic_config()
    cfg.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(cfg, revision)


def test_migration_fills_the_prefilter_from_stored_vectors_and_downgrade_drops_it(filled: Archive) -> None:
    floats, _ = _counts(filled)
    with filled.engine.begin() as conn:
        _at_revision(conn, "0001", down=True)
        assert not vtables.table_exists(conn, "vec_chunks_bits")
        _at_revision(conn, "head")
    assert _counts(filled) == (floats, floats)


def test_ensure_bits_table_only_adds_missing_rows(filled: Archive) -> None:
    floats, _ = _counts(filled)
    with filled.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM vec_chunks_bits WHERE chunk_id IN (SELECT chunk_id FROM vec_chunks LIMIT 7)")
        assert vtables.ensure_bits_table(conn, "vec_chunks") == "vec_chunks_bits"
        assert vtables.ensure_bits_table(conn, "vec_chunks") == "vec_chunks_bits"
    assert _counts(filled) == (floats, floats)


def test_vector_tables_come_and_go_with_their_prefilter(archive: Archive) -> None:
    with archive.engine.begin() as conn:
        vtables.create_vec_table(conn, "vec_chunks_9", 384)
        assert vtables.existing_bits_table(conn, "vec_chunks_9") == "vec_chunks_9_bits"
        vtables.drop_vec_table(conn, "vec_chunks_9")
        assert not vtables.table_exists(conn, "vec_chunks_9_bits")
        assert not vtables.table_exists(conn, "vec_chunks_9")
    with Session(archive.engine) as session:
        assert reads.vector_tables(session) == ["vec_chunks"]


def test_dimensions_not_divisible_by_8_search_exactly_without_a_prefilter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prefilter_on(monkeypatch, oversample=8)
    with Archive.open(tmp_path / "d12.db", embedder=FakeEmbedder(12, name="fake-embedder:12")) as archive:
        archive.ingest_records(city_reports(0, 20))
        with archive.engine.connect() as conn:
            assert vtables.existing_bits_table(conn, "vec_chunks") is None
        assert archive.search("shelling in Kharkiv", k=3, mode="semantic")


def test_vectors_for_chunks_returns_exactly_the_requested_vectors(filled: Archive) -> None:
    engine = create_archive_engine(filled.path)
    with Session(engine) as session:
        wanted = [3, 1, 17, 999_999]
        found = knn.vectors_for_chunks(session, wanted)
        assert sorted(found) == [1, 3, 17]
        assert all(v.shape == (384,) for v in found.values())
        assert knn.vectors_for_chunks(session, []) == {}
    engine.dispose()
