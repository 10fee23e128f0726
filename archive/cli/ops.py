"""`archive doctor`, `delete`, `reembed`, `vacuum` and `backup`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from archive.cli import cli
from archive.cli.common import (
    MAX_WAIT_S,
    FiniteFloat,
    db_option,
    db_options,
    friendly_errors,
    home_option,
    opened,
    to_click_error,
)
from archive.cli.render import echo_report, progress_bar, wrap
from archive.config import Settings
from archive.errors import ArchiveNotFoundError

if TYPE_CHECKING:
    from archive.ops import DoctorReport
    from archive.results import Source

F = TypeVar("F", bound=Callable[..., Any])
_COLOURS = {"ok": "green", "warn": "yellow", "fail": "red"}


def wait_option(func: F) -> F:
    """--wait SECONDS for commands that write."""
    return click.option(
        "--wait",
        type=FiniteFloat(0, MAX_WAIT_S),
        default=0,
        show_default=True,
        metavar="SECONDS",
        help="Wait this long for another writer (ingest, feeds poll) instead of exiting 75 at once.",
    )(func)


def _json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(func)


def _db_and_home(func: F) -> F:
    """-d/--db and --home without --model: these commands never load the archive's model."""
    return db_option(home_option(func))


@cli.command()
@_db_and_home
@_json_option
def doctor(db: str | None, home: str | None, as_json: bool) -> None:
    """Check the archive: driver, sqlite-vec, schema, model file, index counts, links.

    Each check prints ok, warn or fail with a one-line fix. The exit code is 1
    when any check fails, so it can guard a cron job or a deploy.

    \b
    Examples:
      archive doctor -d news.db
      archive doctor --json
    """
    from archive.ops import diagnose

    with friendly_errors():
        settings = Settings.resolve(db=db, home=home)
        report = diagnose(settings.db_location, home=settings.home)
    missing = not settings.db_exists
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif missing:  # exit 2 like every reading command pointed at a missing file
        path = settings.db_path
        raise to_click_error(
            ArchiveNotFoundError(f"no archive at {path} (create it with: archive ingest -d {path} FILES)")
        )
    else:
        _print_doctor(report)
    if not report.ok:
        sys.exit(2 if missing else 1)


def _print_doctor(report: DoctorReport) -> None:
    click.echo(f"archive {report.db_path}")
    for check in report.checks:
        status = click.style(f"{check.status:>5}", fg=_COLOURS.get(check.status), bold=True)
        line = wrap(f"{check.status:>5}  {check.name}: {check.detail}", subsequent=" " * 7)
        click.echo(status + line[5:])
        if check.fix:
            click.echo(wrap(f"fix: {check.fix}", " " * 7, " " * 12))


@cli.command()
@db_options
@click.option("--article", "ids", type=int, multiple=True, metavar="ID", help="Delete this article (repeatable).")
@click.option("--outlet", "outlets", multiple=True, metavar="NAME", help="Delete this outlet's articles (repeatable).")
@click.option("--before", metavar="DATE", help="Only articles published before DATE (YYYY, YYYY-MM or YYYY-MM-DD).")
@click.option("--after", metavar="DATE", help="Only articles published after DATE (a month or year counts whole).")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option("-y", "--yes", is_flag=True, help="Delete more than one article without asking.")
@wait_option
@_json_option
def delete(
    db: str | None,
    model: str | None,
    home: str | None,
    ids: tuple[int, ...],
    outlets: tuple[str, ...],
    before: str | None,
    after: str | None,
    dry_run: bool,
    yes: bool,
    wait: float,
    as_json: bool,
) -> None:
    """Delete articles with their passages, vectors and exact copies.

    Filters combine: --outlet X --before 2022 deletes X's articles from before
    2022. More than one article needs --yes (asked interactively on a terminal).
    Run `archive vacuum` afterwards to give the space back to the disk.

    \b
    Examples:
      archive delete --article 42
      archive delete --outlet "Example Wire" --before 2022-03 --dry-run
      archive delete --after 2024-01-31 --yes --json
    """
    with opened(db, model, home) as archive, friendly_errors():
        articles = archive.select_for_delete(ids=ids, outlets=outlets, before=before, after=after)
        if articles and not dry_run and len(articles) > 1 and not yes:
            _confirm(len(articles), articles, as_json)
        deleted = 0 if dry_run else archive.delete_articles([a.article_id for a in articles], wait=wait)
    if as_json:
        from archive.ops import DeleteReport

        click.echo(json.dumps(DeleteReport(articles, deleted, dry_run).to_dict(), indent=2, ensure_ascii=False))
        return
    if not articles:
        click.echo("no article matches")
        return
    if dry_run:
        _print_articles(articles)
        click.echo(f"would delete {len(articles)} article(s); nothing deleted (--dry-run)")
    else:
        click.echo(f"deleted {deleted} article(s); run `archive vacuum` to shrink the file")


