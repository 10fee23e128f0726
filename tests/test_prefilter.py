"""Reading sqlite-vec's bit blocks directly: same rows as vec0 itself, cache invalidation, fallbacks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from archive import Archive, RawArticle
from archive.config import DEFAULT_PREFILTER_MIN_ROWS, Settings
from archive.errors import ConfigError
from archive.store.sqlite import knn, prefilter
from archive.store.sqlite.engine import create_archive_engine

BITS = "vec_chunks_bits"


def _articles(n: int, start: int = 0) -> list[RawArticle]:
    return [
        RawArticle(
            title=f"Dispatch {i}",
            text=f"Dispatch {i} on shelling near town{i % 13} and talks{i % 7}.\n\nMore on item{i}.",
            outlet=f"Outlet {i % 3}",
            published=f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
            url=f"https://example.org/d/{i}",
        )
        for i in range(start, start + n)
    ]


@pytest.fixture
def filled(archive: Archive) -> Archive:
    archive.ingest_records(_articles(150))
    return archive


def _vec0_rows(conn: Connection) -> dict[int, tuple[bytes, int, int]]:
    rows = conn.exec_driver_sql(f"SELECT chunk_id, embedding, source_id, published FROM {BITS}")
    return {int(r[0]): (bytes(r[1]), int(r[2]), int(r[3])) for r in rows}


def test_blocks_hold_exactly_the_rows_vec0_returns(filled: Archive) -> None:
    with filled.engine.connect() as conn:
        blocks = prefilter.load_blocks(conn, BITS, 384)
        expected = _vec0_rows(conn)
        sources = prefilter.load_metadata(conn, BITS, blocks, 0)
        published = prefilter.load_metadata(conn, BITS, blocks, 1)
    slots = np.flatnonzero(blocks.valid)
    assert blocks.count == len(expected) and sorted(blocks.ids[slots].tolist()) == sorted(expected)
    for slot in slots:
        chunk_id = int(blocks.ids[slot])
        packed = np.ascontiguousarray(blocks.words[:, slot]).view(np.uint8).tobytes()
        assert (packed, int(sources[slot]), int(published[slot])) == expected[chunk_id]


def test_query_bits_match_sqlite_vec_quantization(filled: Archive) -> None:
    query = filled.embedder.embed_query("shelling near town3")
    with filled.engine.connect() as conn:
        theirs = conn.exec_driver_sql("SELECT vec_quantize_binary(?)", (query.tobytes(),)).scalar()
    assert prefilter.query_words(query, 6).tobytes() == theirs


def test_candidates_are_the_nearest_when_they_cover_the_mask(filled: Archive) -> None:
    query = filled.embedder.embed_query("talks3 item7")
    with filled.engine.connect() as conn:
        blocks = prefilter.load_blocks(conn, BITS, 384)
        mask = prefilter.slot_mask(conn, BITS, blocks, since=20230301, until=20230630, source_ids=(1, 2))
        published = prefilter.load_metadata(conn, BITS, blocks, 1)
        sources = prefilter.load_metadata(conn, BITS, blocks, 0)
    allowed = set(blocks.ids[mask].tolist())
    assert allowed and all(20230301 <= p <= 20230630 for p in published[mask]) and set(sources[mask]) <= {1, 2}
    found = prefilter.candidates(blocks, mask, query, wide=10_000, narrow=len(allowed) + 5)
    assert set(found.tolist()) == allowed
    few = prefilter.candidates(blocks, mask, query, wide=30, narrow=8)
    assert len(few) == 8 and set(few.tolist()) <= allowed


def test_sign_words_of_the_float_vectors_are_what_the_bit_table_holds(filled: Archive) -> None:
    """The shared matrix packs its own sign bits: they must be the vec0 bit table's, row for row."""
    with filled.engine.connect() as conn:
        blocks = prefilter.load_blocks(conn, BITS, 384)
        floats = conn.exec_driver_sql("SELECT chunk_id, embedding FROM vec_chunks ORDER BY chunk_id").all()
    ids = [int(r[0]) for r in floats]
    vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in floats])
    stored = {int(i): blocks.words[:, slot] for slot, i in enumerate(blocks.ids) if blocks.valid[slot]}
    packed = prefilter.sign_words(vectors, step=7)  # several steps, one short
    assert packed.shape == (6, len(ids)) and set(stored) == set(ids)
    assert all(np.array_equal(packed[:, row], stored[i]) for row, i in enumerate(ids))


@pytest.mark.parametrize("dimension", [384, 100, 64, 5])
def test_sign_scores_are_the_query_against_the_sign_vectors(dimension: int) -> None:
    rng = np.random.default_rng(dimension)
    vectors = rng.standard_normal((300, dimension)).astype(np.float32)
    query = rng.standard_normal(dimension).astype(np.float32)
    expected = (2.0 * (vectors > 0) - 1.0) @ query  # q . (2b - 1): the scores differ from it by sum(q)
    scores = prefilter.sign_scores(prefilter.sign_words(vectors), query)
    assert scores.shape == (300,)
    assert np.allclose(scores - query.sum(), expected, atol=1e-4)


