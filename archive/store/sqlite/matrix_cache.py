"""One vector matrix per process per database table, shared by every pooled connection.

A :class:`~archive.store.sqlite.matrix.VectorMatrix` costs 1,536 bytes a row at 384-d;
held per connection it was duplicated by every connection of the pool. Here the process
holds one per (database file, vec0 table), and each connection proves that the shared one
is its own snapshot's before using it:

* fast path, every query: the connection's own change stamp (``PRAGMA data_version``,
  which moves when any other connection commits, ``total_changes()``, which moves with its
  own writes, and the block count) is what it was when it last accepted the current
  entry, so nothing changed in between;
* after a change: the connection reads the table's content key (:func:`content_key`) in its
  own snapshot and adopts the shared entry when the keys are equal, else loads the matrix
  from its snapshot and installs it in place of the old one.

vec0 (sqlite-vec 0.1.x) writes a row only by inserting it into the latest block (a delete
clears a validity bit where the row was; a new block is added when the latest is full), so
the content key is the block count, the last block id, every block's validity bitmap and a
digest of the last block's row ids, vectors and metadata; a load computes it from the blobs it
has read. Loading a matrix is serialised per table, so concurrent searches after a change wait
for one load instead of making several.

A connection holding uncommitted writes gets no matrix (its caller scans vec0, which sees
them): its snapshot may yet roll back, which moves none of the stamps above.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from archive.store.sqlite.driver import database_file
from archive.store.sqlite.matrix import VectorMatrix, content_key_of
from archive.store.sqlite.sql import CHANGES_AT_BEGIN, TRANSACTION_SERIAL, SqlConnection

_CONNECTION_KEY = "archive_matrix_stamps"
_MEMO_KEY = "archive_matrix_stamp_memo"
# Entries held at most (two tables, passages and articles, for a few databases); the oldest goes first.
MAX_ENTRIES = 6
_METADATA_COLUMNS = 3  # vtables.vec_table_ddl: source_id, published, language

Loader = Callable[[SqlConnection, str, int], VectorMatrix]


@dataclass(frozen=True)
class _Entry:
    token: int  # which load this is: connections remember the token they accepted
    key: tuple[object, ...]
    matrix: VectorMatrix


def content_key(conn: SqlConnection, table: str) -> tuple[object, ...]:
    """What differs between two snapshots of vec0 table ``table`` holding different rows (see module doc)."""
    blocks = conn.exec_driver_sql(f"SELECT chunk_id, validity FROM {table}_chunks ORDER BY chunk_id").all()
    if not blocks:
        return (0,)
    last = int(blocks[-1][0])
    parts = [
        f"SELECT rowids FROM {table}_chunks WHERE chunk_id = ?",
        f"SELECT vectors FROM {table}_vector_chunks00 WHERE rowid = ?",
    ]
    parts += [f"SELECT data FROM {table}_metadatachunks{c:02d} WHERE rowid = ?" for c in range(_METADATA_COLUMNS)]
    blobs = [conn.exec_driver_sql(sql, (last,)).scalar() for sql in parts]
    return content_key_of([validity for _, validity in blocks], last, blobs)


def connection_stamp(conn: SqlConnection, table: str) -> tuple[int, ...]:
    """What moves on this connection when the database changes; the block count opens the snapshot first.

    Read once per read snapshot: within one transaction only the connection's own writes
    (``total_changes``, a plain attribute of the driver's connection) can move it.
    """
    info = conn.connection.info
    memo: dict[str, tuple[object, int, tuple[int, ...]]] = info.setdefault(_MEMO_KEY, {})
    serial = info.get(TRANSACTION_SERIAL)
    changes = conn.connection.dbapi_connection.total_changes
    held = memo.get(table)
    if serial is not None and held is not None and held[:2] == (serial, changes) and conn.in_transaction():
        return held[2]
    stamp = _read_stamp(conn, table)
    serial = info.get(TRANSACTION_SERIAL)  # the statement above began the transaction, if none was open
    memo[table] = (serial, changes, stamp)
    return stamp


def _read_stamp(conn: SqlConnection, table: str) -> tuple[int, ...]:
    blocks = conn.exec_driver_sql(f"SELECT count(*), max(chunk_id), total_changes() FROM {table}_chunks").one()
    version = int(conn.exec_driver_sql("PRAGMA data_version").scalar() or 0)
    return version, int(blocks[2]), int(blocks[0]), int(blocks[1] or 0)


class MatrixCache:
    """The shared matrices of one process (thread-safe); :data:`CACHE` is the one the store uses."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._tokens = itertools.count(1)
        self.max_entries = max_entries

    def get(self, conn: SqlConnection, table: str, dimension: int, load: Loader) -> VectorMatrix | None:
        """The matrix of ``table`` as this connection's snapshot holds it, loaded with ``load`` if none fits.

        None while the connection holds uncommitted writes.
        """
        name = database_file(conn)
        stamp = connection_stamp(conn, table)  # begins the transaction, if none is open
        if _writing(conn):
            return None
        entry = self._accepted(conn, name, table, stamp)
        if entry is not None:
            return entry.matrix
        with self._load_lock(name, table):
            with self._lock:
                entry = self._entries.get((name, table))
            if entry is not None and entry.key != content_key(conn, table):
                with self._lock:
                    if self._entries.get((name, table)) is entry:
                        del self._entries[(name, table)]  # let the old arrays go before the new ones are read
                entry = None
            if entry is None:  # the key comes from the blobs the load read: no second read of them
                loaded = load(conn, table, dimension)
                entry = self._install(name, table, loaded.key or content_key(conn, table), loaded)
        _stamps(conn)[table] = (stamp, entry.token)
        return entry.matrix

    def current(self, conn: SqlConnection, table: str) -> VectorMatrix | None:
        """The shared matrix of ``table`` if this connection accepted it and nothing changed since; never loads."""
        if table not in _stamps(conn):
            return None
        stamp = connection_stamp(conn, table)
        entry = None if _writing(conn) else self._accepted(conn, database_file(conn), table, stamp)
        return entry.matrix if entry is not None else None

    def clear(self) -> None:
        """Let every matrix go (connections then reload on their next query)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _accepted(self, conn: SqlConnection, name: str, table: str, stamp: tuple[int, ...]) -> _Entry | None:
        seen = _stamps(conn).get(table)
        with self._lock:
            entry = self._entries.get((name, table))
            if entry is None or seen is None or seen != (stamp, entry.token):
                return None
            self._entries.move_to_end((name, table))
            return entry

    def _install(self, name: str, table: str, key: tuple[object, ...], matrix: VectorMatrix) -> _Entry:
        with self._lock:
            installed = _Entry(next(self._tokens), key, matrix)
            self._entries[(name, table)] = installed
            self._entries.move_to_end((name, table))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return installed

    def _load_lock(self, name: str, table: str) -> threading.Lock:
        with self._lock:
            return self._loading.setdefault((name, table), threading.Lock())


def _stamps(conn: SqlConnection) -> dict[str, tuple[tuple[int, ...], int]]:
    """Per connection: for each table, the stamp at which it accepted the shared entry, and its token."""
    stamps: dict[str, tuple[tuple[int, ...], int]] = conn.connection.info.setdefault(_CONNECTION_KEY, {})
    return stamps


def _writing(conn: SqlConnection) -> bool:
    """Whether this connection changed rows in its open transaction (unknown start: assume it did)."""
    began = conn.connection.info.get(CHANGES_AT_BEGIN)
    return began is None or conn.connection.dbapi_connection.total_changes != began


CACHE = MatrixCache()
