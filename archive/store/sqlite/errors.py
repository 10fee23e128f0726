"""Turn SQLite failures (DB-API errors, raw or wrapped by SQLAlchemy) into typed ArchiveErrors.

Every failure of the database file itself (not an archive, damaged, read-only,
disk full, locked) gets one message that names the file and says what to do.
Anything else is left alone: the caller's last resort reports it as a bug.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from archive.errors import (
    ArchiveError,
    ArchiveFileError,
    CorruptArchiveError,
    DiskFullError,
    LockedError,
    NotAnArchiveError,
    ReadOnlyArchiveError,
    SchemaOutOfDateError,
)

# SQLite's primary result codes (sqlite3.h); extended codes keep them in the low byte.
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR = 5, 6, 8, 10
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 11, 13, 14, 26

# Pythons before 3.11 (and some drivers) give no error code: the messages are SQLite's own.
_MESSAGES = (
    ("file is not a database", SQLITE_NOTADB),
    ("disk image is malformed", SQLITE_CORRUPT),
    ("malformed database schema", SQLITE_CORRUPT),
    ("blob read error", SQLITE_CORRUPT),  # sqlite-vec reading a damaged vector block
    ("fts5: corrupt", SQLITE_CORRUPT),
    ("readonly database", SQLITE_READONLY),
    ("read-only", SQLITE_READONLY),
    ("database or disk is full", SQLITE_FULL),
    ("unable to open database file", SQLITE_CANTOPEN),
    ("disk i/o error", SQLITE_IOERR),
    ("database is locked", SQLITE_BUSY),
)
_OS_ERRORS = {errno.ENOSPC: SQLITE_FULL, errno.EDQUOT: SQLITE_FULL, errno.EROFS: SQLITE_READONLY}


def _code(exc: BaseException) -> int | None:
    """SQLite's primary result code for ``exc``, from its attributes or, failing that, its message."""
    original = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the DB-API error in .orig
    if isinstance(original, OSError) and original.errno in _OS_ERRORS:
        return _OS_ERRORS[original.errno]
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF not in (0, 1):  # 1 is SQLITE_ERROR: read the message
        return code & 0xFF
    message = str(original).lower()
    for needle, found in _MESSAGES:
        if needle in message:
            return found
    return None


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def classify_error(exc: BaseException, path: str | Path) -> ArchiveError | None:
    """The typed error for a failure of the database file at ``path``; None when ``exc`` is not one."""
    code = _code(exc)
    where, reason = str(path), _reason(exc)
    if code == SQLITE_NOTADB:
        return NotAnArchiveError(
            f"{where} is not an archive (SQLite says: {reason}): check -d/--db and ARCHIVE_DB, "
            f"or create a new archive with: archive ingest -d NEW.db FILES",
            path=where,
        )
    if code in (SQLITE_CORRUPT, SQLITE_IOERR):
        return CorruptArchiveError(
            f"{where} is damaged or truncated (SQLite says: {reason}): run `archive doctor -d {where}` "
            f"for details, then restore the file from a copy made by `archive backup` "
            f"(or try `sqlite3 {where} .recover`)",
            path=where,
        )
    if code == SQLITE_READONLY:
        return read_only_error(where)
    if code == SQLITE_FULL:
        return DiskFullError(
            f"the disk holding {where} is full (SQLite says: {reason}): free some space and run the "
            "command again; batches committed before this one are kept, and an ingest skips them",
            path=where,
        )
    if code == SQLITE_CANTOPEN:
        return ArchiveFileError(
            f"cannot open {where} (SQLite says: {reason}): check that the path is right and that its "
            "folder exists and can be read",
            path=where,
        )
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return LockedError(f"{where} is locked by another process: try again later or pass --wait SECONDS")
    if "no such index" in reason.lower():  # statements name indexes (INDEXED BY) that a hand edit may have dropped
        return SchemaOutOfDateError(
            f"{where} lacks an index its schema revision has (SQLite says: {reason}): run "
            f"`archive doctor -d {where}`, which gives the statement that makes it again (or restore the file "
            "from a copy made by `archive backup`)"
        )
    return None


def read_only_error(path: str | Path) -> ReadOnlyArchiveError:
    """The error for a write asked of an archive that cannot be written."""
    return ReadOnlyArchiveError(
        f"{path} is read-only (the file, its folder or the disk cannot be written): searching it works, "
        "but this command writes; make the file and its folder writable (chmod u+w) or copy the archive "
        "somewhere writable",
        path=str(path),
    )


# An unexplained SQL error ("SQL logic error" from a virtual table reading a damaged block) is
# checked against the file's integrity before it is called a bug; past this size that check
# would take minutes, so the error is reported as it is.
_CHECK_MAX_BYTES = 1 << 30


def damage_found(path: str | Path) -> str | None:
    """The first problem ``PRAGMA quick_check`` finds in the file at ``path``; None when sound or unknown."""
    from archive.store.sqlite.engine import pick_driver

    file = Path(path)
    try:
        if not file.is_file() or file.stat().st_size > _CHECK_MAX_BYTES:
            return None
        conn = pick_driver().module.connect(f"file:{quote(str(file.resolve()))}?mode=ro", uri=True)
        try:
            rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(1)")]
        finally:
            conn.close()
    except Exception as exc:  # the check itself failing is an answer too
        return _reason(exc)
    return None if rows == ["ok"] else " ".join(rows[0].split())[:200]


@contextmanager
def translate_errors(path: str | Path) -> Iterator[None]:
    """Re-raise failures of the database file at ``path`` as typed ArchiveErrors (others pass unchanged)."""
    try:
        yield
    except ArchiveError:
        raise
    except Exception as exc:
        typed = classify_error(exc, path)
        if typed is None and _is_database_error(exc):
            problem = damage_found(path)
            if problem is not None:
                typed = classify_error(CorruptReport(problem), path)
        if typed is None:
            raise
        raise typed from exc


class CorruptReport(Exception):
    """What quick_check found, worded so that :func:`classify_error` reads it as damage."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"database disk image is malformed: {problem}")


def _is_database_error(exc: BaseException) -> bool:
    original = getattr(exc, "orig", None) or exc
    return type(original).__name__ in ("OperationalError", "DatabaseError", "InternalError")
