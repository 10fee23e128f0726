"""The exact KNN scan in NumPy: every float vector of a table, held in memory as one matrix.

sqlite-vec's exact ``MATCH`` reads every vector through the virtual-table machinery
on each query. Here the float vectors of a passage or article vector table are read
once straight from the vec0 shadow tables (the layout ``prefilter`` documents:
``<t>_chunks`` with a validity bitmap and the row ids per block of slots,
``<t>_vector_chunks00`` with the block's packed float32 vectors,
``<t>_metadatachunksNN`` per metadata column), kept beside the metadata used as
filters (outlet, date key, language), and scanned with one matrix-vector product per query.

The process holds one matrix per table, shared by the pooled connections and reused
until any connection changes the table (``matrix_cache``). Distances are sqlite-vec's
cosine distance, ``1 - a.b / (|a| |b|)``; an unexpected layout raises
:class:`~archive.store.sqlite.prefilter.LayoutError` and the caller falls back to
the vec0 scan.

A *compact* matrix (``load_matrix(..., compact=True)``: what a table the sign-bit prefilter serves is
loaded as) holds each vector as bfloat16, the float32's upper 16 bits rounded to nearest even: 768 bytes
a passage at 384-d where float32 takes 1,536. Its rows are widened back to float32 (a shift) as they are
scored, and the norms are the float32 vectors' own, so a cosine is within 2^-8 of the float32 one (a
component keeps 8 significant bits: relative error <= 2^-8), about 1e-4 off typically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from archive.blas import single_threaded
from archive.store.interface import Filters
from archive.store.sqlite.prefilter import LayoutError, candidate_slots, sign_words
from archive.store.sqlite.sql import SqlConnection

# Metadata columns of vec tables in DDL order (vtables.vec_table_ddl): source_id, published, language.
_SOURCE_COLUMN, _PUBLISHED_COLUMN, _LANGUAGE_COLUMN = 0, 1, 2
# sqlite-vec keeps a TEXT metadata value as 16 bytes a slot: its int32 length, then its first 12 bytes.
_TEXT_SLOT, _TEXT_PREFIX = 16, 12
# Rows scored at a time, through two buffers reused block to block (1.5 MB of float32 at 384-d): every
# search thread holds them at once, where widening a whole candidate window (8,192 rows) made three
# temporaries of 6-12 MB each.
_SCORE_ROWS = 1024

# float32 rows, or a compact matrix's bfloat16 bit patterns (see module doc)
Vectors: TypeAlias = npt.NDArray[np.float32] | npt.NDArray[np.uint16]


@dataclass(frozen=True)
class VectorMatrix:
    """Every live vector of one table, row ``i`` being passage (or article) ``ids[i]``."""

    ids: npt.NDArray[np.int64]
    vectors: Vectors  # (rows, dimension): float32, or bfloat16 bits in a compact matrix
    inverse_norms: npt.NDArray[np.float32]  # 1 / |vector| of the float32 vector, 0 for a zero vector
    source_ids: npt.NDArray[np.int64]
    published: npt.NDArray[np.int64]  # YYYYMMDD, 0 when unknown
    languages: npt.NDArray[np.void]  # the 16-byte TEXT slots, compared whole
    # (the ids ascending, the row of each) for lookups by id; None when ``ids`` already ascend (vec0 fills its
    # slots in rowid order, so an archive without replaced rows needs neither array)
    by_id: tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]] | None
    key: tuple[object, ...] = ()  # the content key (matrix_cache.content_key) of the snapshot it was read from
    # the rows' sign bits (prefilter.sign_words): None after the first prefiltered search (which scans every row),
    # packed on the second and kept with the matrix
    _signs: list[npt.NDArray[np.uint64] | None] = field(default_factory=list, compare=False, repr=False)

    @property
    def rows(self) -> int:
        return len(self.ids)

    @property
    def compact(self) -> bool:
        """Whether the vectors are held as bfloat16 (see module doc)."""
        return self.vectors.dtype == np.uint16

    def _products(self, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Every row's dot product with ``query``."""
        with single_threaded():
            if not self.compact:
                return self.vectors @ query
            return self._block_products(query, self.rows, lambda start, stop, _: self.vectors[start:stop])

    def _row_products(self, rows: npt.NDArray[np.intp], query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The dot products of ``rows`` with ``query``."""

        def gather(start: int, stop: int, out: Vectors) -> Vectors:
            return np.take(self.vectors, rows[start:stop], axis=0, out=out[: stop - start])

        with single_threaded():
            return self._block_products(query, len(rows), gather)

    def _block_products(
        self, query: npt.NDArray[np.float32], count: int, block: Callable[[int, int, Vectors], Vectors]
    ) -> npt.NDArray[np.float32]:
        """Products of ``count`` rows with ``query``, ``_SCORE_ROWS`` at a time: ``block(start, stop, buffer)``
        gives rows ``start:stop`` (into ``buffer`` or a view); a compact matrix's are widened into a second one."""
        products = np.empty(count, dtype=np.float32)
        size = min(count, _SCORE_ROWS)
        rows_buffer: Vectors = np.empty((size, self.vectors.shape[1]), dtype=self.vectors.dtype)
        wide = np.empty((size, self.vectors.shape[1]), dtype=np.uint32) if self.compact else None
        for start in range(0, count, _SCORE_ROWS):
            stop = min(count, start + _SCORE_ROWS)
            products[start:stop] = widened(block(start, stop, rows_buffer), wide) @ query
        return products

    def mask(self, filters: Filters) -> npt.NDArray[np.bool_] | None:
        """Rows passing the filters; None when every row does."""
        mask: npt.NDArray[np.bool_] | None = None

        def narrow(condition: npt.NDArray[np.bool_]) -> None:
            nonlocal mask
            mask = condition if mask is None else mask & condition

        if filters.since is not None:
            narrow(self.published >= int(filters.since))
        if filters.until is not None:
            narrow(self.published <= int(filters.until))
        if filters.source_ids is not None:
            narrow(np.isin(self.source_ids, np.asarray(filters.source_ids, dtype=np.int64)))
        if filters.language:
            narrow(self.languages == text_slot(filters.language))
        return mask

    def nearest(
        self, query: npt.NDArray[np.float32], k: int, mask: npt.NDArray[np.bool_] | None
    ) -> list[tuple[int, float]]:
        """(id, cosine distance) of the ``k`` nearest rows in ``mask``, nearest first (ties by id)."""
        if k <= 0 or not self.rows:
            return []
        query = np.asarray(query, dtype=np.float32)
        distance = self._distances(query, self._products(query), self.inverse_norms)
        if mask is not None:
            allowed = np.flatnonzero(mask)
            picked = allowed if len(allowed) <= k else allowed[np.argpartition(distance[allowed], k - 1)[:k]]
        else:
            picked = np.arange(self.rows) if self.rows <= k else np.argpartition(distance, k - 1)[:k]
        return self._ranked(picked, distance[picked])

    def nearest_prefiltered(
        self, query: npt.NDArray[np.float32], k: int, mask: npt.NDArray[np.bool_] | None, *, wide: int, narrow: int
    ) -> list[tuple[int, float]]:
        """:meth:`nearest` among the ``narrow`` rows the sign-bit prefilter picks (``prefilter.candidate_slots``):
        the distances are exact, the set approximate. Reads 48 bytes a row where the exact scan reads 1,536,
        then ``narrow`` rows of the matrix.

        The first such search of a freshly read matrix is :meth:`nearest` itself: packing the sign bits costs
        about one exact scan, which a one-shot ``archive search`` would pay for nothing; the second packs them
        (a one-shot search packs them only when it widens its window). So after each change to the table the
        first search is exact and the later ones approximate (recall@100 0.996 on real news). A compact
        matrix, whose full scan widens every row, packs them at its first search.
        """
        if k <= 0 or not self.rows:
            return []
        query = np.asarray(query, dtype=np.float32)
        if not self._signs and not self.compact:
            self._signs.append(None)
            return self.nearest(query, k, mask)
        signs = self._signs[0] if self._signs else None
        if signs is None:  # two threads here at once pack the same bits: harmless
            # a bfloat16 pattern read as int16 is > 0 exactly where its float is
            signs = sign_words(self.vectors.view(np.int16) if self.compact else widened(self.vectors))
            self._signs[:] = [signs]
        rows = candidate_slots(signs, mask, query, wide=wide, narrow=narrow)
        products = self._row_products(rows, query)
        distance = self._distances(query, products, self.inverse_norms[rows])
        picked = np.arange(len(rows)) if len(rows) <= k else np.argpartition(distance, k - 1)[:k]
        return self._ranked(rows[picked], distance[picked])

    @staticmethod
    def _distances(
        query: npt.NDArray[np.float32], products: npt.NDArray[np.float32], inverse_norms: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """sqlite-vec's cosine distance from the dot products with ``query``."""
        norm = float(np.linalg.norm(query))
        distance: npt.NDArray[np.float32] = 1.0 - products * inverse_norms / np.float32(max(norm, 1e-30))
        return distance

    def _ranked(self, rows: npt.NDArray[np.intp], distance: npt.NDArray[np.float32]) -> list[tuple[int, float]]:
        """(id, distance) of ``rows``, nearest first, ties by id."""
        order = np.lexsort((self.ids[rows], distance))
        return [(int(i), float(d)) for i, d in zip(self.ids[rows[order]], distance[order])]

    def lookup(self, ids: list[int]) -> dict[int, npt.NDArray[np.float32]]:
        """Stored vectors of those ``ids`` the matrix holds (rows of one float32 array, widened at once)."""
        if not self.rows or not ids:
            return {}
        wanted = np.asarray(ids, dtype=np.int64)
        sorted_ids, rows = self.by_id if self.by_id is not None else (self.ids, None)
        at = np.minimum(np.searchsorted(sorted_ids, wanted), self.rows - 1)
        held = sorted_ids[at] == wanted
        picked = at[held] if rows is None else rows[at[held]]
        vectors = widened(self.vectors[picked])
        return dict(zip(wanted[held].tolist(), vectors))


def narrowed(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.uint16]:
    """float32 vectors as bfloat16 bit patterns: the upper 16 bits, rounded to nearest even."""
    bits = np.ascontiguousarray(vectors, dtype=np.float32).view(np.uint32)
    rounded = bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))
    patterns: npt.NDArray[np.uint16] = (rounded >> np.uint32(16)).astype(np.uint16)
    return patterns


