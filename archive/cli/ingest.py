"""`archive ingest`: read files and directories into the archive."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from archive.cli import cli
from archive.cli.common import MAX_WAIT_S, FiniteFloat, db_options, friendly_errors, opened
from archive.cli.render import progress_bar, safe
from archive.config import DEFAULT_BATCH_CHUNKS, Settings
from archive.errors import LockedError
from archive.results import IngestReport


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_options
@click.option("--outlet", help="Outlet name for every article read (overrides the files' own).")
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="KEY=NAME",
    help="Map a record field, e.g. --field text=body --field published=pub_date.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(8, 100_000),
    default=None,
    help="Largest chunk in model tokens (default min(model limit, 128)).",
)
@click.option(
    "--overlap",
    type=click.IntRange(0, 100_000),
    default=24,
    show_default=True,
    help="Tokens of overlap between chunks.",
)
@click.option(
    "--near-threshold",
    type=FiniteFloat(0, 1),
    default=0.5,
    show_default=True,
    help="MinHash Jaccard above which an article is a near-duplicate.",
)
@click.option(
    "--batch-chunks",
    type=click.IntRange(1),
    default=DEFAULT_BATCH_CHUNKS,
    show_default=True,
    help="Passages embedded and committed per transaction (smaller: a killed run loses less).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option(
    "--wait",
    type=FiniteFloat(0, MAX_WAIT_S),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another writer (ingest, feeds poll, delete) instead of exiting 75 at once.",
)
@click.option(
    "--follow-links",
    is_flag=True,
    help="Read symbolic links in folders that point outside them (skipped with an error by default).",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append a line per run (time, counts) and a line per error to this file (for cron).",
)
def ingest(
    paths: tuple[Path, ...],
    db: str | None,
    model: str | None,
    home: str | None,
    outlet: str | None,
    fields: tuple[str, ...],
    max_tokens: int | None,
    overlap: int,
    near_threshold: float,
    batch_chunks: int,
    as_json: bool,
    quiet: bool,
    wait: float,
    follow_links: bool,
    log_file: Path | None,
) -> None:
    """Ingest .txt/.md, .jsonl/.json, .csv (and .gz) files or whole directories.

    Re-running on the same files adds nothing, so a killed run is completed by
    running it again. A bad file is reported and the rest continue.

    \b
    Exit codes (for cron):
      0   everything ingested
      1   an input failed, or the archive could not be opened
      75  another writer holds the archive (EX_TEMPFAIL): try later or --wait
      130 interrupted (Ctrl-C), 143 terminated (SIGTERM)

    \b
    Examples:
      archive ingest news.jsonl.gz
      archive ingest exports/ --outlet "Kyiv Independent"
      archive ingest dump.csv --field text=article_content --field title=article_title
      archive ingest drop/ -q --wait 60 --log-file ~/logs/archive-ingest.log
    """
    from archive.ingest.prepare import IngestOptions

    field_map = _parse_fields(fields)
    with friendly_errors():
        options = IngestOptions(
            max_tokens=max_tokens, overlap_tokens=overlap, near_threshold=near_threshold, batch_chunks=batch_chunks
        )
    log = RunLog(log_file, Settings.resolve(db=db, home=home).db_path)
    try:
        with (
            _terminate_as_interrupt(),
            opened(db, model, home, create=True) as archive,
            progress_bar("ingesting", quiet or as_json) as bar,
            friendly_errors(),
        ):
            report = archive.ingest(
                list(paths),
                outlet=outlet,
                field_map=field_map,
                options=options,
                progress=bar,
                command=" ".join(sys.argv[1:]) or "ingest",
                wait=wait,
                follow_links=follow_links,
            )
    except click.ClickException as exc:
        log.write([f"{'locked' if exc.exit_code == LockedError.exit_code else 'failed'}: {exc.format_message()}"])
        raise
    except KeyboardInterrupt as exc:
        log.write(["interrupted: rerun the same command to finish the run"])
        click.echo("interrupted: rerun the same command to finish (what is stored is skipped)", err=True)
        sys.exit(128 + getattr(exc, "signum", signal.SIGINT))
    log.write_report(report)
    _print_report(report, as_json=as_json, quiet=quiet)
    if report.errors:
        sys.exit(1)


def _print_report(report: IngestReport, *, as_json: bool, quiet: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif not quiet:
        click.echo(
            f"run {report.run_id}: {report.files} file(s), {report.added} article(s) added "
            f"({report.near_duplicates} near-duplicate), {report.duplicates} exact duplicate(s) linked, "
            f"{report.skipped} already stored, {report.failed} failed, {report.chunks} chunk(s)"
        )
    for where, error in report.errors:
        click.secho(f"error: {safe(_error_line(where, error))}", err=True, fg="red")


def _error_line(where: str, error: str) -> str:
    return error if error.startswith(where) else f"{where}: {error}"


class _Terminated(KeyboardInterrupt):
    """SIGTERM (cron's timeout, a shutdown), handled like Ctrl-C so the run is recorded as interrupted."""

    signum = signal.SIGTERM


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise _Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class RunLog:
    """``--log-file``: one line per run, then one per error, each stamped with the time and the db."""

    def __init__(self, path: Path | None, db_path: Path) -> None:
        self.path = path.expanduser() if path is not None else None
        self.db_path = db_path

    def write(self, lines: list[str]) -> None:
        """Append ``lines`` (newlines inside them are flattened); creates the parent folders."""
        if self.path is None:
            return
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        text = "".join(f"{stamp} db={self.db_path} {' '.join(line.split())}\n" for line in lines)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(text)
        except OSError as exc:
            raise click.ClickException(f"cannot write the log file {self.path}: {exc.strerror or exc}") from None

    def write_report(self, report: IngestReport) -> None:
        """The run's summary line and one line per error."""
        status = "partial" if report.errors else "ok"
        counts = " ".join(
            f"{name}={getattr(report, name)}"
            for name in ("files", "added", "near_duplicates", "duplicates", "skipped", "failed", "chunks")
        )
        lines = [f"run {report.run_id} {status}: {counts}"]
        lines += [f"run {report.run_id} error: {_error_line(where, error)}" for where, error in report.errors]
        self.write(lines)


def _parse_fields(fields: tuple[str, ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in fields:
        key, sep, name = item.partition("=")
        if not sep or not key or not name:
            raise click.BadParameter(f"{item!r}: use KEY=NAME, e.g. text=body", param_hint="--field")
        mapping[key.strip()] = name.strip()
    return mapping
