"""`archive runs`: the ingest runs recorded in the archive, and one run's errors."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from archive.cli import cli
from archive.cli.common import db_options, opened
from archive.cli.render import safe

if TYPE_CHECKING:
    from archive.store.models import IngestRun

_COUNTS = ("files", "added", "duplicates", "skipped", "failed", "chunks")
_COLOURS = {"ok": "green", "partial": "yellow", "failed": "red", "interrupted": "red", "running": "cyan"}


@cli.command()
@click.argument("run_id", type=int, required=False)
@db_options
@click.option(
    "-n", "--limit", type=click.IntRange(1), default=20, show_default=True, help="How many recent runs to list."
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON (with each run's errors).")
def runs(run_id: int | None, db: str | None, model: str | None, home: str | None, limit: int, as_json: bool) -> None:
    """List recent ingest runs (newest first), or show one run with its errors.

    A run whose process was killed shows as "interrupted"; rerunning the
    same ingest completes it (what is stored is skipped).

    \b
    Examples:
      archive runs -n 5
      archive runs 17            # counts and every error of run 17
      archive runs --json
    """
    with opened(db, model, home) as archive:
        rows = [archive.run(run_id)] if run_id is not None else archive.runs(limit)
    if as_json:
        data = [run_to_dict(row) for row in rows]
        click.echo(json.dumps(data[0] if run_id is not None else data, indent=2))
    elif run_id is not None:
        _print_run(rows[0])
    elif not rows:
        click.echo("no ingest runs yet: see `archive ingest --help`")
    else:
        _print_table(rows)


def run_to_dict(row: IngestRun) -> dict[str, Any]:
    """A run as JSON-ready data; ``errors`` decoded into a list of {"where", "error"}."""
    data: dict[str, Any] = {
        "run_id": row.id,  # the name `archive ingest --json` uses too
        "status": row.status,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "command": row.command,
        "pid": row.pid,
    }
    data.update({name: getattr(row, name) for name in _COUNTS})
    data["errors"] = decode_errors(row.errors)
    return data


def decode_errors(raw: str | None) -> list[dict[str, str]]:
    """The errors JSON of a run row (tolerant of a damaged value)."""
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return [{"where": "?", "error": raw}]
    return value if isinstance(value, list) else [{"where": "?", "error": str(value)}]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(sep=" ", timespec="seconds") if value is not None else None


def _duration(row: IngestRun) -> str:
    if row.finished_at is None or row.started_at is None:
        return "-"
    seconds = int((row.finished_at - row.started_at).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _print_table(rows: list[IngestRun]) -> None:
    click.echo(
        f"{'run':>5}  {'status':<11} {'started (UTC)':<19}  {'took':>7}  "
        f"{'files':>5} {'added':>6} {'dups':>5} {'skip':>6} {'fail':>5} {'chunks':>7}  command"
    )
    for row in rows:
        status = click.style(f"{row.status:<11}", fg=_COLOURS.get(row.status))
        click.echo(
            f"{row.id:>5}  {status} {_iso(row.started_at) or '-':<19}  {_duration(row):>7}  "
            f"{row.files:>5} {row.added:>6} {row.duplicates:>5} {row.skipped:>6} {row.failed:>5} {row.chunks:>7}  "
            f"{safe(row.command or '')}"
        )


def _print_run(row: IngestRun) -> None:
    click.secho(f"run {row.id}: ", bold=True, nl=False)
    click.secho(row.status, fg=_COLOURS.get(row.status), bold=True)
    click.echo(f"  command : {safe(row.command or '-')}")
    click.echo(f"  pid     : {row.pid or '-'}")
    click.echo(f"  started : {_iso(row.started_at) or '-'} UTC")
    click.echo(f"  finished: {_iso(row.finished_at) or '-'}{' UTC' if row.finished_at else ''} ({_duration(row)})")
    click.echo("  " + ", ".join(f"{name} {getattr(row, name)}" for name in _COUNTS))
    if row.status == "interrupted":
        click.echo("  the process ended before the run finished: rerun the same command to complete it")
    errors = decode_errors(row.errors)
    if errors:
        click.secho(f"  {len(errors)} error(s):", fg="red")
    for item in errors:
        where, error = str(item.get("where", "?")), str(item.get("error", ""))
        click.echo(safe(f"  - {error}" if error.startswith(where) else f"  - {where}: {error}"))