def widened(vectors: Vectors, out: npt.NDArray[np.uint32] | None = None) -> npt.NDArray[np.float32]:
    """Vectors as float32: bfloat16 bit patterns widened (exact: the low 16 bits are zero), into the first
    rows of ``out`` when given; float32 as they are."""
    if vectors.dtype != np.uint16:
        return np.asarray(vectors, dtype=np.float32)
    target = None if out is None else out[: len(vectors)]
    wide: npt.NDArray[np.float32] = np.left_shift(vectors, 16, out=target, dtype=np.uint32).view(np.float32)
    return wide


def text_slot(value: str) -> npt.NDArray[np.void]:
    """``value`` as sqlite-vec stores a short TEXT metadata value (raises LayoutError past 12 bytes)."""
    raw = value.encode("utf-8")
    if len(raw) > _TEXT_PREFIX:
        raise LayoutError("TEXT metadata over 12 bytes lives in another table: not read here")
    slot = len(raw).to_bytes(4, "little") + raw.ljust(_TEXT_PREFIX, b"\0")
    return np.frombuffer(slot, dtype=f"V{_TEXT_SLOT}")


def content_key_of(
    validities: Sequence[bytes], last_block: int, last_blobs: Iterable[bytes | None]
) -> tuple[object, ...]:
    """A vec0 table's content key (``matrix_cache.content_key``) from its blocks' validity bitmaps, the
    last block's id, and that block's row ids, vectors and metadata blobs, in that order."""
    if not validities:
        return (0,)
    digest = hashlib.blake2b(digest_size=16)
    for validity in validities:
        digest.update(bytes(validity))
    for blob in last_blobs:
        digest.update(b"" if blob is None else bytes(blob))
    return len(validities), last_block, digest.digest()


