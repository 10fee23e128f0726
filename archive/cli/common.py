"""Options and helpers shared by every command: -d/--db, --model, --home; error mapping."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from archive.api import Archive
from archive.errors import ArchiveError
from archive.validation import describe_range

F = TypeVar("F", bound=Callable[..., Any])
MAX_WAIT_S = 7 * 24 * 3600.0  # --wait: a week is already longer than any writer should run


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


if TYPE_CHECKING:
    _FloatType = click.ParamType[float, Any]
else:  # click before 8.2 has no type parameters at run time
    _FloatType = click.ParamType


class FiniteFloat(_FloatType):
    """A float option that refuses NaN, infinities and values outside its range, naming the range.

    ``click.FloatRange`` lets ``nan`` through (every comparison with NaN is false).
    """

    name = "number"

    def __init__(self, minimum: float | None = None, maximum: float | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = value if isinstance(value, float) else click.FLOAT.convert(value, param, ctx)
        low, high = self.minimum, self.maximum
        if not math.isfinite(number) or (low is not None and number < low) or (high is not None and number > high):
            self.fail(f"{value!r} is not a finite number {describe_range(low, high)}", param, ctx)
        return float(number)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn library errors into one-line CLI errors, never a traceback.

    The exit code is 1, or the error's own ``exit_code`` (75, EX_TEMPFAIL, when
    another writer holds the archive: cron wrappers retry those later).
    """
    try:
        yield
    except ArchiveError as exc:
        error = click.ClickException(str(exc))
        error.exit_code = getattr(exc, "exit_code", 1)
        raise error from None


@contextmanager
def opened(db: str | None, model: str | None, home: str | None) -> Iterator[Archive]:
    """Open the archive for one command, with friendly errors."""
    with friendly_errors(), Archive.open(db, model=model, home=home) as archive:
        yield archive
