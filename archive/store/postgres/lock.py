"""One writer at a time per PostgreSQL archive: a session-level advisory lock on its own connection.

PostgreSQL scopes advisory locks to the database, so one fixed key serves every archive. The
server drops the lock when the holding connection closes, so a killed writer never leaves it
behind. Like the SQLite lock file, it is re-entrant within one thread (``feeds poll`` holds it
around the ingests it runs).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from archive.errors import ConfigError, LockedError

WRITER_KEY = 7_203_115_001  # pg_advisory_lock key of the archive's writer lock
POLL_INTERVAL_S = 0.1


@dataclass
class _Held:
    connection: Connection
    thread: int
    depth: int


class AdvisoryLock:
    """The writer lock of one PostgreSQL archive."""

    def __init__(self, engine: Engine, where: str) -> None:
        self.engine = engine
        self.where = where
        self._held: _Held | None = None
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, *, wait: float = 0, command: str | None = None) -> Iterator[int]:
        """Hold the lock for the ``with`` block; LockedError after ``wait`` seconds of another holder."""
        if not isinstance(wait, (int, float)) or not math.isfinite(wait) or wait < 0:
            raise ConfigError(f"--wait must be a finite number of seconds, 0 or more (got {wait!r})")
        with self._guard:
            held = self._held
            if held is not None and held.thread == threading.get_ident():
                held.depth += 1
                reentered = True
            else:
                reentered = False
        if reentered:
            try:
                yield os.getpid()
            finally:
                with self._guard:
                    assert self._held is not None
                    self._held.depth -= 1
            return
        connection = self._acquire(wait)
        with self._guard:
            self._held = _Held(connection, threading.get_ident(), 1)
        try:
            yield os.getpid()
        finally:
            with self._guard:
                self._held = None
            try:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({WRITER_KEY})")
                connection.commit()
            finally:
                connection.close()

    def busy(self) -> bool:
        """Whether another session holds the lock now."""
        with self.engine.connect() as conn:
            got = bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({WRITER_KEY})").scalar())
            if got:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({WRITER_KEY})")
            conn.commit()
        return not got and self._held is None

    def _acquire(self, wait: float) -> Connection:
        connection = self.engine.connect()
        deadline = time.monotonic() + wait
        try:
            while True:
                got = bool(connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({WRITER_KEY})").scalar())
                connection.commit()
                if got:
                    return connection
                if time.monotonic() >= deadline:
                    waited = f" (waited {wait:g} s)" if wait else ""
                    raise LockedError(
                        f"another process is writing to {self.where}{waited}; try again later or pass --wait SECONDS"
                    )
                time.sleep(POLL_INTERVAL_S)
        except BaseException:
            connection.close()
            raise
