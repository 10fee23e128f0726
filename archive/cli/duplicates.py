"""`archive duplicates`: duplicate groups, every copy with its outlet."""

from __future__ import annotations

import json

import click

from archive.cli import cli
from archive.cli.common import db_options, friendly_errors, opened
from archive.cli.render import print_duplicate_groups


@cli.command()
@click.argument("article_id", type=int, required=False)
@db_options
@click.option("-n", "--limit", type=click.IntRange(1), default=20, show_default=True, help="Most groups to list.")
@click.option("--json", "as_json", is_flag=True, help="Print groups as JSON.")
def duplicates(
    article_id: int | None, db: str | None, model: str | None, home: str | None, limit: int, as_json: bool
) -> None:
    """Show duplicate groups: a canonical article and its exact and near copies.

    Without ARTICLE_ID, the largest groups; with it, the group that article is in.

    \b
    Examples:
      archive duplicates -n 5
      archive duplicates 42 --json
    """
    with opened(db, model, home) as archive, friendly_errors():
        groups = archive.duplicates(article_id, limit=limit)
    if as_json:
        click.echo(json.dumps([g.to_dict() for g in groups], indent=2, ensure_ascii=False))
    else:
        print_duplicate_groups(groups)
