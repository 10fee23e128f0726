"""Feeds the archive follows: add, list, remove, and poll them for new entries.

A poll sends a conditional GET (the ETag / Last-Modified of the previous one),
ingests only entries whose guid it has not seen through
:meth:`Archive.ingest_records` (so deduplication and run records apply), then
remembers those guids. A failing feed is reported and the others continue.
Entries that fail (no text, a page that cannot be fetched) are not remembered,
so the next poll tries them again.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from archive.config import Settings
from archive.errors import ArchiveError, FeedError, IngestError, NotFoundError
from archive.feeds.parse import FeedEntry, entry_to_article, fetch_feed, fetch_page
from archive.ingest.records import RawArticle
from archive.results import IngestReport
from archive.store.interface import Store
from archive.store.models import Feed


class Archive(Protocol):
    """What feed polling needs of :class:`archive.Archive` (named here so feeds never import the facade)."""

    settings: Settings

    def store(self) -> Store: ...

    def ingest_records(
        self, records: Iterable[RawArticle | IngestError], *, command: str = ..., report: IngestReport | None = ...
    ) -> IngestReport: ...


FETCH_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class FeedInfo:
    """A followed feed and the outcome of its last poll."""

    id: int
    url: str
    outlet: str | None
    added_at: str | None
    last_polled_at: str | None
    last_status: str | None
    items_seen: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; the id is ``feed_id``, as in a poll's results."""
        data = asdict(self)
        return {"feed_id": data.pop("id"), **data}


@dataclass
class FeedPollResult:
    """What one poll did to one feed; ``status`` is ok, not_modified, partial or error."""

    feed_id: int
    url: str
    status: str = "ok"
    entries: int = 0
    new: int = 0
    added: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    chunks: int = 0
    run_id: int | None = None
    error: str | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "not_modified")

    def summary(self) -> str:
        """One line for ``feeds list`` and the feed's ``last_status``."""
        if self.status == "error":
            return f"error: {self.error}"
        if self.status == "not_modified":
            return "not modified"
        text = f"{self.status}: {self.entries} entries, {self.new} new, {self.added} added"
        return text + (f", {self.failed} failed" if self.failed else "")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = [{"where": w, "error": e} for w, e in self.errors]
        return data


def normalize_feed_url(url: str) -> str:
    """http(s) and file:// URLs as given; a local path made absolute (cron runs elsewhere)."""
    text = url.strip()
    scheme = urllib.parse.urlsplit(text).scheme
    if scheme in ("http", "https", "file") or (scheme and len(scheme) > 1):
        return text
    return str(Path(text).expanduser().resolve())


def add_feed(
    archive: Archive, url: str, *, outlet: str | None = None, wait: float = 0, allow_private: bool | None = None
) -> FeedInfo:
    """Follow the feed at ``url`` after checking that it can be fetched and parsed.

    Without ``outlet`` the feed's own title names the outlet. Raises FeedError when it cannot be read, is not RSS/Atom or is already followed.
    ``allow_private`` (default: the ``allow_private_networks`` setting) lets it reach loopback and private addresses.
    """
    target = normalize_feed_url(url)
    try:
        parsed = fetch_feed(target, timeout=FETCH_TIMEOUT_S, allow_private=_allowed(archive, allow_private))
    except IngestError as exc:
        hint = "check the URL (http://, https://, file:// or a file path)"
        raise FeedError(f"cannot add feed: {exc}; {hint}") from None
    store = archive.store()
    with store.writer_lock(wait=wait), store.writer() as writer:
        for feed in writer.feeds():
            if feed.url == target:
                raise FeedError(f"{target} is already followed as feed {feed.id}: see `archive feeds list`")
        feed_id = writer.add_feed(target, outlet or parsed.title)
    return _info(archive, feed_id)


def list_feeds(archive: Archive) -> list[FeedInfo]:
    """Every followed feed, by id."""
    with archive.store().reader() as reader:
        seen = reader.feed_item_counts()
        return [_to_info(feed, seen.get(feed.id, 0)) for feed in reader.feeds()]


def remove_feed(archive: Archive, feed_id: int, *, wait: float = 0) -> FeedInfo:
    """Stop following a feed (its articles stay); raises NotFoundError for an unknown id."""
    info = _info(archive, feed_id)
    store = archive.store()
    with store.writer_lock(wait=wait), store.writer() as writer:
        writer.delete_feed(feed_id)
    return info