def load_matrix(conn: SqlConnection, table: str, dimension: int, *, compact: bool = False) -> VectorMatrix:
    """Read every live vector of vec0 table ``table`` (``float[dimension]``) and its filter columns; held as
    bfloat16 when ``compact`` (each block narrowed as it is read, so no float32 copy of the whole is made)."""
    blocks = conn.exec_driver_sql(
        f"SELECT chunk_id, size, validity, rowids FROM {table}_chunks ORDER BY chunk_id"
    ).all()
    valid_per_block: list[npt.NDArray[np.bool_]] = []
    ids: list[npt.NDArray[np.int64]] = []
    for _, size, validity, rowids in blocks:
        if size <= 0 or size % 8 or len(validity) != size // 8 or len(rowids) != size * 8:
            raise LayoutError(f"{table}: unexpected block layout")
        valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little").astype(bool)
        valid_per_block.append(valid)
        ids.append(np.frombuffer(rowids, dtype=np.int64)[valid])
    rows = sum(int(v.sum()) for v in valid_per_block)
    vectors: Vectors = (
        np.empty((rows, dimension), dtype=np.uint16) if compact else np.empty((rows, dimension), dtype=np.float32)
    )
    inverse = np.empty(rows, dtype=np.float32)
    start = 0
    sql = f"SELECT rowid, vectors FROM {table}_vector_chunks00 ORDER BY rowid"
    last_vectors: bytes | None = None
    for (block_id, size, _, _), valid, (rowid, blob) in zip(blocks, valid_per_block, conn.exec_driver_sql(sql)):
        if rowid != block_id or len(blob) != size * dimension * 4:
            raise LayoutError(f"{table}: vector blocks do not match the slot blocks")
        last_vectors = blob
        count = int(valid.sum())
        block = np.frombuffer(blob, dtype=np.float32).reshape(size, dimension)[valid]
        vectors[start : start + count] = narrowed(block) if compact else block
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        inverse[start : start + count] = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        start += count
    if start != rows:
        raise LayoutError(f"{table}: {start} vectors where {rows} slots are live")
    all_ids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)
    last_blobs: list[bytes | None] = [blocks[-1][3] if blocks else None, last_vectors]
    source_ids = _metadata(conn, table, _SOURCE_COLUMN, blocks, valid_per_block, "<i8", last_blobs)
    published = _metadata(conn, table, _PUBLISHED_COLUMN, blocks, valid_per_block, "<i8", last_blobs)
    languages = _metadata(conn, table, _LANGUAGE_COLUMN, blocks, valid_per_block, f"V{_TEXT_SLOT}", last_blobs)
    return VectorMatrix(
        ids=all_ids,
        vectors=vectors,
        inverse_norms=inverse,
        source_ids=source_ids,
        published=published,
        languages=languages,
        by_id=lookup_index(all_ids),
        key=content_key_of([b[2] for b in blocks], int(blocks[-1][0]) if blocks else 0, last_blobs),
    )


