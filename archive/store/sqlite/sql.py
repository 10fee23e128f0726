"""What the SQLite read helpers need of a connection, and a direct one that needs no SQLAlchemy.

The search helpers (``knn``, ``keyword``, ``selective``, ``matrix``, ``matrix_cache``,
``prefilter``, ``vtables``, ``search``) only send plain SQL text through
``exec_driver_sql`` and keep per-connection memos in ``connection.info``. The protocols
below name exactly that much, so the same helpers run over a SQLAlchemy session (every
store operation) and over :class:`DirectSession`: one DB-API connection, one read
snapshot, for a one-shot ``archive search`` that never imports SQLAlchemy (whose import
alone costs more than the search).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

# Connection info keys: the connection's total_changes() when its transaction began (writes since make it
# "dirty"), and which transaction of the process that is (what may be reused within one read snapshot).
CHANGES_AT_BEGIN = "archive_changes_at_begin"
TRANSACTION_SERIAL = "archive_transaction_serial"
_transactions = itertools.count(1)


def mark_begun(info: dict[Any, Any], dbapi_connection: Any) -> None:
    """Record in a connection's ``info`` that its transaction just began (the engine's ``begin`` hook and
    :class:`DirectConnection` both call this): the read-snapshot memos and caches compare these."""
    info[CHANGES_AT_BEGIN] = dbapi_connection.total_changes
    info[TRANSACTION_SERIAL] = next(_transactions)


class SqlResult(Protocol):
    """The rows of one statement (SQLAlchemy's ``CursorResult`` has these, as does :class:`DirectResult`)."""

    def scalar(self) -> Any: ...

    def one(self) -> Any: ...

    def first(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def all(self) -> Sequence[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class DriverHandle(Protocol):
    """The DB-API connection under a connection, with a dict kept as long as it lives."""

    @property
    def info(self) -> dict[Any, Any]: ...

    @property
    def dbapi_connection(self) -> Any: ...

    @property
    def driver_connection(self) -> Any: ...


class SqlConnection(Protocol):
    """One connection inside one transaction (SQLAlchemy's ``Connection`` or :class:`DirectConnection`)."""

    @property
    def connection(self) -> DriverHandle: ...

    def exec_driver_sql(self, statement: str, parameters: Any = None) -> SqlResult: ...

    def in_transaction(self) -> bool: ...


class SqlSession(Protocol):
    """What hands out the connection of one read snapshot, its transaction begun (SQLAlchemy's ``Session``
    or :class:`DirectSession`): reads straight through ``connection.driver_connection`` stay in it."""

    def connection(self) -> SqlConnection: ...


class DirectResult:
    """A DB-API cursor's rows, with the few accessors of SQLAlchemy's results the helpers use."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def scalar(self) -> Any:
        row = self._cursor.fetchone()
        return None if row is None else row[0]

    def one(self) -> Any:
        rows = self._cursor.fetchall()
        if len(rows) != 1:
            raise LookupError(f"expected one row, got {len(rows)}")
        return rows[0]

    def first(self) -> Any:
        return self._cursor.fetchone()

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def all(self) -> Sequence[Any]:
        return list(self._cursor.fetchall())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


class _Handle:
    def __init__(self, raw: Any) -> None:
        self.info: dict[Any, Any] = {}
        self.dbapi_connection = raw
        self.driver_connection = raw


class DirectConnection:
    """One DB-API connection (opened with ``isolation_level=None``) reading one snapshot.

    The first statement opens a deferred transaction, marked as the engine's ``begin`` hook marks
    its own (:func:`mark_begun`), so the shared matrix and prefilter caches treat it like any pooled
    connection.
    """

    def __init__(self, raw: Any) -> None:
        self.connection = _Handle(raw)
        self._open = False

    def exec_driver_sql(self, statement: str, parameters: Any = None) -> DirectResult:
        self.begin()
        return DirectResult(self.connection.dbapi_connection.execute(statement, parameters or ()))

    def begin(self) -> None:
        """Open the read transaction (once)."""
        if self._open:
            return
        raw = self.connection.dbapi_connection
        raw.execute("BEGIN DEFERRED")
        mark_begun(self.connection.info, raw)
        self._open = True

    def in_transaction(self) -> bool:
        return self._open

    def close(self) -> None:
        """End the snapshot (nothing was written) and close the connection."""
        raw = self.connection.dbapi_connection
        try:
            if raw.in_transaction:  # SQLite may have rolled back on its own (after SQLITE_BUSY, IOERR, FULL)
                raw.execute("ROLLBACK")
        finally:
            self._open = False
            raw.close()


class DirectSession:
    """A :class:`SqlSession` over one :class:`DirectConnection`."""

    def __init__(self, conn: DirectConnection) -> None:
        self._conn = conn

    def connection(self) -> DirectConnection:
        """The connection, its transaction open (as SQLAlchemy's ``Session.connection()`` leaves it)."""
        self._conn.begin()
        return self._conn
