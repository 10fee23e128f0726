"""Options and helpers shared by every command: -d/--db, --model, --home; error mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from archive.errors import ArchiveError

if TYPE_CHECKING:
    # The library (SQLAlchemy, NumPy, ...) loads when a command runs, not for `archive CMD --help`.
    from archive.api import Archive

F = TypeVar("F", bound=Callable[..., Any])


def db_options(func: F) -> F:
    """-d/--db, --model and --home, shared by every command that opens an archive."""
    func = click.option(
        "--home",
        envvar="ARCHIVE_HOME",
        type=click.Path(file_okay=False),
        help="Model cache and default db folder [env ARCHIVE_HOME].",
    )(func)
    func = click.option(
        "--model",
        envvar="ARCHIVE_MODEL",
        help="Embedding model: name or local path [env ARCHIVE_MODEL; default all-MiniLM-L6-v2 or the db's model].",
    )(func)
    func = click.option(
        "-d",
        "--db",
        envvar="ARCHIVE_DB",
        type=click.Path(dir_okay=False),
        help="Archive database file [env ARCHIVE_DB].",
    )(func)
    return func


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn library errors into one-line CLI errors, never a traceback.

    The exit code is 1, or the error's own ``exit_code`` (75, EX_TEMPFAIL, when
    another writer holds the archive: cron wrappers retry those later).
    """
    try:
        yield
    except ArchiveError as exc:
        raise click_error(str(exc), getattr(exc, "exit_code", 1)) from None


def click_error(message: str, exit_code: int) -> click.ClickException:
    """A ClickException that exits with ``exit_code``.

    click declares ``exit_code`` per class (a ClassVar), so the code goes on a fresh subclass.
    """

    class ArchiveCommandError(click.ClickException):
        pass

    ArchiveCommandError.exit_code = exit_code
    return ArchiveCommandError(message)


@contextmanager
def opened(db: str | None, model: str | None, home: str | None) -> Iterator[Archive]:
    """Open the archive for one command, with friendly errors."""
    from archive.api import Archive

    with friendly_errors(), Archive.open(db, model=model, home=home) as archive:
        yield archive
