"""The in-memory vector matrix answers KNN exactly as sqlite-vec's vec0 scan does, and follows every change."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy.orm import Session

from archive import Archive, RawArticle
from archive.store.interface import Filters
from archive.store.sqlite import knn, matrix
from archive.store.sqlite.matrix_cache import CACHE
from archive.store.sqlite.prefilter import LayoutError, sign_words
from archive.store.sqlite.vtables import VEC_TABLE, article_table_for, vec_table_dimension
from tests.helpers import city_reports

QUERIES = ["shelling in Kharkiv", "grain ships leaving Odesa", "peace talks detail3", "blackout in Lviv"]


@pytest.fixture
def filled(archive: Archive) -> Archive:
    archive.ingest_records(city_reports(0, 80))
    return archive


def _source_ids(archive: Archive) -> tuple[int, ...]:
    with archive.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id FROM sources ORDER BY id LIMIT 2").all()
    return tuple(int(r[0]) for r in rows)


Neighbours = list[tuple[int, float]]


def _both(session: Session, archive: Archive, query: str, k: int, filters: Filters) -> tuple[Neighbours, Neighbours]:
    vector = np.asarray(archive.embedder.embed_query(query), dtype=np.float32)
    conn = session.connection()
    found = knn._knn_matrix(conn, VEC_TABLE, vector, k, filters)
    assert found is not None, "the matrix should read this archive's layout"
    return found, knn._knn_vec0(conn, VEC_TABLE, vector, k, filters)


def _assert_same(found: Neighbours, expected: Neighbours) -> None:
    assert len(found) == len(expected)
    # distances in the same (ascending) order, so the ids differ at most inside ties
    assert np.allclose([d for _, d in found], [d for _, d in expected], atol=1e-5)
    if expected:  # equal distances may come in any order: compare ids before the last tie
        last = expected[-1][1] - 1e-5
        assert {c for c, d in found if d < last} == {c for c, d in expected if d < last}


@pytest.mark.parametrize("k", [1, 10, 500])
def test_matrix_knn_equals_the_vec0_scan(filled: Archive, k: int) -> None:
    with Session(filled.engine) as session:
        for query in QUERIES:
            found, expected = _both(session, filled, query, k, Filters())
            assert found
            _assert_same(found, expected)


@pytest.mark.parametrize(
    "filters",
    [
        Filters(since=20220601),
        Filters(until=20220315),
        Filters(since=20220301, until=20220930),
        Filters(language="uk"),
        Filters(language="en"),
        Filters(language="fr"),  # nothing matches
        "two outlets",
    ],
)
def test_matrix_knn_applies_each_filter_as_the_vec0_scan_does(filled: Archive, filters: Filters | str) -> None:
    wanted = Filters(source_ids=_source_ids(filled)) if filters == "two outlets" else filters
    assert isinstance(wanted, Filters)
    with Session(filled.engine) as session:
        for query in QUERIES:
            found, expected = _both(session, filled, query, 20, wanted)
            _assert_same(found, expected)
    if wanted.language == "fr":
        assert found == []
    else:
        assert found


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows of every matrix loaded from now on, in order."""
    seen: list[int] = []
    original = matrix.load_matrix

    def counting(*args: object, **kwargs: object) -> matrix.VectorMatrix:
        loaded = original(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(loaded.rows)
        return loaded

    monkeypatch.setattr(matrix, "load_matrix", counting)
    return seen


def _live_passages(archive: Archive) -> set[int]:
    with archive.engine.connect() as conn:
        return {int(r[0]) for r in conn.exec_driver_sql("SELECT chunk_id FROM vec_chunks")}


def test_the_matrix_is_loaded_once_and_reloaded_after_another_connection_ingests(
    filled: Archive, loads: list[int]
) -> None:
    with filled.engine.connect() as conn:  # one SQLite connection throughout, as a long-running server holds
        with Session(bind=conn) as session:
            for query in QUERIES:
                _assert_same(*_both(session, filled, query, 10, Filters()))
        conn.rollback()
        assert len(loads) == 1
        filled.ingest_records(city_reports(80, 40))  # through the archive's own connections
        with Session(bind=conn) as session:
            found, expected = _both(session, filled, "code100 and detail100", 1000, Filters())
            _assert_same(found, expected)
            _assert_same(*_both(session, filled, "code100 and detail100", 1000, Filters()))
    assert len(loads) == 2 and loads[1] > loads[0]
    assert {c for c, _ in found} == _live_passages(filled)


def test_deleted_passages_leave_the_matrix(filled: Archive, loads: list[int]) -> None:
    with filled.engine.connect() as conn:
        with Session(bind=conn) as session:
            before, _ = _both(session, filled, "drone strike in Kharkiv", 5, Filters())
        conn.rollback()
        gone = {h.article_id for h in filled.search("drone strike in Kharkiv", k=3, mode="semantic")}
        filled.delete_articles(sorted(gone))
        with Session(bind=conn) as session:
            found, expected = _both(session, filled, "drone strike in Kharkiv", 1000, Filters())
    _assert_same(found, expected)
    remaining = _live_passages(filled)
    assert {c for c, _ in found} == remaining
    assert {c for c, _ in before} - remaining, "the deleted articles held some of the nearest passages"
    assert len(loads) >= 2 and loads[-1] == len(remaining)


def test_stored_vectors_come_from_the_matrix_once_it_is_loaded(filled: Archive) -> None:
    with filled.engine.connect() as conn:
        ids = [int(r[0]) for r in conn.exec_driver_sql("SELECT id FROM chunks ORDER BY id DESC LIMIT 7")]
    with Session(filled.engine) as session:
        from_vec0 = knn.vectors_for_chunks(session, [*ids, 10**9])
        _both(session, filled, QUERIES[0], 10, Filters())  # loads the matrix for this connection
        assert CACHE.current(session.connection(), VEC_TABLE) is not None
        from_matrix = knn.vectors_for_chunks(session, [*ids, 10**9])
    assert sorted(from_matrix) == sorted(from_vec0) == sorted(ids)
    for chunk_id in ids:
        assert np.array_equal(from_matrix[chunk_id], from_vec0[chunk_id])


def test_knn_falls_back_to_the_vec0_scan_when_the_layout_is_unreadable(
    filled: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(*args: object, **kwargs: object) -> matrix.VectorMatrix:
        raise LayoutError("not the layout this release reads")

    with Session(filled.engine) as session:
        vector = np.asarray(filled.embedder.embed_query(QUERIES[1]), dtype=np.float32)
        expected = knn._knn_vec0(session.connection(), VEC_TABLE, vector, 10, Filters())
        monkeypatch.setattr(matrix, "load_matrix", unreadable)
        found = knn.knn(session, vector, 10, Filters())
    assert found and found == expected


def test_a_language_longer_than_the_stored_prefix_is_filtered_by_vec0(filled: Archive) -> None:
    with pytest.raises(LayoutError):
        matrix.text_slot("a-language-tag-too-long")
    with Session(filled.engine) as session:
        vector = np.asarray(filled.embedder.embed_query(QUERIES[2]), dtype=np.float32)
        assert knn.knn(session, vector, 10, Filters(language="a-language-tag-too-long")) == []


# -- article vectors: the same matrix cache serves their table ----------------------------------------------------

SIGNUP = "Sign up to our free Ukraine war bulletin for the latest updates every morning."


def _article_both(
    session: Session, archive: Archive, query: str, k: int, filters: Filters
) -> tuple[Neighbours, Neighbours]:
    vector = np.asarray(archive.embedder.embed_query(query), dtype=np.float32)
    conn, table = session.connection(), article_table_for(VEC_TABLE)
    found = knn._knn_matrix(conn, table, vector, k, filters)
    assert found is not None, "the matrix should read the article table's layout"
    assert knn.article_knn(session, vector, k, filters, VEC_TABLE) == found  # the store's path takes it
    return found, knn._knn_vec0(conn, table, vector, k, filters, key="article_id")


def _live_articles(archive: Archive) -> set[int]:
    with archive.engine.connect() as conn:
        return {int(r[0]) for r in conn.exec_driver_sql(f"SELECT article_id FROM {article_table_for(VEC_TABLE)}")}


ARTICLE_FILTERS = [Filters(), Filters(since=20220601), Filters(until=20220315), Filters(language="uk"), "two outlets"]


@pytest.mark.parametrize("filters", ARTICLE_FILTERS)
def test_article_knn_through_the_matrix_equals_the_vec0_scan(filled: Archive, filters: Filters | str) -> None:
    wanted = Filters(source_ids=_source_ids(filled)) if filters == "two outlets" else filters
    assert isinstance(wanted, Filters)
    with Session(filled.engine) as session:
        for query in QUERIES:
            for k in (1, 10, 500):
                found, expected = _article_both(session, filled, query, k, wanted)
                assert found
                _assert_same(found, expected)


def test_article_matrix_follows_ingest_clean_and_delete(filled: Archive, loads: list[int]) -> None:
    def check(conn: object) -> Neighbours:
        with Session(bind=conn) as session:  # type: ignore[call-overload]
            for filters in ARTICLE_FILTERS[:-1]:
                _assert_same(*_article_both(session, filled, "Sign up bulletin shelling", 20, filters))
            found, expected = _article_both(session, filled, "Sign up bulletin shelling", 1000, Filters())
            _assert_same(found, expected)
        return found

    with filled.engine.connect() as conn:  # one connection throughout, as a server's pooled one
        assert {a for a, _ in check(conn)} == _live_articles(filled)
        conn.rollback()
        stories = [
            RawArticle(
                text=f"Report {i} on event {i} with witness{i}. Officials gave figure{i}. {SIGNUP}",
                title=f"Story {i}",
                outlet="Mirror",
                published=f"2022-{1 + i % 12:02d}-0{1 + i % 8}",
            )
            for i in range(200, 206)
        ]
        filled.ingest_records(stories)
        assert {a for a, _ in check(conn)} == _live_articles(filled)
        conn.rollback()
        before = _article_vectors(filled)
        assert filled.clean().changed > 0
        after = _article_vectors(filled)
        assert any(not np.array_equal(before[a], after[a]) for a in after), "clean should change article vectors"
        found = check(conn)
        conn.rollback()
        gone = sorted(a for a, _ in found[:5])
        filled.delete_articles(gone)
        found = check(conn)
        assert not {a for a, _ in found} & set(gone) and {a for a, _ in found} == _live_articles(filled)
    assert len(loads) == 4, "the article matrix is loaded once, then once after each change"


def _article_vectors(archive: Archive) -> dict[int, np.ndarray]:
    with archive.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT article_id, embedding FROM {article_table_for(VEC_TABLE)}")
        return {int(a): np.frombuffer(v, dtype=np.float32) for a, v in rows}


# -- the prefilter over the matrix's own sign bits (archives above prefilter_min_rows) ------------------------------


def _clustered(rows: int, seed: int = 3) -> matrix.VectorMatrix:
    """A matrix of ``rows`` unit vectors in 40 clusters (neighbours as real passages have them), ids shuffled."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, 384)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, rows)] + 0.6 * rng.standard_normal((rows, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = rng.permutation(np.arange(1, rows + 1, dtype=np.int64) * 3)
    return matrix.VectorMatrix(
        ids=ids,
        vectors=vectors,
        inverse_norms=1.0 / np.linalg.norm(vectors, axis=1).astype(np.float32),
        source_ids=ids % 4,
        published=np.full(rows, 20220301, dtype=np.int64),
        languages=np.zeros(rows, dtype="V16"),
        by_id=matrix.lookup_index(ids),
    )


def _queries(held: matrix.VectorMatrix, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    picked = held.vectors[rng.integers(0, held.rows, n)]
    return [q + 0.03 * rng.standard_normal(384).astype(np.float32) for q in picked]  # near a stored vector


def test_the_first_prefiltered_scan_of_a_matrix_is_exact_and_packs_nothing() -> None:
    held = _clustered(2000)
    query = _queries(held, 1)[0]
    assert held.nearest_prefiltered(query, 10, None, wide=40, narrow=10) == held.nearest(query, 10, None)
    assert held._signs == [None]
    held.nearest_prefiltered(query, 10, None, wide=40, narrow=10)
    signs = held._signs[0]
    assert signs is not None and signs.shape == (6, 2000)


def test_the_prefiltered_scan_returns_exact_distances_and_nearly_the_exact_neighbours() -> None:
    held = _clustered(6000)
    held.nearest_prefiltered(_queries(held, 1)[0], 10, None, wide=600, narrow=150)  # the first one scans every row
    recalls = []
    for query in _queries(held, 20):
        exact = held.nearest(query, 10, None)
        every = dict(held.nearest(query, held.rows, None))
        found = held.nearest_prefiltered(query, 10, None, wide=600, narrow=150)
        assert len(found) == 10 and [d for _, d in found] == sorted(d for _, d in found)
        assert all(abs(d - every[i]) < 1e-6 for i, d in found)  # exact cosine distances of the rows it returns
        recalls.append(len({i for i, _ in found} & {i for i, _ in exact}) / 10)
    assert np.mean(recalls) >= 0.95


def test_the_prefiltered_scan_keeps_to_the_mask_and_is_exact_when_the_mask_is_narrow() -> None:
    held = _clustered(3000)
    query = _queries(held, 1)[0]
    held.nearest_prefiltered(query, 10, None, wide=300, narrow=60)  # the first one scans every row
    outlet = held.source_ids == 2
    found = held.nearest_prefiltered(query, 10, outlet, wide=300, narrow=60)
    assert len(found) == 10 and {i % 4 for i, _ in found} == {2}
    few = outlet & (held.ids % 5 == 0)  # ~150 rows: no more than narrow, every one scored
    assert held.nearest_prefiltered(query, 10, few, wide=300, narrow=200) == held.nearest(query, 10, few)
    assert held.nearest_prefiltered(query, 10, None, wide=3000, narrow=3000) == held.nearest(query, 10, None)


@pytest.mark.parametrize("table", ["passages", "articles"])
def test_knn_above_the_threshold_goes_through_the_matrix_sign_bits(
    filled: Archive, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    calls: list[str] = []
    for name in ("nearest", "nearest_prefiltered"):
        original = getattr(matrix.VectorMatrix, name)

        def spy(self: matrix.VectorMatrix, *args: object, _name: str = name, _f: object = original, **kw: object):  # type: ignore[no-untyped-def]
            calls.append(_name)
            return _f(self, *args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(matrix.VectorMatrix, name, spy)
    monkeypatch.setattr(knn, "NARROW_MIN", 5)
    monkeypatch.setattr(knn, "NARROW_PER_K", 1)
    vector = np.asarray(filled.embedder.embed_query(QUERIES[0]), dtype=np.float32)

    def run(threshold: int | None) -> Neighbours:
        with Session(filled.engine) as session:
            if table == "passages":
                return knn.knn(session, vector, 3, Filters(), prefilter_min_rows=threshold)
            return knn.article_knn(session, vector, 3, Filters(), VEC_TABLE, prefilter_min_rows=threshold)

    exact = run(None)
    assert calls == ["nearest"]
    assert run(0) == exact  # the matrix's first prefiltered search scans every row
    assert calls == ["nearest", "nearest_prefiltered", "nearest"]
    sieved = run(0)
    assert calls[3:] == ["nearest_prefiltered"] and len(sieved) == 3
    assert all(d >= exact[0][1] - 1e-6 for _, d in sieved)  # never nearer than the true nearest


# -- compact (bfloat16) matrices: tables the prefilter serves are held at half the bytes ---------------------------


def _compacted(held: matrix.VectorMatrix) -> matrix.VectorMatrix:
    """``held`` with its vectors narrowed to bfloat16, as ``load_matrix(..., compact=True)`` holds them."""
    return replace(held, vectors=matrix.narrowed(np.asarray(held.vectors, dtype=np.float32)), _signs=[])


def test_narrowing_rounds_each_float_to_the_nearest_bfloat16_ties_to_even() -> None:
    step = 2.0**-7  # a bfloat16 keeps 7 bits after the leading one
    values = np.array(
        [1.0, -2.5, 0.0, 1 + step / 2, 1 + step / 2 + 2.0**-20, 1 + 1.5 * step, -(1 + 1.5 * step), 3 * 2.0**-40],
        dtype=np.float32,
    )
    expected = [1.0, -2.5, 0.0, 1.0, 1 + step, 1 + 2 * step, -(1 + 2 * step), 3 * 2.0**-40]
    assert matrix.narrowed(values).dtype == np.uint16
    assert matrix.widened(matrix.narrowed(values)).tolist() == expected
    rng = np.random.default_rng(5)
    floats = (rng.standard_normal(10_000) * 10.0 ** rng.integers(-6, 3, 10_000)).astype(np.float32)
    back = matrix.widened(matrix.narrowed(floats))
    assert np.all(np.abs(back - floats) <= np.abs(floats) * 2.0**-8)
    assert np.array_equal(matrix.widened(matrix.narrowed(back)), back)  # bfloat16 values pass unchanged
    assert matrix.widened(floats) is floats or np.shares_memory(matrix.widened(floats), floats)


def test_a_compact_load_holds_half_the_bytes_and_the_float32_norms(filled: Archive) -> None:
    with filled.engine.connect() as conn:
        dimension = vec_table_dimension(conn, VEC_TABLE)
        assert dimension is not None
        full = matrix.load_matrix(conn, VEC_TABLE, dimension)
        half = matrix.load_matrix(conn, VEC_TABLE, dimension, compact=True)
    assert half.compact and not full.compact and half.rows == full.rows > 0
    assert half.vectors.nbytes * 2 == full.vectors.nbytes
    assert np.array_equal(half.ids, full.ids) and half.key == full.key
    assert np.array_equal(half.inverse_norms, full.inverse_norms)  # norms of the float32 vectors
    assert np.array_equal(half.vectors, matrix.narrowed(np.asarray(full.vectors, dtype=np.float32)))
    some = [int(i) for i in full.ids[:5]]
    for chunk_id, vector in half.lookup(some).items():
        assert vector.dtype == np.float32
        assert np.allclose(vector, full.lookup([chunk_id])[chunk_id], rtol=2.0**-8, atol=0)


def _ascending(held: matrix.VectorMatrix) -> matrix.VectorMatrix:
    """``held`` with its rows in id order, as a table whose rows were never replaced is read."""
    order = np.argsort(held.ids)
    columns = ("ids", "vectors", "inverse_norms", "source_ids", "published", "languages")
    rows = {name: getattr(held, name)[order] for name in columns}
    return replace(held, **rows, by_id=matrix.lookup_index(rows["ids"]), _signs=[])


def test_a_lookup_index_is_kept_only_for_ids_out_of_order() -> None:
    assert matrix.lookup_index(np.array([2, 5, 9], dtype=np.int64)) is None
    assert matrix.lookup_index(np.array([], dtype=np.int64)) is None
    index = matrix.lookup_index(np.array([9, 2, 5], dtype=np.int64))
    assert index is not None
    assert index[0].tolist() == [2, 5, 9] and index[1].tolist() == [1, 2, 0]
    assert matrix.lookup_index(np.array([2, 2, 5], dtype=np.int64)) is not None  # not strictly ascending


@pytest.mark.parametrize("ascending", [False, True])
@pytest.mark.parametrize("compact", [False, True])
def test_lookup_returns_each_held_id_its_own_row_and_skips_the_rest(compact: bool, ascending: bool) -> None:
    held = _ascending(_clustered(300)) if ascending else _clustered(300)  # ids 3, 6, ..., 900, shuffled or not
    assert (held.by_id is None) == ascending
    chosen = _compacted(held) if compact else held
    asked = [0, 1, 3, 4, 450, 451, 900, 903, 450, 12]
    found = chosen.lookup(asked)
    assert sorted(found) == [3, 12, 450, 900]
    rows = {int(i): r for r, i in enumerate(held.ids)}
    for chunk_id, vector in found.items():
        assert vector.dtype == np.float32 and vector.shape == (384,)
        assert np.allclose(vector, held.vectors[rows[chunk_id]], rtol=2.0**-8, atol=1e-7)
    assert chosen.lookup([]) == {} and chosen.lookup([2, 5]) == {}


def _off(found: Neighbours, exact: dict[int, float]) -> list[float]:
    """How far each found distance is from the float32 one: at most 2^-8 (each component's rounding is at most
    2^-8 of it, so the product's error is at most 2^-8 |v| |q|)."""
    return [abs(d - exact[i]) for i, d in found]


def test_a_compact_matrix_ranks_as_float32_within_its_rounding() -> None:
    held = _clustered(6000)
    compact = _compacted(held)
    assert compact.compact and not held.compact
    for query in _queries(held, 20):
        exact = dict(held.nearest(query, held.rows, None))
        every = dict(compact.nearest(query, held.rows, None))
        off = _off(list(every.items()), exact)
        assert max(off) <= 2.0**-8 and float(np.median(off)) < 1e-4
        found = compact.nearest(query, 10, None)
        tenth = sorted(exact.values())[9]
        assert {i for i, _ in found} >= {i for i, d in exact.items() if d < tenth - 2 * max(off)}


def test_a_compact_matrix_packs_its_sign_bits_at_its_first_prefiltered_search() -> None:
    held = _clustered(6000)
    compact = _compacted(held)
    full_scans: list[int] = []
    original = compact._products
    object.__setattr__(compact, "_products", lambda q: full_scans.append(1) or original(q))
    queries = _queries(held, 20)
    results = [compact.nearest_prefiltered(query, 10, None, wide=600, narrow=150) for query in queries]
    assert full_scans == []  # no search widened every row
    recalls = []
    for query, found in zip(queries, results):
        exact = dict(held.nearest(query, held.rows, None))
        assert len(found) == 10 and max(_off(found, exact)) <= 2.0**-8
        every = dict(compact.nearest(query, held.rows, None))
        assert all(abs(d - every[i]) < 1e-6 for i, d in found)  # the compact rows' own distances
        recalls.append(len({i for i, _ in found} & set(sorted(exact, key=exact.__getitem__)[:10])) / 10)
    signs = compact._signs[0]
    assert signs is not None and np.array_equal(signs, sign_words(np.asarray(held.vectors, dtype=np.float32)))
    assert np.mean(recalls) >= 0.95


@pytest.mark.parametrize("compact", [False, True])
def test_a_candidate_window_of_several_scoring_blocks_keeps_each_rows_own_distance(compact: bool) -> None:
    held = _clustered(6000)
    matrix = _compacted(held) if compact else held
    for query in _queries(held, 4):
        matrix.nearest_prefiltered(query, 10, None, wide=3000, narrow=2500)  # a float32 matrix's first is exact
        every = dict(matrix.nearest(query, matrix.rows, None))
        found = matrix.nearest_prefiltered(query, 2100, None, wide=3000, narrow=2500)  # three blocks of 1,024
        assert len(found) == 2100 and len({i for i, _ in found}) == 2100
        assert all(abs(d - every[i]) < 1e-6 for i, d in found)
        assert [d for _, d in found] == sorted(d for _, d in found)


@pytest.mark.parametrize("table", ["passages", "articles"])
def test_a_table_the_prefilter_serves_is_held_compact(filled: Archive, table: str) -> None:
    vector = np.asarray(filled.embedder.embed_query(QUERIES[0]), dtype=np.float32)
    name = VEC_TABLE if table == "passages" else article_table_for(VEC_TABLE)
    held: list[bool] = []
    for threshold in (None, 10**9, 0):  # exact, below the threshold, above it
        CACHE.clear()
        with Session(filled.engine) as session:
            if table == "passages":
                found = knn.knn(session, vector, 3, Filters(), prefilter_min_rows=threshold)
            else:
                found = knn.article_knn(session, vector, 3, Filters(), VEC_TABLE, prefilter_min_rows=threshold)
            current = CACHE.current(session.connection(), name)
            assert current is not None and len(found) == 3
            held.append(current.compact)
    assert held == [False, False, True]
