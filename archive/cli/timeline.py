"""`archive timeline` (matching articles over time) and `archive outlets` (who is in the archive)."""

from __future__ import annotations

import json

import click

from archive.cli import cli
from archive.cli.common import db_options, friendly_errors, opened
from archive.cli.tables import print_outlets, print_timeline, timeline_csv


@cli.command()
@click.argument("query")
@db_options
@click.option("--by", type=click.Choice(["day", "week", "month"]), default="month", show_default=True)
@click.option(
    "--mode",
    type=click.Choice(["keyword", "semantic", "hybrid"]),
    default="keyword",
    show_default=True,
    help="keyword: every article containing every query word; semantic/hybrid: the articles of the best --limit passages.",
)
@click.option(
    "--limit", type=click.IntRange(1, 4096), default=1000, show_default=True, help="Passages, for semantic/hybrid."
)
@click.option("--since", help="Only articles published on/after this date (YYYY, YYYY-MM or YYYY-MM-DD).")
@click.option("--until", help="Only articles published on/before this date (inclusive).")
@click.option("--outlet", "outlets", multiple=True, help="Only these outlets (repeatable).")
@click.option("--language", help="Only articles in this language (where known).")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: bucket, articles, one column per outlet.")
def timeline(
    query: str,
    db: str | None,
    model: str | None,
    home: str | None,
    by: str,
    mode: str,
    limit: int,
    since: str | None,
    until: str | None,
    outlets: tuple[str, ...],
    language: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Matching articles per day, week or month and per outlet, with the earliest report marked.

    Counts articles, not passages; exact copies count under their own outlet and date.

    \b
    Examples:
      archive timeline "Bucha" --by week
      archive timeline "grain deal" --since 2022-06 --outlet Reuters --outlet BBC --csv > grain.csv
      archive timeline "attack on a power plant" --mode semantic --limit 500 --json
    """
    with opened(db, model, home) as archive, friendly_errors():
        found = archive.timeline(
            query,
            by=by,
            mode=mode,
            limit=limit,
            since=since,
            until=until,
            outlets=list(outlets) or None,
            language=language,
        )
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
    elif as_csv:
        click.echo(timeline_csv(found), nl=False)
    else:
        print_timeline(found)


@cli.command()
@db_options
@click.option("--json", "as_json", is_flag=True, help="Print the outlets as a JSON array.")
def outlets(db: str | None, model: str | None, home: str | None, as_json: bool) -> None:
    """Every outlet with its number of articles and first/last publication date.

    \b
    Examples:
      archive outlets
      archive outlets --json | jq '.[].name'
    """
    with opened(db, model, home) as archive, friendly_errors():
        found = archive.outlets()
    if as_json:
        click.echo(json.dumps([o.to_dict() for o in found], indent=2, ensure_ascii=False))
    else:
        print_outlets(found)
