"""The SQLite driver an archive uses, how its connections are prepared, and how a file may be opened.

The stdlib ``sqlite3`` is used when it can load extensions. Many Pythons (macOS
system Python, pyenv builds) are compiled without that ability, so we fall back
to ``sqlean.py`` or ``pysqlite3`` which bundle a SQLite that can.

Nothing here imports SQLAlchemy: the engine (``engine``) and the direct read snapshots of
one-shot searches (``direct``) both open their connections through these functions.
"""

from __future__ import annotations

import importlib
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import sqlite_vec

from archive.errors import DriverError
from archive.store.sqlite.sql import SqlConnection

BUSY_TIMEOUT_MS = 30_000
MMAP_BYTES = 1 << 36  # 64 GiB of address space, not memory: pages load on touch and stay shared
CACHE_KIB = 65_536  # SQLite's page cache per connection: ingest, clean and reembed read unmapped through it
_CANDIDATES = (("sqlite3", "sqlite3 (stdlib)"), ("sqlean", "sqlean.py"), ("pysqlite3.dbapi2", "pysqlite3"))


@dataclass(frozen=True)
class Driver:
    """The DB-API module in use and a human-readable name for it."""

    module: ModuleType
    name: str

    @property
    def sqlite_version(self) -> str:
        return str(self.module.sqlite_version)


def _can_load_extensions(module: ModuleType) -> bool:
    conn = module.connect(":memory:")
    try:
        if not hasattr(conn, "enable_load_extension"):
            return False
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        return True
    except Exception:
        return False
    finally:
        conn.close()


_driver: Driver | None = None


def pick_driver() -> Driver:
    """Return the first DB-API module that can load sqlite-vec (cached)."""
    global _driver
    if _driver is not None:
        return _driver
    tried: list[str] = []
    for module_name, label in _CANDIDATES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            tried.append(f"{label}: not installed")
            continue
        if _can_load_extensions(module):
            _driver = Driver(module, label)
            return _driver
        tried.append(f"{label}: cannot load extensions")
    raise DriverError(
        "no SQLite driver here can load the sqlite-vec extension ("
        + "; ".join(tried)
        + "). Fix: pip install sqlean.py (or pysqlite3-binary)."
    )


def prepare_connection(dbapi_conn: Any) -> None:
    """Load sqlite-vec and set the PRAGMAs every archive connection needs."""
    dbapi_conn.enable_load_extension(True)
    sqlite_vec.load(dbapi_conn)
    dbapi_conn.enable_load_extension(False)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA temp_store = MEMORY")
    cur.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    # Map the whole file (SQLite caps this at its compile-time maximum): a vector is read
    # from the middle of a 1.5 MB vec0 blob by walking its overflow pages, ~10x faster
    # mapped than through read() once the file outgrows the map (measured at 1M passages).
    cur.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    cur.close()


def set_file_map(dbapi_conn: Any, size: int) -> None:
    """Map at most ``size`` bytes of the file on this connection (0: none; reads then go through the page
    cache). A smaller map is unmapped at once, so its pages stop counting in the process's RSS."""
    dbapi_conn.execute(f"PRAGMA mmap_size = {int(size)}").close()


def set_page_cache(dbapi_conn: Any, kib: int) -> None:
    """Keep at most ``kib`` KiB of pages in this connection's own cache (a smaller cache frees pages at once)."""
    dbapi_conn.execute(f"PRAGMA cache_size = -{int(kib)}").close()


AccessMode = Literal["rw", "ro", "immutable"]


def _writable(path: Path) -> bool:
    # root passes os.access on a `chmod a-w` file; its missing write bits still say "keep it read-only"
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return os.access(path, os.W_OK) and bool(mode & 0o222)


def access_mode(path: Path | str) -> AccessMode:
    """How the archive at ``path`` can be opened: read-write, read-only, or immutable.

    A file that cannot be written is opened read-only (``mode=ro``). When its folder
    cannot be written, SQLite could not create the -wal/-shm files a WAL reader (and
    any writer) needs, so the file is opened ``immutable=1``: nobody can write it there.
    A missing file is "rw": it is about to be created.
    """
    file = Path(path).expanduser()
    if str(path) == ":memory:" or not file.exists():
        return "rw"
    if not _writable(file.resolve().parent):
        return "immutable"
    return "rw" if _writable(file) else "ro"


def file_uri(target: str, mode: AccessMode) -> str:
    """The ``file:`` URI opening ``target`` read-only (``ro``) or as immutable (``immutable``)."""
    absolute = urllib.parse.quote(str(Path(target).expanduser().resolve()))
    flag = "mode=ro" if mode == "ro" else "immutable=1"
    return f"file:{absolute}?{flag}"


def database_file(conn: SqlConnection) -> str:
    """The file this connection has open (memoised on the pooled connection); an in-memory database is
    its connection's own."""
    info = conn.connection.info
    name = info.get("archive_database_file")
    if name is None:
        row = conn.exec_driver_sql("PRAGMA database_list").first()
        file = str(row[2]) if row is not None and row[2] else ""
        name = file or f":memory:{id(conn.connection.dbapi_connection)}"
        info["archive_database_file"] = name
    return str(name)
