"""The sign-bit prefilter, scanned in NumPy: how KNN stays fast on large archives.

Every float vector table ``<t>`` has a vec0 companion ``<t>_bits`` holding the
sign bit of each dimension (48 bytes a passage at 384-d, see ``vtables``).
sqlite-vec 0.1.x keeps a vec0 table in plain shadow tables: ``<t>_bits_chunks``
(per block of ``size`` slots: a validity bitmap and the int64 row ids),
``<t>_bits_vector_chunks00`` (the block's packed vectors) and, per INTEGER
metadata column ``NN``, ``<t>_bits_metadatachunksNN`` (one int64 a slot). We
read those blocks directly: 48 MB at a million passages, where a vec0 ``MATCH``
with the thousands of candidates good recall needs costs O(rows x k).

A search then ranks every passage by Hamming distance to the query's sign bits,
re-ranks the best ``wide`` by the float query against their signs (asymmetric:
far better than Hamming alone), and hands the best ``narrow`` to the caller,
which scores them with their exact float vectors. The loaded blocks are kept
with the SQLite connection and reused until that connection, or another one,
changes the database (``PRAGMA data_version`` and ``total_changes``).

The block layout is checked as it is read (sizes of every blob); anything
unexpected raises :class:`LayoutError` and the caller falls back to the exact
vec0 scan. The sqlite-vec pin (``<0.2``) and ``tests/test_prefilter.py`` keep
this honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from archive.store.sqlite.sql import SqlConnection

# Metadata columns of vec tables, in DDL order (vtables.vec_table_ddl): their shadow tables are NN = 00, 01.
_SOURCE_COLUMN, _PUBLISHED_COLUMN = 0, 1
_CACHE_KEY = "archive_prefilter"
# Row b: the eight bits of byte value b, least significant first (the packing's bit order).
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(np.float32)


class LayoutError(RuntimeError):
    """The vec0 shadow tables are not laid out as sqlite-vec 0.1.x lays them out."""


@dataclass
class BitBlocks:
    """Every slot of a bit table: row ids, validity, sign bits (one uint64 row per 64 dimensions)."""

    ids: npt.NDArray[np.int64]
    valid: npt.NDArray[np.bool_]
    words: npt.NDArray[np.uint64]  # shape (dimension // 64 rounded up, slots), column per passage
    blocks: list[int]  # block (vec0 chunk) ids in slot order
    sizes: list[int]
    metadata: dict[int, npt.NDArray[np.int64]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.valid.sum())


def _blobs(rows: Sequence[Sequence[Any]], column: int, expected: list[int], what: str) -> bytes:
    parts = [bytes(r[column]) for r in rows]
    for part, size in zip(parts, expected):
        if len(part) != size:
            raise LayoutError(f"{what}: {len(part)} bytes where {size} were expected")
    return b"".join(parts)


def load_blocks(conn: SqlConnection, bits_table: str, dimension: int) -> BitBlocks:
    """Read every block of ``bits_table`` (a vec0 ``bit[dimension]`` table).

    Each block's sign bits are copied once, straight into their columns of the (words, slots) array, where
    joining the blobs first and transposing the whole after cost about three times as much.
    """
    rows = conn.exec_driver_sql(
        f"SELECT c.chunk_id, c.size, c.validity, c.rowids, v.vectors FROM {bits_table}_chunks AS c "
        f"JOIN {bits_table}_vector_chunks00 AS v ON v.rowid = c.chunk_id ORDER BY c.chunk_id"
    ).all()
    sizes = [int(r[1]) for r in rows]
    if any(size <= 0 or size % 8 for size in sizes):
        raise LayoutError(f"{bits_table}: unexpected block sizes")
    row_bytes = -(-dimension // 8)
    valid = np.unpackbits(
        np.frombuffer(_blobs(rows, 2, [s // 8 for s in sizes], "validity"), dtype=np.uint8), bitorder="little"
    ).astype(bool)
    ids = np.frombuffer(_blobs(rows, 3, [s * 8 for s in sizes], "rowids"), dtype=np.int64)
    width = -(-row_bytes // 8) * 8
    words = np.empty((width // 8, sum(sizes)), dtype=np.uint64)
    start = 0
    for row, size in zip(rows, sizes):
        blob = row[4]
        if len(blob) != size * row_bytes:
            raise LayoutError(f"vectors: {len(blob)} bytes where {size * row_bytes} were expected")
        packed = _padded(np.frombuffer(blob, dtype=np.uint8).reshape(size, row_bytes))
        words[:, start : start + size] = packed.view(np.uint64).T
        start += size
    return BitBlocks(ids, valid, words, [int(r[0]) for r in rows], sizes)


def _columns(packed: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """(slots, bytes) sign bits as contiguous uint64 words per 64 dimensions: (words, slots)."""
    return np.ascontiguousarray(np.ascontiguousarray(_padded(packed)).view(np.uint64).T)


def _padded(packed: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """(rows, bytes) sign bits with zero bytes appended to a whole number of uint64 words per row."""
    width = -(-packed.shape[1] // 8) * 8
    return packed if width == packed.shape[1] else np.pad(packed, ((0, 0), (0, width - packed.shape[1])))


def load_metadata(conn: SqlConnection, bits_table: str, blocks: BitBlocks, column: int) -> npt.NDArray[np.int64]:
    """The int64 values of INTEGER metadata column ``column`` for every slot, in slot order."""
    if column not in blocks.metadata:
        rows = conn.exec_driver_sql(
            f"SELECT c.chunk_id, m.data FROM {bits_table}_chunks AS c "
            f"JOIN {bits_table}_metadatachunks{column:02d} AS m ON m.rowid = c.chunk_id ORDER BY c.chunk_id"
        ).all()
        if [int(r[0]) for r in rows] != blocks.blocks:
            raise LayoutError(f"{bits_table}: metadata blocks do not match the vector blocks")
        data = _blobs(rows, 1, [s * 8 for s in blocks.sizes], "metadata")
        blocks.metadata[column] = np.frombuffer(data, dtype=np.int64)
    return blocks.metadata[column]


def cached_blocks(conn: SqlConnection, bits_table: str, dimension: int) -> BitBlocks:
    """:func:`load_blocks`, reused while nobody has changed the database since."""
    state = _db_state(conn, bits_table)
    cache: dict[str, tuple[tuple[int, ...], BitBlocks]] = conn.connection.info.setdefault(_CACHE_KEY, {})
    entry = cache.get(bits_table)
    if entry is not None and entry[0] == state:
        return entry[1]
    cache.clear()  # one table per connection (a reembed switches tables); let old arrays go first
    blocks = load_blocks(conn, bits_table, dimension)
    cache[bits_table] = (state, blocks)
    return blocks


def _db_state(conn: SqlConnection, bits_table: str) -> tuple[int, ...]:
    """What moves when the database changes: data_version (another connection committed), our total_changes.

    The block count is read first, so the read snapshot is open and data_version describes it.
    """
    blocks = conn.exec_driver_sql(f"SELECT count(*), max(chunk_id), total_changes() FROM {bits_table}_chunks").one()
    version = int(conn.exec_driver_sql("PRAGMA data_version").scalar() or 0)
    return version, int(blocks[2]), int(blocks[0]), int(blocks[1] or 0)


def slot_mask(
    conn: SqlConnection,
    bits_table: str,
    blocks: BitBlocks,
    *,
    since: int | None,
    until: int | None,
    source_ids: tuple[int, ...] | None,
) -> npt.NDArray[np.bool_]:
    """Valid slots passing the date (YYYYMMDD) and outlet filters."""
    mask: npt.NDArray[np.bool_] = blocks.valid.copy()
    if since is not None or until is not None:
        published = load_metadata(conn, bits_table, blocks, _PUBLISHED_COLUMN)
        if since is not None:
            mask &= published >= since
        if until is not None:
            mask &= published <= until
    if source_ids is not None:
        mask &= np.isin(load_metadata(conn, bits_table, blocks, _SOURCE_COLUMN), np.asarray(source_ids, np.int64))
    return mask


def query_words(query: npt.NDArray[np.float32], words: int) -> npt.NDArray[np.uint64]:
    """The query's sign bits packed like the stored ones (sqlite-vec's ``vec_quantize_binary``)."""
    packed = np.packbits(np.asarray(query) > 0, bitorder="little")
    packed = np.pad(packed, (0, words * 8 - len(packed)))
    return packed.view(np.uint64)


def candidates(
    blocks: BitBlocks, mask: npt.NDArray[np.bool_], query: npt.NDArray[np.float32], *, wide: int, narrow: int
) -> npt.NDArray[np.int64]:
    """Row ids of the ``narrow`` most promising passages among those in ``mask`` (see :func:`candidate_slots`)."""
    return blocks.ids[candidate_slots(blocks.words, mask, query, wide=wide, narrow=narrow)]


def sign_words(vectors: npt.NDArray[np.float32] | npt.NDArray[np.int16], step: int = 16_384) -> npt.NDArray[np.uint64]:
    """Sign bits of float vectors (rows; or bfloat16 patterns read as int16, > 0 where their float is),
    laid out as :class:`BitBlocks` ``words``: what vec0's bit table holds for them (``vec_quantize_binary``).
    Packed ``step`` rows at a time, so the temporary stays small."""
    parts = [np.packbits(vectors[i : i + step] > 0, axis=1, bitorder="little") for i in range(0, len(vectors), step)]
    return _columns(np.concatenate(parts) if parts else np.zeros((0, -(-vectors.shape[1] // 8)), dtype=np.uint8))


def candidate_slots(
    words: npt.NDArray[np.uint64],
    mask: npt.NDArray[np.bool_] | None,
    query: npt.NDArray[np.float32],
    *,
    wide: int,
    narrow: int,
) -> npt.NDArray[np.intp]:
    """Slots of the ``narrow`` most promising vectors among those in ``mask`` (None: every slot).

    Hamming distance picks ``wide``; the float query against their sign vectors
    (+1/-1 per dimension) picks ``narrow`` of those.
    """
    slots = words.shape[1]
    allowed = np.flatnonzero(mask) if mask is not None else np.arange(slots)
    if len(allowed) <= narrow:
        return allowed
    q = query_words(query, words.shape[0])
    distance = np.zeros(slots, dtype=np.uint16)
    for row, word in enumerate(q):
        distance += np.bitwise_count(words[row] ^ word)
    if mask is not None:
        distance[~mask] = np.iinfo(np.uint16).max
    wide = min(wide, len(allowed))
    chosen = np.argpartition(distance, wide - 1)[:wide] if wide < len(distance) else allowed
    score = sign_scores(np.stack([np.take(row, chosen) for row in words]), query)  # row by row: a third of the time
    best: npt.NDArray[np.intp] = (
        chosen[np.argpartition(-score, narrow - 1)[:narrow]] if narrow < len(chosen) else chosen
    )
    return best


def sign_scores(words: npt.NDArray[np.uint64], query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The float query against each column's sign vector: sum of ``2 q[d]`` over its set bits, which is
    ``q . (2b - 1)`` up to a constant. Byte by byte through a table of the 256 possible bytes' sums at each
    position, so no (columns x dimension) float matrix is built."""
    count = words.shape[1]
    # (bytes, columns): byte b of word w is position 8 w + b (the words are the little-endian bytes packed)
    packed = np.ascontiguousarray(words.view(np.uint8).reshape(words.shape[0], count, 8).transpose(0, 2, 1))
    packed = packed.reshape(-1, count)
    width = packed.shape[0]
    doubled = np.zeros(width * 8, dtype=np.float32)
    doubled[: len(query)] = 2 * np.asarray(query, dtype=np.float32)[: width * 8]
    table = np.ascontiguousarray((_BYTE_BITS @ doubled.reshape(width, 8).T).T)  # [position, byte]
    # One position at a time into one buffer: the whole (columns x bytes) index array cost more than its sums.
    scores: npt.NDArray[np.float32] = np.zeros(count, dtype=np.float32)
    part = np.empty(count, dtype=np.float32)
    for position in range(width):
        np.take(table[position], packed[position], out=part)
        scores += part
    return scores
