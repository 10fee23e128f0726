"""Nearest passages (and articles): a scan of the shared vector matrix, or the sign-bit prefilter.

Above ``prefilter_min_rows`` rows the sign-bit prefilter picks the vectors to score exactly: out of
the shared matrix's own sign bits while the table is held in memory, else out of the vec0 bit table.
Passage tables above ``MATRIX_MAX_ROWS`` rows that the prefilter cannot serve (a language
filter, a very large k, the prefilter switched off), and article vector tables above
``ARTICLE_MATRIX_MAX_ROWS``, use sqlite-vec's exact vec0 scan, which holds nothing in memory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial

import numpy as np

from archive.store.interface import KNN_MAX_K, Filters
from archive.store.sqlite import matrix, prefilter
from archive.store.sqlite.driver import set_file_map
from archive.store.sqlite.matrix_cache import CACHE
from archive.store.sqlite.sql import SqlConnection, SqlSession
from archive.store.sqlite.vtables import VEC_TABLE, article_table_for, existing_bits_table, vec_table_dimension

# The prefilter keeps the WIDE best passages by Hamming distance, then the NARROW best of those by the
# float query against their signs, whose exact distances come from the held matrix's rows, or past it from one
# vec0 point lookup each (~15-30 us). Above NARROW_MAX the exact scan is cheaper, so large windows (deep
# duplicate collapse) go exact. WIDE costs little (one partition of the Hamming distances, then a float
# product over the sign bits of WIDE rows): twice the first choice of 100 per k bought recall at 1M
# passages for no measurable latency (README, Performance, ninth round).
WIDE_PER_K, WIDE_MIN = 200, 8192
NARROW_PER_K, NARROW_MIN, NARROW_MAX = 20, 800, 8192
# Float vectors held in memory per table and process for the exact scan, at most (1,536 bytes a passage at 384-d).
MATRIX_MAX_ROWS = 100_000
# The same for article vectors. An article holds eight or so passages, so a million passages come with
# ~120,000 articles: held in memory (184 MB), their scan costs ~3 ms where vec0's exact scan costs ~150 ms
# on every semantic and hybrid search (article vectors have no vec0 bit table).
ARTICLE_MATRIX_MAX_ROWS = 250_000


def knn(
    session: SqlSession,
    query: np.ndarray,
    k: int,
    filters: Filters,
    table: str = VEC_TABLE,
    *,
    prefilter_min_rows: int | None = None,
    hold_matrices: bool = True,
) -> list[tuple[int, float]]:
    """(chunk_id, cosine distance) of the k nearest chunks passing the filters.

    Distances are float cosine distances: exact, but within 2^-8 (~1e-4 typically) for a table the prefilter
    serves held in memory (a compact matrix: ``matrix`` module doc). Archives above
    ``prefilter_min_rows`` passages (None: never) choose the chunks to score through the
    sign-bit prefilter (the shared matrix's up to ``MATRIX_MAX_ROWS`` passages, else the vec0
    bit table's, which language filters skip); smaller ones and very large k scan every
    vector exactly (the shared matrix up to ``MATRIX_MAX_ROWS`` passages, else vec0). With ``hold_matrices``
    False no matrix is loaded (the vec0 bit table and vec0's scans answer): what one search alone costs least.
    """
    vector = np.asarray(query, dtype=np.float32)
    k = int(min(k, KNN_MAX_K))
    conn = session.connection()
    passages = approx_passages(session)
    sieve = _sieve(k, passages, prefilter_min_rows)
    if sieve is not None and (passages > MATRIX_MAX_ROWS or not hold_matrices) and not filters.language:
        bits = existing_bits_table(conn, table)
        if bits is not None:
            try:
                return _knn_prefiltered(conn, bits, table, vector, k, sieve, filters)
            except prefilter.LayoutError:
                pass  # not the vec0 layout this release reads: the exact scan below still answers
    return scan_knn(
        conn,
        table,
        vector,
        k,
        filters,
        rows=passages,
        sieve=sieve,
        hold_matrices=hold_matrices,
        compact=_prefiltered(passages, prefilter_min_rows),
    )


def _prefiltered(rows: int, threshold: int | None) -> bool:
    """Whether the sign-bit prefilter serves a table of ``rows``. Its matrix is then held compact (bfloat16): a
    search scores a few hundred of its rows, not all (a full scan widens every row, 4x the float32 scan)."""
    return threshold is not None and rows > threshold


def _sieve(k: int, rows: int, threshold: int | None) -> tuple[int, int] | None:
    """(wide, narrow) of the sign-bit prefilter for the k nearest of ``rows``; None where the scan is exact."""
    narrow = max(NARROW_MIN, NARROW_PER_K * k)
    if not _prefiltered(rows, threshold) or narrow > NARROW_MAX:
        return None
    return max(WIDE_MIN, WIDE_PER_K * k), narrow


def scan_knn(
    conn: SqlConnection,
    table: str,
    vector: np.ndarray,
    k: int,
    filters: Filters,
    *,
    rows: int,
    key: str = "chunk_id",
    limit: int | None = None,
    sieve: tuple[int, int] | None = None,
    hold_matrices: bool = True,
    compact: bool = False,
) -> list[tuple[int, float]]:
    """(row id, cosine distance) of the ``k`` nearest rows of vec0 table ``table`` (primary key ``key``).

    The shared matrix answers while the table holds at most ``limit`` rows (default
    ``MATRIX_MAX_ROWS``; ``rows``: an upper bound) and its layout is readable, through its
    sign bits first when ``sieve`` gives the prefilter's (wide, narrow), unless ``hold_matrices`` is False; vec0's
    exact scan otherwise. A matrix loaded here is compact (bfloat16) when ``compact``.
    """
    if hold_matrices and rows <= (MATRIX_MAX_ROWS if limit is None else limit):
        found = _knn_matrix(conn, table, vector, k, filters, sieve, compact=compact)
        if found is not None:
            return found
    return _knn_vec0(conn, table, vector, k, filters, key=key)


def _knn_matrix(
    conn: SqlConnection,
    table: str,
    vector: np.ndarray,
    k: int,
    filters: Filters,
    sieve: tuple[int, int] | None = None,
    *,
    compact: bool = False,
) -> list[tuple[int, float]] | None:
    """The scan over the shared matrix (exact, or of the rows its sign bits pick); None when the table's
    layout cannot be read or the connection holds uncommitted writes (the vec0 scan sees those). A matrix
    this search loads is compact when ``compact``; one already held is used as it is."""
    dimension = vec_table_dimension(conn, table)
    if dimension is None or dimension != len(vector):
        return None
    try:
        held = CACHE.get(conn, table, dimension, partial(_load_and_unmap, compact=compact))
        if held is None:
            return None
        if sieve is None:
            return held.nearest(vector, k, held.mask(filters))
        return held.nearest_prefiltered(vector, k, held.mask(filters), wide=sieve[0], narrow=sieve[1])
    except prefilter.LayoutError:
        return None


def _load_and_unmap(conn: SqlConnection, table: str, dimension: int, *, compact: bool = False) -> matrix.VectorMatrix:
    """``matrix.load_matrix``, then the file map dropped and set up again: the load read every vector blob
    through the map, and each of those pages would stay in the process's RSS (as file pages, beside the
    matrix's own copy) though no search reads them again. A fresh map holds only the pages searches touch
    (text, FTS5, rows). SQLite leaves the map as it is while a page of it is still referenced."""
    loaded = matrix.load_matrix(conn, table, dimension, compact=compact)
    size = int(conn.exec_driver_sql("PRAGMA mmap_size").scalar() or 0)
    if size > 0:
        raw = conn.connection.dbapi_connection
        set_file_map(raw, 0)
        set_file_map(raw, size)
    return loaded


def _knn_vec0(
    conn: SqlConnection, table: str, vector: np.ndarray, k: int, filters: Filters, *, key: str = "chunk_id"
) -> list[tuple[int, float]]:
    where, params = vec_filters(filters)
    # MATERIALIZED keeps SQLite from pushing later joins into the vec0 scan.
    sql = (
        f"WITH knn AS MATERIALIZED (SELECT {key}, distance FROM {table} WHERE embedding MATCH ? AND k = ?"
        f"{where}) SELECT {key}, distance FROM knn ORDER BY distance"
    )
    rows = conn.exec_driver_sql(sql, (vector.tobytes(), k, *params))
    return [(int(r[0]), float(r[1])) for r in rows]


def _knn_prefiltered(
    conn: SqlConnection, bits: str, table: str, vector: np.ndarray, k: int, sieve: tuple[int, int], filters: Filters
) -> list[tuple[int, float]]:
    """The vec0 bit table's prefilter (``sieve``: wide, narrow), then one vec0 point lookup per candidate for
    its float distance."""
    blocks = prefilter.cached_blocks(conn, bits, len(vector))
    mask = prefilter.slot_mask(
        conn, bits, blocks, since=filters.since, until=filters.until, source_ids=filters.source_ids
    )
    ids = prefilter.candidates(blocks, mask, vector, wide=sieve[0], narrow=sieve[1])
    # CROSS JOIN keeps the id list outside: one vec0 point lookup per candidate, in id order, so that
    # neighbouring lookups share their B-tree and vector-block pages (README, Performance, tenth round).
    sql = (
        f"SELECT v.chunk_id, vec_distance_cosine(v.embedding, ?) AS distance FROM json_each(?) AS j "
        f"CROSS JOIN {table} AS v ON v.chunk_id = j.value ORDER BY distance LIMIT ?"
    )
    rows = conn.exec_driver_sql(sql, (vector.tobytes(), json.dumps(np.sort(ids).tolist()), k))
    return [(int(r[0]), float(r[1])) for r in rows]


def prefilter_health(session: SqlSession, table: str = VEC_TABLE) -> tuple[int | None, str | None]:
    """(passages the bit prefilter of ``table`` holds, why it cannot be read); (None, None) without one."""
    conn = session.connection()
    bits = existing_bits_table(conn, table)
    dimension = vec_table_dimension(conn, table)
    if bits is None or dimension is None:
        return None, None
    try:
        return prefilter.load_blocks(conn, bits, dimension).count, None
    except prefilter.LayoutError as exc:
        return None, str(exc)


APPROX_PASSAGES_SQL = "SELECT max(id) FROM chunks"


def approx_passages(session: SqlSession) -> int:
    """Roughly how many passages the archive holds: the highest chunk id (one B-tree seek, no count)."""
    return int(session.connection().exec_driver_sql(APPROX_PASSAGES_SQL).scalar() or 0)


def approx_articles(session: SqlSession) -> int:
    """At least as many as the article vectors stored: the highest article id (one B-tree seek)."""
    return int(session.connection().exec_driver_sql("SELECT max(id) FROM articles").scalar() or 0)


def article_knn(
    session: SqlSession,
    query: np.ndarray,
    k: int,
    filters: Filters,
    table: str,
    *,
    prefilter_min_rows: int | None = None,
    hold_matrices: bool = True,
) -> list[tuple[int, float]]:
    """(article id, cosine distance) of the ``k`` nearest article vectors passing the filters: a scan of the
    shared matrix as for passages (through its sign bits above ``prefilter_min_rows`` articles), or vec0's
    exact scan past ``ARTICLE_MATRIX_MAX_ROWS`` articles or with ``hold_matrices`` False."""
    vector = np.asarray(query, dtype=np.float32)
    k = int(min(k, KNN_MAX_K))
    articles = approx_articles(session)
    return scan_knn(
        session.connection(),
        article_table_for(table),
        vector,
        k,
        filters,
        rows=articles,
        key="article_id",
        limit=ARTICLE_MATRIX_MAX_ROWS,
        sieve=_sieve(k, articles, prefilter_min_rows),
        hold_matrices=hold_matrices,
        compact=_prefiltered(articles, prefilter_min_rows),
    )


def article_vectors_complete(session: SqlSession, table: str) -> bool:
    """Whether the article vectors beside ``table`` cover every article holding text (the active model's record)."""
    sql = "SELECT article_vectors FROM embedding_models WHERE vector_table = ? AND is_active LIMIT 1"
    return bool(session.connection().exec_driver_sql(sql, (table,)).scalar())


def vec_filters(filters: Filters) -> tuple[str, list[object]]:
    """`` AND ...`` metadata pre-filters of a vec0 KNN query, and their parameters."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.since is not None:
        clauses.append("published >= ?")
        params.append(int(filters.since))
    if filters.until is not None:
        clauses.append("published <= ?")
        params.append(int(filters.until))
    if filters.source_ids is not None:
        clauses.append(f"source_id IN ({','.join('?' * len(filters.source_ids))})")
        params.extend(int(s) for s in filters.source_ids)
    if filters.language:
        clauses.append("language = ?")
        params.append(filters.language)
    return "".join(f" AND {c}" for c in clauses), params


def vectors_for_chunks(session: SqlSession, chunk_ids: Sequence[int], table: str = VEC_TABLE) -> dict[int, np.ndarray]:
    """Stored float vectors of these chunks.

    One point lookup per id: vec0 answers ``chunk_id IN (...)`` by scanning every
    vector (0.6 s at 1M passages), ``= ?`` by reading one. CROSS JOIN keeps the id
    list as the outer loop.
    """
    found: dict[int, np.ndarray] = {}
    if not chunk_ids:
        return found
    held = CACHE.current(session.connection(), table)
    if held is not None:
        found.update(held.lookup(sorted({int(c) for c in chunk_ids})))
        return found
    sql = f"SELECT v.chunk_id, v.embedding FROM json_each(?) AS j CROSS JOIN {table} AS v ON v.chunk_id = j.value"
    ids = json.dumps(sorted({int(c) for c in chunk_ids}))
    for chunk_id, blob in session.connection().exec_driver_sql(sql, (ids,)):
        found[int(chunk_id)] = np.frombuffer(blob, dtype=np.float32)
    return found