def poll_feeds(
    archive: Archive,
    *,
    fetch_pages: bool = False,
    feed_ids: Sequence[int] | None = None,
    wait: float = 0,
    timeout: float = FETCH_TIMEOUT_S,
    on_feed: Callable[[FeedPollResult], None] | None = None,
    allow_private: bool | None = None,
) -> list[FeedPollResult]:
    """Poll every feed (or ``feed_ids``) once, under the writer lock; one result per feed.

    With ``fetch_pages`` each new entry's page is downloaded and its article
    text used instead of the feed's (often a teaser). Feeds and pages on
    loopback or private addresses are refused unless ``allow_private`` (default:
    the ``allow_private_networks`` setting).
    """
    net = _Net(timeout, _allowed(archive, allow_private))
    results: list[FeedPollResult] = []
    store = archive.store()
    with store.writer_lock(wait=wait):
        with store.reader() as reader:
            feeds = [f for f in reader.feeds() if feed_ids is None or f.id in feed_ids]
        missing = set(feed_ids or ()) - {f.id for f in feeds}
        if missing:
            raise NotFoundError(f"no feed with id {min(missing)}: see `archive feeds list`")
        for feed in feeds:
            result = _poll_one(archive, feed, fetch_pages=fetch_pages, net=net)
            results.append(result)
            if on_feed is not None:
                on_feed(result)
    return results


@dataclass(frozen=True)
class _Net:
    timeout: float
    allow_private: bool


def _allowed(archive: Archive, allow_private: bool | None) -> bool:
    return archive.settings.allow_private_networks if allow_private is None else allow_private


def _poll_one(archive: Archive, feed: Feed, *, fetch_pages: bool, net: _Net) -> FeedPollResult:
    result = FeedPollResult(feed.id, feed.url)
    etag, modified = feed.etag, feed.modified
    done: list[tuple[str, int | None]] = []
    try:
        parsed = fetch_feed(
            feed.url, etag=etag, modified=modified, timeout=net.timeout, allow_private=net.allow_private
        )
        etag, modified = parsed.etag, parsed.modified
        if parsed.not_modified:
            result.status = "not_modified"
        else:
            result.entries = len(parsed.entries)
            done = _ingest_new(archive, feed, parsed.entries, result, fetch_pages=fetch_pages, net=net)
    except ArchiveError as exc:
        result.status, result.error = "error", str(exc)
    with archive.store().writer() as writer:
        writer.record_feed_items(feed.id, done)
        writer.update_feed(feed.id, status=result.summary(), etag=etag, modified=modified)
    return result


def _ingest_new(
    archive: Archive,
    feed: Feed,
    entries: list[FeedEntry],
    result: FeedPollResult,
    *,
    fetch_pages: bool,
    net: _Net,
) -> list[tuple[str, int | None]]:
    """Ingest the entries not seen before; returns (guid, article id) of those that went in."""
    unique: dict[str, FeedEntry] = {}
    for entry in entries:
        unique.setdefault(entry.guid, entry)
    with archive.store().reader() as reader:
        seen = reader.seen_guids(feed.id, list(unique))
    new = [e for e in unique.values() if e.guid not in seen]
    result.new = len(new)
    if not new:
        return []
    report = IngestReport()
    done: list[FeedEntry] = []

    def records() -> Iterator[RawArticle | IngestError]:
        for entry in new:
            failed_before = report.failed
            yield _record(entry, feed.outlet, fetch_pages=fetch_pages, net=net)
            # ingest_records has handled the record by the time it asks for the next one.
            if report.failed == failed_before:
                done.append(entry)

    archive.ingest_records(records(), command=f"feeds poll {feed.url}", report=report)
    _copy_counts(report, result)
    with archive.store().reader() as reader:
        by_origin = reader.articles_of_run(report.run_id) if report.run_id is not None else {}
    return [(e.guid, by_origin.get(e.url or e.guid)) for e in done]


def _record(entry: FeedEntry, outlet: str | None, *, fetch_pages: bool, net: _Net) -> RawArticle | IngestError:
    try:
        page = (
            fetch_page(entry.url, timeout=net.timeout, allow_private=net.allow_private)
            if fetch_pages and entry.url
            else None
        )
        return entry_to_article(entry, outlet=outlet, page=page)
    except IngestError as exc:
        return exc


def _copy_counts(report: IngestReport, result: FeedPollResult) -> None:
    result.added, result.duplicates, result.skipped = report.added, report.duplicates, report.skipped
    result.failed, result.chunks, result.run_id = report.failed, report.chunks, report.run_id
    result.errors = list(report.errors)
    result.status = "partial" if report.errors else "ok"


def _info(archive: Archive, feed_id: int) -> FeedInfo:
    with archive.store().reader() as reader:
        feed = reader.feed(feed_id)
        if feed is None:
            raise NotFoundError(f"no feed with id {feed_id}: see `archive feeds list`")
        return _to_info(feed, reader.feed_item_counts().get(feed_id, 0))


def _to_info(feed: Feed, items_seen: int) -> FeedInfo:
    return FeedInfo(
        id=feed.id,
        url=feed.url,
        outlet=feed.outlet,
        added_at=_iso(feed.added_at),
        last_polled_at=_iso(feed.last_polled_at),
        last_status=feed.last_status,
        items_seen=items_seen,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
