"""One vector matrix per process per table: shared by pooled connections, thread-safe, and each connection
gets its own snapshot's rows (archive.store.sqlite.matrix_cache)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import Connection

from archive import Archive, RawArticle
from archive.store.interface import Filters
from archive.store.sqlite import knn, matrix
from archive.store.sqlite.matrix_cache import CACHE, MatrixCache, content_key
from archive.store.sqlite.vtables import VEC_TABLE, article_table_for

ARTICLES = article_table_for(VEC_TABLE)
DIMENSION = 384


@pytest.fixture
def filled(archive: Archive) -> Archive:
    archive.ingest_records(
        [
            RawArticle(
                title=f"Report {i}",
                text=f"Shelling near town{i} on day {i}. Witness{i} saw convoy{i % 7} pass.\n\nSecond part {i}.",
                outlet=f"Outlet {i % 3}",
                published=f"2022-{1 + i % 12:02d}-{1 + i % 27:02d}",
            )
            for i in range(40)
        ]
    )
    return archive


@pytest.fixture
def cache() -> Iterator[MatrixCache]:
    yield MatrixCache()


def _query(archive: Archive, text: str = "shelling convoy") -> np.ndarray:
    return np.asarray(archive.embedder.embed_query(text), dtype=np.float32)


def _nearest(conn: Connection, archive: Archive, table: str = VEC_TABLE, k: int = 1000) -> list[tuple[int, float]]:
    found = knn._knn_matrix(conn, table, _query(archive), k, Filters())
    assert found is not None
    return found


def test_pooled_connections_share_one_matrix(filled: Archive, cache: MatrixCache, matrix_loads: list[str]) -> None:
    with filled.engine.connect() as first, filled.engine.connect() as second:
        assert first.connection.dbapi_connection is not second.connection.dbapi_connection
        one = cache.get(first, VEC_TABLE, DIMENSION, matrix.load_matrix)
        two = cache.get(second, VEC_TABLE, DIMENSION, matrix.load_matrix)
        assert one is two and one.rows > 0
        assert cache.get(first, VEC_TABLE, DIMENSION, matrix.load_matrix) is one
        assert cache.current(second, VEC_TABLE) is one
    assert matrix_loads == [VEC_TABLE]


def test_a_load_takes_its_content_key_from_what_it_read(
    filled: Archive, cache: MatrixCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.store.sqlite import matrix_cache

    reads: list[str] = []
    monkeypatch.setattr(
        matrix_cache, "content_key", lambda conn, table: reads.append(table) or content_key(conn, table)
    )
    with filled.engine.connect() as conn:
        for table in (VEC_TABLE, ARTICLES):
            loaded = matrix.load_matrix(conn, table, DIMENSION)
            assert loaded.key == content_key(conn, table) and loaded.key[0] >= 1
            assert cache.get(conn, table, DIMENSION, matrix.load_matrix).key == loaded.key
    assert reads == [], "the first load of a table reads no key of its own"
    _replace_vector(filled, 1, np.ones(DIMENSION, dtype=np.float32))
    with filled.engine.connect() as conn:
        assert cache.get(conn, ARTICLES, DIMENSION, matrix.load_matrix).lookup([1])[1][0] == 1.0
    assert reads == [ARTICLES], "a changed table compares keys before it reloads"


def test_an_empty_table_has_the_key_of_no_blocks(archive: Archive) -> None:
    with archive.engine.connect() as conn:
        assert matrix.load_matrix(conn, VEC_TABLE, DIMENSION).key == content_key(conn, VEC_TABLE) == (0,)


def test_threads_searching_at_once_load_the_matrix_once(filled: Archive, matrix_loads: list[str]) -> None:
    CACHE.clear()
    results: list[list[tuple[int, float]]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def search() -> None:
        try:
            with filled.engine.connect() as conn:
                start.wait()
                results.append(_nearest(conn, filled))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 4 and results[0] and all(r == results[0] for r in results)
    assert matrix_loads == [VEC_TABLE]


def _replace_vector(archive: Archive, article_id: int, vector: np.ndarray) -> None:
    """Delete and insert one article vector row, as article_vectors.add does (vec0 reuses the freed slot)."""
    with archive.engine.begin() as conn:
        row = conn.exec_driver_sql(
            f"SELECT source_id, published, language FROM {ARTICLES} WHERE article_id = ?", (article_id,)
        ).one()
        conn.exec_driver_sql(f"DELETE FROM {ARTICLES} WHERE article_id = ?", (article_id,))
        conn.exec_driver_sql(
            f"INSERT INTO {ARTICLES}(article_id, embedding, source_id, published, language) VALUES (?, ?, ?, ?, ?)",
            (article_id, vector.astype(np.float32).tobytes(), *row),
        )


def test_a_vector_replaced_in_its_own_slot_by_another_connection_is_seen(filled: Archive) -> None:
    query = _query(filled)
    with filled.engine.connect() as reader:
        before = _nearest(reader, filled, ARTICLES)
        key = content_key(reader, ARTICLES)
        reader.rollback()
        last = max(a for a, _ in before)  # the newest row sits in the newest block, whose freed slot is reused
        _replace_vector(filled, last, query)  # now the nearest possible article
        changed = content_key(reader, ARTICLES)
        assert changed != key and changed[:2] == key[:2], "same blocks: only the last block's digest tells"
        reader.rollback()
        after = _nearest(reader, filled, ARTICLES)
        expected = knn._knn_vec0(reader, ARTICLES, query, 1000, Filters(), key="article_id")
    assert after[0][0] == last and after[0][1] == pytest.approx(0.0, abs=1e-5)
    assert len(after) == len(expected)
    assert np.allclose([d for _, d in after], [d for _, d in expected], atol=1e-5)
    assert before[0][0] != last


def test_a_connection_in_an_older_snapshot_gets_that_snapshots_rows(filled: Archive) -> None:
    with filled.engine.connect() as old, filled.engine.connect() as new:
        before = _nearest(old, filled)  # opens old's read snapshot, which stays open
        gone = [a for (a,) in new.exec_driver_sql("SELECT id FROM articles ORDER BY id LIMIT 5")]
        new.rollback()
        filled.delete_articles(gone)
        after = _nearest(new, filled)  # another connection installs the newer matrix
        assert len(after) < len(before)
        assert _nearest(old, filled) == before  # old still reads its own snapshot
        vec0 = knn._knn_vec0(old, VEC_TABLE, _query(filled), 1000, Filters())
        assert {c for c, _ in vec0} == {c for c, _ in before}
        assert np.allclose([d for _, d in vec0], [d for _, d in before], atol=1e-5)
        old.rollback()
        assert _nearest(old, filled) == after


def test_a_connections_own_uncommitted_writes_are_searched_and_rolled_back(filled: Archive) -> None:
    query = _query(filled)
    with filled.engine.connect() as conn:
        _nearest(conn, filled, ARTICLES)
        conn.exec_driver_sql(f"DELETE FROM {ARTICLES} WHERE article_id = 1")
        assert knn._knn_matrix(conn, ARTICLES, query, 10, Filters()) is None  # vec0 answers a dirty snapshot
        inside = knn.scan_knn(conn, ARTICLES, query, 1000, Filters(), rows=100, key="article_id")
        assert inside and 1 not in {a for a, _ in inside}
        assert CACHE.current(conn, ARTICLES) is None
        conn.rollback()
        assert 1 in {a for a, _ in _nearest(conn, filled, ARTICLES)}


def test_the_cache_holds_a_bounded_number_of_matrices(filled: Archive, matrix_loads: list[str]) -> None:
    small = MatrixCache(max_entries=1)
    with filled.engine.connect() as conn:
        small.get(conn, VEC_TABLE, DIMENSION, matrix.load_matrix)
        small.get(conn, ARTICLES, DIMENSION, matrix.load_matrix)
        assert len(small) == 1 and small.current(conn, VEC_TABLE) is None
        assert small.current(conn, ARTICLES) is not None
    assert matrix_loads == [VEC_TABLE, ARTICLES]


def test_the_change_stamp_is_read_once_per_read_snapshot(filled: Archive) -> None:
    from sqlalchemy import event

    seen: list[str] = []
    event.listen(filled.engine, "before_cursor_execute", lambda _c, _cur, sql, *_: seen.append(sql))
    with filled.engine.connect() as conn:
        for _ in range(3):
            _nearest(conn, filled)
        assert sum("data_version" in s for s in seen) == 1
        conn.rollback()
        _nearest(conn, filled)  # a new snapshot: read again
        assert sum("data_version" in s for s in seen) == 2
        conn.exec_driver_sql(f"DELETE FROM {ARTICLES} WHERE article_id = 2")  # own write: read again
        assert knn._knn_matrix(conn, ARTICLES, _query(filled), 10, Filters()) is None
        conn.rollback()