def _confirm(count: int, articles: tuple[Source, ...], as_json: bool) -> None:
    if not sys.stdin.isatty():
        raise click.ClickException(
            f"{count} articles match: pass --yes to delete them (or --dry-run to list them first)"
        )
    if not as_json:
        _print_articles(articles)
    click.confirm(f"delete these {count} articles?", abort=True, err=True)


def _print_articles(articles: tuple[Source, ...]) -> None:
    for a in articles[:50]:
        kind = f" [{a.duplicate_kind} copy]" if a.duplicate_kind else ""
        when = (a.published or "undated")[:10]
        click.echo(f"  #{a.article_id}{kind} {a.outlet or 'unknown outlet'} | {when} | {a.title or '(untitled)'}")
    if len(articles) > 50:
        click.echo(f"  … and {len(articles) - 50} more")


@cli.command()
@_db_and_home
@click.option("--model", help="The model to move to: a name, a local path, or fake:<dim> for tests.")
@click.option(
    "--articles",
    "articles_only",
    is_flag=True,
    help="Only give articles stored without an article vector theirs, with the archive's own model.",
)
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True, help="Texts per model call.")
@wait_option
@_json_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def reembed(
    db: str | None,
    home: str | None,
    model: str | None,
    articles_only: bool,
    batch_size: int,
    wait: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Embed every passage with another model and switch the archive to it.

    The old vectors keep serving searches until the new ones are complete; the
    switch is one transaction. If it is interrupted, the old model stays active
    and the next reembed starts over.

    With --articles, only the article vectors (headline and lead, one per
    article) that an archive stored before they existed lacks are embedded,
    with the archive's own model (ARCHIVE_MODEL names it if needed);
    search ranks by them once every article has one. Rerunning goes on where
    an interrupted run stopped.

    \b
    Examples:
      archive reembed --model sentence-transformers/all-mpnet-base-v2 -d news.db
      archive reembed --articles -d news.db
    """
    if (model is None) == (not articles_only):
        raise click.UsageError("give either --model MODEL (move to another model) or --articles")
    if articles_only:
        with opened(db, None, home) as archive, progress_bar("embedding articles", quiet or as_json) as bar:
            filled = archive.embed_articles(batch_size=batch_size, progress=bar, wait=wait)
        echo_report(
            filled,
            as_json,
            f"embedded {filled.embedded} article vector(s) with {filled.model} into {filled.table}; "
            f"{filled.already} article(s) already had one",
        )
        return
    assert model is not None
    from archive.ops import reembed_database

    settings = Settings.resolve(db=db, home=home)
    with friendly_errors(), progress_bar("reembedding", quiet or as_json) as bar:
        report = reembed_database(
            settings.db_location, model, home=settings.home, batch_size=batch_size, progress=bar, wait=wait
        )
    echo_report(
        report,
        as_json,
        f"re-embedded {report.chunks} passage(s) with {report.model} ({report.dimension}-d) into "
        f"{report.table}; replaced {report.old_model} ({report.old_table})",
    )


@cli.command()
@db_options
@wait_option
@_json_option
def vacuum(db: str | None, model: str | None, home: str | None, wait: float, as_json: bool) -> None:
    """Compact the database file and the keyword index; empty the WAL.

    \b
    Example:
      archive vacuum -d news.db
    """
    with opened(db, model, home) as archive, friendly_errors():
        report = archive.vacuum(wait=wait)
    echo_report(
        report,
        as_json,
        f"{_mb(report.bytes_before)} -> {_mb(report.bytes_after)} "
        f"({_mb(report.bytes_before - report.bytes_after)} freed)",
    )


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False))
@db_options
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@_json_option
def backup(path: str, db: str | None, model: str | None, home: str | None, force: bool, as_json: bool) -> None:
    """Copy the archive to PATH while it stays in use (SQLite online backup; pg_dump on PostgreSQL).

    \b
    Examples:
      archive backup backups/news-$(date +%F).db -d news.db
      archive backup backups/news.dump -d postgresql://archive@db/news   # restore with pg_restore
    """
    with opened(db, model, home) as archive, friendly_errors():
        report = archive.backup(path, force=force)
    echo_report(report, as_json, f"backed up to {report.path} ({_mb(report.bytes)})")


@cli.command()
@click.argument("source")
@click.argument("target")
@_json_option
def copy(source: str, target: str, as_json: bool) -> None:
    """Copy an archive into a new one on another backend (SQLite <-> PostgreSQL), vectors included.

    SOURCE and TARGET are SQLite files or postgresql:// URLs; TARGET must be new or empty.
    Ids, duplicates, runs and feeds are kept; no passage is embedded again.

    \b
    Examples:
      archive copy news.db postgresql://archive@db.example.org/news
      archive copy postgresql://archive@db.example.org/news news-copy.db
    """
    from archive.ops.copy import copy_archive

    with friendly_errors():
        report = copy_archive(source, target)
    echo_report(
        report,
        as_json,
        f"copied {report.rows.get('articles', 0)} articles, {report.rows.get('chunks', 0)} passages, "
        f"{report.vectors} passage vectors and {report.article_vectors} article vectors to {report.target}",
    )


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
