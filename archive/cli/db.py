"""`archive db upgrade`, `archive db check` and `archive stats`."""

from __future__ import annotations

import json

import click

from archive.cli import cli
from archive.cli.common import db_options, friendly_errors, opened


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@db_options
def db_upgrade(db: str | None, model: str | None, home: str | None) -> None:
    """Create the database or bring its schema to the latest revision.

    \b
    Example:
      archive db upgrade -d news.db
    """
    from archive.ops.schema import upgrade_path

    with friendly_errors():
        revision = upgrade_path(db, model=model, home=home)
    click.echo(f"schema at revision {revision}")


@db.command("check")
@db_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def db_check(db: str | None, model: str | None, home: str | None, as_json: bool) -> None:
    """Compare the database's schema with this version's models (alembic check); exit 1 on drift.

    Runs the migrations installed with this package, so it works from a wheel as
    well as from a checkout (where `alembic -x db=PATH check` does the same).

    \b
    Example:
      archive db check -d news.db
    """
    from archive.ops.schema import check_path

    with friendly_errors():
        result = check_path(db, home=home)
    if as_json:
        click.echo(json.dumps({"revision": result.revision, "ok": result.ok, "differences": result.differences}))
    elif result.ok:
        click.echo(f"schema at revision {result.revision}: no drift from the models")
    else:
        click.echo(f"schema at revision {result.revision} differs from the models:")
        for difference in result.differences:
            click.echo(f"  {difference}")
    if not result.ok:
        raise SystemExit(1)


@cli.command()
@db_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def stats(db: str | None, model: str | None, home: str | None, as_json: bool) -> None:
    """Counts of articles, chunks, outlets and duplicates; date span; size; model.

    "precision" says what the vectors were computed in (float32, bfloat16, or both).

    \b
    Example:
      archive stats --json
    """
    with opened(db, model, home) as archive:
        data = archive.stats()
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        for key, value in data.items():
            click.echo(f"{key:>20}: {value}")
