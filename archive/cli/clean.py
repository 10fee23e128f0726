"""`archive clean` and `archive boilerplate`: the outlet furniture learned from the archive itself."""

from __future__ import annotations

import json

import click

from archive.cli import cli
from archive.cli.common import db_options, friendly_errors, opened
from archive.cli.render import echo_report, print_boilerplate, progress_bar


@cli.command()
@db_options
@click.option("--wait", type=click.FloatRange(0, 86400), default=0, help="Seconds to wait for another writer.")
@click.option("--quiet", is_flag=True, help="No progress counter.")
@click.option("--relearn", is_flag=True, help="Count the sentences of every stored story again before cleaning.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def clean(
    db: str | None, model: str | None, home: str | None, wait: float, quiet: bool, relearn: bool, as_json: bool
) -> None:
    """Remove learned boilerplate and newsroom furniture from stored articles.

    What was learned since the articles were stored, and furniture found by its form
    (editorial notes, reader call-outs, staff bios, promos).

    Article ids stay; only articles that change are re-chunked, and only their
    new passages are embedded. Safe to rerun: a second run changes nothing.

    \b
    Examples:
      archive clean
      archive boilerplate --outlet "Daily Mirror"    # what it removes
    """
    with opened(db, model, home) as archive, progress_bar("re-cleaning", quiet or as_json) as bar, friendly_errors():
        report = archive.clean(progress=bar, wait=wait, relearn=relearn)
    echo_report(
        report,
        as_json,
        f"{report.articles} article(s) checked, {report.changed} changed, {report.sentences} sentence(s) removed; "
        f"{report.passages_kept} passage(s) kept, {report.passages_embedded} embedded",
    )


@cli.command()
@db_options
@click.option("--outlet", help="Only this outlet.")
@click.option("--json", "as_json", is_flag=True, help="Print the sentences as JSON.")
def boilerplate(db: str | None, model: str | None, home: str | None, outlet: str | None, as_json: bool) -> None:
    """List the sentences learned as outlet furniture, per outlet, with how many stories held them.

    A sentence is learned when one outlet prints it in several distinct stories published
    weeks apart; copies of one story count once.

    \b
    Examples:
      archive boilerplate
      archive boilerplate --outlet Reuters --json
    """
    with opened(db, model, home) as archive, friendly_errors():
        learned = archive.boilerplate(outlet)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in learned], indent=2, ensure_ascii=False))
    else:
        print_boilerplate(learned)
