"""Bulk loads into a PostgreSQL archive: the HNSW indexes dropped for the load, rebuilt after in the migration's shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.store.postgres.bulk import MAX_BUILD_MEMORY_MB, MIN_BUILD_MEMORY_MB, build_memory_mb
from archive.store.postgres.ddl import hnsw_index_ddl
from tests.conftest import SAMPLE
from tests.helpers import synthetic_articles

pytestmark = pytest.mark.postgres

_HNSW = "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%' ORDER BY indexname"


def _hnsw_indexes(archive: Archive) -> dict[str, str]:
    with archive.store().reader() as reader:
        return {str(r[0]): str(r[1]) for r in reader.session.execute(text(_HNSW))}  # type: ignore[attr-defined]


def _explain_knn(archive: Archive) -> str:
    """The plan of a nearest-passage query with sequential scans priced out: the HNSW index if it is usable."""
    with archive.store().reader() as reader:
        session = reader.session  # type: ignore[attr-defined]
        session.execute(text("SET LOCAL enable_seqscan = off"))
        probe = session.execute(text("SELECT embedding FROM vec_chunks LIMIT 1")).scalar()
        rows = session.execute(
            text("EXPLAIN SELECT chunk_id FROM vec_chunks ORDER BY embedding <=> :v LIMIT 10"), {"v": probe}
        )
        return "\n".join(str(r[0]) for r in rows)


def test_an_ingest_inside_bulk_load_rebuilds_both_hnsw_indexes_as_migrated(pg_url: str, tmp_path: Path) -> None:
    files = [SAMPLE, synthetic_articles(tmp_path / "synthetic.jsonl")]
    with Archive.open(tmp_path / "plain.db", embedder=FakeEmbedder()) as plain:  # no bulk load: the same counts
        plain.ingest(files)
        expected = {k: v for k, v in plain.stats().items() if k not in ("db_path", "db_bytes", "driver")}
    with Archive.open(pg_url, embedder=FakeEmbedder()) as archive:
        migrated = _hnsw_indexes(archive)
        assert set(migrated) == {"vec_articles_hnsw", "vec_chunks_hnsw"}
        with archive.store().bulk_load():
            assert _hnsw_indexes(archive) == {}  # rows go in without a graph to insert into
            archive.ingest(files)
        assert _hnsw_indexes(archive) == migrated
        assert archive.store().schema_drift() == []
        assert "Index Scan using vec_chunks_hnsw" in _explain_knn(archive)
        stats = {k: v for k, v in archive.stats().items() if k not in ("db_path", "db_bytes", "driver")}
        hits = archive.search("aid delivery Odesa", k=10, mode="semantic")
    assert stats == expected and int(str(expected["chunks"])) > 60
    assert len(hits) == 10


def test_a_load_that_fails_inside_bulk_load_still_gets_its_indexes_back(pg_url: str) -> None:
    with Archive.open(pg_url, embedder=FakeEmbedder()) as archive:
        archive.ingest([SAMPLE])
        migrated = _hnsw_indexes(archive)
        with pytest.raises(RuntimeError, match="load failed"), archive.store().bulk_load():
            raise RuntimeError("load failed")
        assert _hnsw_indexes(archive) == migrated
        assert archive.store().schema_drift() == []


def test_copy_into_postgres_builds_the_hnsw_indexes_after_the_vectors(pg_url: str, tmp_path: Path) -> None:
    from archive.ops.copy import copy_archive

    original = tmp_path / "original.db"
    with Archive.open(original, embedder=FakeEmbedder()) as source:
        source.ingest([SAMPLE, synthetic_articles(tmp_path / "synthetic.jsonl")])
        chunks = source.stats()["chunks"]
        top = [h.chunk_id for h in source.search("aid delivery Odesa", k=10, mode="semantic")]
    report = copy_archive(original, pg_url)
    with Archive.open(pg_url, create=False) as copied:
        assert report.vectors == chunks == copied.stats()["chunks"]
        assert set(_hnsw_indexes(copied)) == {"vec_articles_hnsw", "vec_chunks_hnsw"}
        assert "Index Scan using vec_chunks_hnsw" in _explain_knn(copied)
        assert [h.chunk_id for h in copied.search("aid delivery Odesa", k=10, mode="semantic")] == top


def test_the_rebuilt_index_is_the_migration_statement_and_its_memory_is_bounded(pg_url: str) -> None:
    assert hnsw_index_ddl("vec_chunks") == (
        "CREATE INDEX vec_chunks_hnsw ON vec_chunks USING hnsw (embedding vector_cosine_ops)"
    )
    with Archive.open(pg_url, embedder=FakeEmbedder()) as archive:
        archive.ingest([SAMPLE])
        with archive.store().engine.connect() as conn:  # type: ignore[attr-defined]
            few = build_memory_mb(conn, "vec_chunks")
    assert few == MIN_BUILD_MEMORY_MB < MAX_BUILD_MEMORY_MB


def test_doctor_names_a_missing_hnsw_index_and_vacuum_rebuilds_it(pg_url: str) -> None:
    with Archive.open(pg_url, embedder=FakeEmbedder()) as archive:
        archive.ingest([SAMPLE])
        migrated = _hnsw_indexes(archive)
        with archive.store().writer() as writer:  # what a bulk load killed before its rebuild leaves
            writer.session.connection().exec_driver_sql("DROP INDEX vec_chunks_hnsw")  # type: ignore[attr-defined]
        report = archive.doctor()
        check = next(c for c in report.checks if c.name == "vector indexes")
        assert not report.ok and check.status == "fail" and "vec_chunks" in check.detail and "vacuum" in check.fix
        archive.vacuum()
        assert _hnsw_indexes(archive) == migrated
        assert archive.doctor().ok