def test_the_cache_is_reused_until_the_database_changes(filled: Archive) -> None:
    with Session(filled.engine) as session:
        conn = session.connection()
        first = prefilter.cached_blocks(conn, BITS, 384)
        assert prefilter.cached_blocks(conn, BITS, 384) is first
    filled.ingest_records(_articles(5, start=500))  # a commit on another connection
    with Session(filled.engine) as session:
        again = prefilter.cached_blocks(session.connection(), BITS, 384)
        assert again is not first and again.count == first.count + 5


def test_a_write_on_another_engine_invalidates_the_cache(filled: Archive) -> None:
    with Session(filled.engine) as session:
        before = prefilter.cached_blocks(session.connection(), BITS, 384)
    hits = filled.search("shelling near town4", k=3, mode="semantic")
    other = create_archive_engine(filled.path)
    with other.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM {BITS} WHERE chunk_id = ?", (hits[0].chunk_id,))
    other.dispose()
    with Session(filled.engine) as session:
        after = prefilter.cached_blocks(session.connection(), BITS, 384)
    assert after.count == before.count - 1 and hits[0].chunk_id not in set(after.ids[after.valid].tolist())


def test_deleted_articles_never_come_back_through_the_prefilter(
    filled: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filled, "settings", replace(filled.settings, prefilter_min_rows=0))
    monkeypatch.setattr(filled.store(), "prefilter_min_rows", 0)  # the store's readers take it from the store
    monkeypatch.setattr(knn, "MATRIX_MAX_ROWS", 0)  # the vec0 bit table's prefilter, not the matrix's
    first = filled.search("shelling near town5 talks2", k=5, mode="semantic")  # loads and caches the blocks
    filled.delete_articles([first[0].article_id])
    again = filled.search("shelling near town5 talks2", k=5, mode="semantic")
    assert first[0].article_id not in {h.article_id for h in again}


def test_an_unexpected_layout_falls_back_to_the_exact_scan(filled: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    exact = filled.search("talks4 item9", k=5, mode="semantic")
    calls: list[int] = []

    def broken(*_: object, **__: object) -> prefilter.BitBlocks:
        calls.append(1)
        raise prefilter.LayoutError("vectors: 47 bytes where 48 were expected")

    monkeypatch.setattr(filled, "settings", replace(filled.settings, prefilter_min_rows=0))
    monkeypatch.setattr(filled.store(), "prefilter_min_rows", 0)  # the store's readers take it from the store
    monkeypatch.setattr(knn, "MATRIX_MAX_ROWS", 0)
    monkeypatch.setattr(prefilter, "load_blocks", broken)
    assert [h.chunk_id for h in filled.search("talks4 item9", k=5, mode="semantic")] == [h.chunk_id for h in exact]
    assert calls  # the prefilter was tried, and its failure fell back


def test_short_blobs_raise_a_layout_error(filled: Archive) -> None:
    with filled.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {BITS}_vector_chunks00 SET vectors = substr(vectors, 1, 100)")
        with pytest.raises(prefilter.LayoutError):
            prefilter.load_blocks(conn, BITS, 384)
        conn.rollback()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", DEFAULT_PREFILTER_MIN_ROWS), ("0", 0), ("250000", 250_000), ("off", None), ("EXACT", None)],
)
def test_the_threshold_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: int | None
) -> None:
    monkeypatch.setenv("ARCHIVE_PREFILTER_MIN_ROWS", raw)
    assert Settings.resolve().prefilter_min_rows == expected


def test_archives_below_the_default_threshold_are_scanned_in_memory() -> None:
    # Below the threshold KNN is exact: the shared float matrix must be allowed to hold that many rows,
    # else those archives fall to vec0's slower exact scan.
    assert DEFAULT_PREFILTER_MIN_ROWS <= knn.MATRIX_MAX_ROWS


def test_a_bad_threshold_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVE_PREFILTER_MIN_ROWS", "lots")
    with pytest.raises(ConfigError, match="ARCHIVE_PREFILTER_MIN_ROWS"):
        Settings.resolve()


def test_a_connection_caches_one_table_at_a_time(filled: Archive) -> None:
    from archive.store.sqlite import vtables

    with filled.engine.begin() as conn:
        vtables.create_vec_table(conn, "vec_chunks_9", 384)
    with Session(filled.engine) as session:
        conn = session.connection()
        prefilter.cached_blocks(conn, BITS, 384)
        prefilter.cached_blocks(conn, "vec_chunks_9_bits", 384)
        assert list(conn.connection.info["archive_prefilter"]) == ["vec_chunks_9_bits"]
