"""Options and helpers shared by every command: -d/--db, --model, --home; error mapping."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from archive.errors import ArchiveError
from archive.validation import describe_range

if TYPE_CHECKING:
    # The library (SQLAlchemy, NumPy, ...) loads when a command runs, not for `archive CMD --help`.
    from archive.api import Archive

F = TypeVar("F", bound=Callable[..., Any])
REPORT_URL = "https://github.com/conflict-archive/conflict-archive/issues"
MAX_WAIT_S = 7 * 24 * 3600.0  # --wait: a week is already longer than any writer should run


def inherit_from_group(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """`archive --db X stats` and `archive stats --db X` both work: the command's own value wins,
    then the one given before the command name, then the environment variable and the default."""
    if param.name is None or ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        return value
    given = ctx.find_root().meta.get(f"archive.{param.name}")
    return value if given is None else given


def home_option(func: F) -> F:
    return click.option(
        "--home",
        envvar="ARCHIVE_HOME",
        type=click.Path(file_okay=False),
        callback=inherit_from_group,
        help="Model cache and default db folder [env ARCHIVE_HOME].",
    )(func)


def db_option(func: F) -> F:
    return click.option(
        "-d",
        "--db",
        envvar="ARCHIVE_DB",
        type=click.Path(dir_okay=False),
        callback=inherit_from_group,
        help="Archive database file [env ARCHIVE_DB]; also accepted before the command name.",
    )(func)


def db_options(func: F) -> F:
    """-d/--db, --model and --home, shared by every command that opens an archive."""
    func = home_option(func)
    func = click.option(
        "--model",
        envvar="ARCHIVE_MODEL",
        callback=inherit_from_group,
        help="Embedding model: name or local path [env ARCHIVE_MODEL; default all-MiniLM-L6-v2 or the db's model].",
    )(func)
    return db_option(func)


@cache
def _error_class(exit_code: int) -> type[click.ClickException]:
    """A ClickException class exiting with ``exit_code`` (click reads it from the class)."""
    return type(f"ExitCode{exit_code}Error", (click.ClickException,), {"exit_code": exit_code})


def to_click_error(exc: BaseException) -> click.ClickException:
    """One line for the user: an ArchiveError's own message and exit code, or "internal error" (exit 1)."""
    if isinstance(exc, ArchiveError):
        return _error_class(getattr(exc, "exit_code", 1))(str(exc))
    detail = " ".join(str(exc).split())[:300] or "no message"
    return click.ClickException(
        f"internal error: {type(exc).__name__}: {detail}; this is a bug, please report it at {REPORT_URL} "
        "with the command you ran"
    )


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
    another writer holds the archive: cron wrappers retry those later; 2 when
    there is no archive at the path). Anything unexpected is reported as an
    internal error in one line; click's own exits and aborts pass through.
    """
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):  # click handles EPIPE
        raise
    except Exception as exc:
        raise to_click_error(exc) from None


@contextmanager
def opened(db: str | None, model: str | None, home: str | None, *, create: bool = False) -> Iterator[Archive]:
    """Open the archive for one command, with friendly errors.

    Only commands that create an archive (ingest, feeds add) pass ``create=True``:
    a reading command on a mistyped path exits 2 instead of leaving an empty file.
    """
    from archive.api import Archive

    with friendly_errors(), Archive.open(db, model=model, home=home, create=create) as archive:
        yield archive