def lookup_index(ids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]] | None:
    """:attr:`VectorMatrix.by_id` of ``ids``."""
    if bool(np.all(ids[1:] > ids[:-1])):
        return None
    order = np.argsort(ids, kind="stable")
    return ids[order], order


def _metadata(
    conn: SqlConnection,
    table: str,
    column: int,
    blocks: Sequence[Sequence[Any]],
    valid_per_block: list[npt.NDArray[np.bool_]],
    dtype: str,
    last_blobs: list[bytes | None],
) -> npt.NDArray[Any]:
    """The live slots' values of metadata column ``column`` (int64, or raw 16-byte TEXT slots); the last
    block's blob is appended to ``last_blobs`` (for the content key)."""
    sql = f"SELECT rowid, data FROM {table}_metadatachunks{column:02d} ORDER BY rowid"
    rows = conn.exec_driver_sql(sql).all()
    if [int(r[0]) for r in rows] != [int(b[0]) for b in blocks]:
        raise LayoutError(f"{table}: metadata blocks do not match the vector blocks")
    last_blobs.append(rows[-1][1] if rows else None)
    width = np.dtype(dtype).itemsize
    parts = []
    for (_, data), valid in zip(rows, valid_per_block):
        if len(data) != len(valid) * width:
            raise LayoutError(f"{table}: metadata column {column}: {len(data)} bytes for {len(valid)} slots")
        parts.append(np.frombuffer(data, dtype=dtype)[valid])
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
