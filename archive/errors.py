"""Typed errors raised by the library. The CLI turns them into friendly messages.

Every message says what to do next, so a user never has to read a traceback.
"""

from __future__ import annotations


class ArchiveError(Exception):
    """Base class for every error the archive raises on purpose."""


class ConfigError(ArchiveError):
    """A setting (option, environment variable) has an invalid value."""


class DriverError(ArchiveError):
    """No SQLite driver that can load extensions (sqlite-vec) is available."""


class SchemaOutOfDateError(ArchiveError):
    """The database schema is not at the revision this code expects."""


class ModelNotFoundError(ArchiveError):
    """The embedding model could not be located offline."""


class ModelChecksumError(ArchiveError):
    """A model file does not match its expected sha256."""


class ModelMismatchError(ArchiveError):
    """The database was built with a different embedding model than requested."""


class IngestError(ArchiveError):
    """One input (file, record, feed) could not be ingested."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class LockedError(ArchiveError):
    """Another process holds the archive's writer lock (the CLI exits 75, EX_TEMPFAIL).

    ``holder`` is the :class:`archive.ops.lock.LockHolder` read from the lock file, if any.
    """

    exit_code = 75  # EX_TEMPFAIL from sysexits.h: cron wrappers retry later

    def __init__(self, message: str, *, holder: object | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class InvalidQueryError(ArchiveError):
    """A search query or filter is malformed (empty query, bad date, k < 1)."""


class NotFoundError(ArchiveError):
    """An article, run or feed id does not exist."""


class FeedError(ArchiveError):
    """A feed cannot be added (unreadable, not a feed, already added)."""


class OperationError(ArchiveError):
    """A maintenance operation (delete, reembed, backup, vacuum) cannot go ahead as asked."""


class InvalidArgumentError(ArchiveError, TypeError):
    """A library call got an argument of the wrong type or shape (a str where a list of texts belongs)."""


# -- the database file itself ------------------------------------------------
# ArchiveError
#  +-- ArchiveFileError           something is wrong with the database file (not with a query)
#       +-- ArchiveNotFoundError   no file at the path, and the command only reads (exit 2)
#       +-- NotAnArchiveError      a text file, random bytes, or a SQLite file without our schema
#       +-- CorruptArchiveError    truncated or damaged: `archive doctor`, restore from a backup
#       +-- ReadOnlyArchiveError   a write on a read-only file, folder or mount
#       +-- DiskFullError          SQLITE_FULL: the disk (or max_page_count) is full
#       +-- SchemaTooNewError      alembic_version holds a revision this code does not know


class ArchiveFileError(ArchiveError):
    """The database file cannot be used as it is; ``path`` names it."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ArchiveNotFoundError(ArchiveFileError, NotFoundError):
    """A reading command was pointed at a path where no archive exists (the CLI exits 2)."""

    exit_code = 2


class NotAnArchiveError(ArchiveFileError):
    """The file exists but is not an archive (not SQLite at all, or SQLite without the archive's schema)."""


class CorruptArchiveError(ArchiveFileError):
    """The file is an archive but is truncated or damaged."""


class ReadOnlyArchiveError(ArchiveFileError):
    """A write was asked of an archive opened read-only (read-only file, folder or mount)."""


class DiskFullError(ArchiveFileError):
    """The disk holding the archive is full; batches committed before stay stored."""


class SchemaTooNewError(ArchiveFileError, SchemaOutOfDateError):
    """The archive was migrated by a newer version of this package."""


class InvalidSearchArgumentError(InvalidArgumentError, InvalidQueryError):
    """A search argument of the wrong type (``k="10"``): both a misuse of the call and an invalid query."""
