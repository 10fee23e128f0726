"""`archive feeds add | list | remove | poll`: follow RSS/Atom feeds."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from archive.cli import cli
from archive.cli.common import db_options, opened
from archive.cli.ops import wait_option
from archive.cli.render import safe, wrap

if TYPE_CHECKING:
    from archive.feeds.poll import FeedInfo, FeedPollResult

_ALLOW_PRIVATE_HELP = (
    "Allow loopback, private and link-local addresses (your own network); refused by default "
    "[env ARCHIVE_ALLOW_PRIVATE=1]."
)


@cli.group()
def feeds() -> None:
    """Follow RSS/Atom feeds and ingest their new entries (safe to run from cron)."""


@feeds.command("add")
@click.argument("url")
@db_options
@click.option("--outlet", help="Outlet name for the feed's articles (default: the feed's title).")
@wait_option
@click.option("--allow-private", is_flag=True, default=None, help=_ALLOW_PRIVATE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the feed as JSON.")
def feeds_add(
    url: str,
    db: str | None,
    model: str | None,
    home: str | None,
    outlet: str | None,
    wait: float,
    allow_private: bool | None,
    as_json: bool,
) -> None:
    """Follow the feed at URL (http(s), file:// or a file path), after fetching it once.

    \b
    Examples:
      archive feeds add https://example.org/world/rss.xml --outlet "Example News"
      archive feeds add exports/wire.xml --outlet Wire
      archive feeds add http://10.0.0.5/wire.xml --allow-private
    """
    with opened(db, model, home, create=True) as archive:
        info = archive.add_feed(url, outlet=outlet, wait=wait, allow_private=allow_private)
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(safe(f"feed {info.id}: {info.url} ({info.outlet or 'no outlet'})"))


@feeds.command("list")
@db_options
@click.option("--json", "as_json", is_flag=True, help="Print the feeds as a JSON array.")
def feeds_list(db: str | None, model: str | None, home: str | None, as_json: bool) -> None:
    """List followed feeds with their last poll.

    \b
    Example:
      archive feeds list --json
    """
    with opened(db, model, home) as archive:
        infos = archive.feeds()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2, ensure_ascii=False))
        return
    if not infos:
        click.echo("no feeds: add one with `archive feeds add URL --outlet NAME`")
    for info in infos:
        _print_feed(info)


def _print_feed(info: FeedInfo) -> None:
    click.secho(wrap(safe(f"[{info.id}] {info.outlet or 'no outlet'}  {info.url}"), subsequent="    "), bold=True)
    polled = info.last_polled_at or "never"
    status = f": {info.last_status}" if info.last_status else ""
    click.echo(safe(f"    {info.items_seen} entries seen; last polled {polled}{status}"))


@feeds.command("remove")
@click.argument("feed_id", type=int)
@db_options
@wait_option
@click.option("--json", "as_json", is_flag=True, help="Print the removed feed as JSON.")
def feeds_remove(feed_id: int, db: str | None, model: str | None, home: str | None, wait: float, as_json: bool) -> None:
    """Stop following a feed (the articles it brought stay in the archive).

    \b
    Example:
      archive feeds remove 3
    """
    with opened(db, model, home) as archive:
        info = archive.remove_feed(feed_id, wait=wait)
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(safe(f"removed feed {info.id}: {info.url}"))


@feeds.command("poll")
@db_options
@click.option("--fetch-pages", is_flag=True, help="Download each new entry's page and use its article text.")
@click.option("--feed", "feed_ids", type=int, multiple=True, metavar="ID", help="Poll only this feed (repeatable).")
@wait_option
@click.option("--allow-private", is_flag=True, default=None, help=_ALLOW_PRIVATE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one result per feed as a JSON array.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def feeds_poll(
    db: str | None,
    model: str | None,
    home: str | None,
    fetch_pages: bool,
    feed_ids: tuple[int, ...],
    wait: float,
    allow_private: bool | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Ingest the new entries of every followed feed.

    Only entries not seen before are ingested (a conditional GET skips
    unchanged feeds). A failing feed is reported and the others continue; the
    exit code is 1 if any feed failed.

    \b
    Examples:
      archive feeds poll
      archive feeds poll --fetch-pages --wait 60 --json
    """
    show = None if (as_json or quiet) else _print_result
    with opened(db, model, home) as archive:
        results = archive.poll_feeds(
            fetch_pages=fetch_pages,
            feed_ids=list(feed_ids) or None,
            wait=wait,
            on_feed=show,
            allow_private=allow_private,
        )
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
    elif not results and not quiet:
        click.echo("no feeds to poll: add one with `archive feeds add URL --outlet NAME`")
    for result in results:
        _print_errors(result)
    if not all(r.ok for r in results):
        sys.exit(1)


def _print_result(result: FeedPollResult) -> None:
    if result.status != "error":  # errors go to stderr once the poll is done
        click.echo(safe(f"feed {result.feed_id} {result.url}: {result.summary()}"))


def _print_errors(result: FeedPollResult) -> None:
    if result.error:
        click.secho(safe(f"error: feed {result.feed_id}: {result.error}"), err=True, fg="red")
    for where, error in result.errors:
        click.secho(
            safe(f"error: feed {result.feed_id}: {error if error.startswith(where) else f'{where}: {error}'}"),
            err=True,
            fg="red",
        )
