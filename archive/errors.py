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
