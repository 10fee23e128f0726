"""`archive ingest`: read files and directories into the archive."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archive.cli import cli
from archive.cli.common import db_options, friendly_errors, opened
from archive.ingest.prepare import IngestOptions
from archive.render import progress_bar


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_options
@click.option("--outlet", help="Outlet name for every article read (overrides the files' own).")
@click.option("--field", "fields", multiple=True, metavar="KEY=NAME", help="Map a record field, e.g. --field text=body --field published=pub_date.")
@click.option("--max-tokens", type=int, default=None, help="Largest chunk in model tokens (default min(model limit, 128)).")
@click.option("--overlap", type=int, default=24, show_default=True, help="Tokens of overlap between chunks.")
@click.option("--near-threshold", type=float, default=0.5, show_default=True, help="MinHash Jaccard above which an article is a near-duplicate.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def ingest(paths: tuple[Path, ...], db: str | None, model: str | None, home: str | None, outlet: str | None,
           fields: tuple[str, ...], max_tokens: int | None, overlap: int, near_threshold: float, as_json: bool, quiet: bool) -> None:
    """Ingest .txt/.md, .jsonl/.json, .csv (and .gz) files or whole directories.

    Re-running on the same files adds nothing. A bad file is reported and the
    rest continue; the exit code is 1 if any input failed.

    \b
    Examples:
      archive ingest news.jsonl.gz
      archive ingest exports/ --outlet "Kyiv Independent"
      archive ingest dump.csv --field text=article_content --field title=article_title
    """
    field_map = _parse_fields(fields)
    options = IngestOptions(max_tokens=max_tokens, overlap_tokens=overlap, near_threshold=near_threshold)
    with opened(db, model, home) as archive, progress_bar("ingesting", quiet or as_json) as bar:
        with friendly_errors():
            report = archive.ingest(list(paths), outlet=outlet, field_map=field_map, options=options,
                                    progress=bar, command=" ".join(sys.argv[1:]) or "ingest")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif not quiet:
        click.echo(
            f"run {report.run_id}: {report.files} file(s), {report.added} article(s) added "
            f"({report.near_duplicates} near-duplicate), {report.duplicates} exact duplicate(s) linked, "
            f"{report.skipped} already stored, {report.failed} failed, {report.chunks} chunk(s)"
        )
    for where, error in report.errors:
        click.secho(f"error: {error}" if error.startswith(where) else f"error: {where}: {error}", err=True, fg="red")
    if report.errors:
        sys.exit(1)


def _parse_fields(fields: tuple[str, ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in fields:
        key, sep, name = item.partition("=")
        if not sep or not key or not name:
            raise click.BadParameter(f"{item!r}: use KEY=NAME, e.g. text=body", param_hint="--field")
        mapping[key.strip()] = name.strip()
    return mapping
