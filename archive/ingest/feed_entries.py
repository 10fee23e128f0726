"""RSS/Atom feed data: parse a feed's bytes into entries, turn an entry into an article. Pure.

Feeds reach ingest two ways: ``.xml``/``.rss``/``.atom`` files read from disk
(:mod:`archive.ingest.readers`) and followed feeds polled over HTTP (:mod:`archive.feeds`).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from archive.errors import IngestError
from archive.ingest.html import html_to_text
from archive.ingest.records import RawArticle


@dataclass(frozen=True)
class FeedEntry:
    """One feed item; ``summary_text`` and ``content_text`` are plain text (HTML stripped)."""

    guid: str
    url: str | None
    title: str | None
    published: str | None  # as the feed wrote it
    summary_text: str | None
    content_text: str | None


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed plus the HTTP validators to send on the next fetch."""

    title: str | None
    entries: list[FeedEntry]
    etag: str | None
    modified: str | None
    status: int | None
    not_modified: bool


def _detail_text(detail: Any, fallback: Any) -> str | None:
    """Plain text of a feedparser text construct, stripping markup only when it is HTML."""
    value = detail.get("value") if detail else fallback
    if not isinstance(value, str):
        return None
    kind = str(detail.get("type") or "") if detail else "text/html"
    text = html_to_text(value) if ("html" in kind or not kind) else value.strip()
    return text or None


def _content_text(entry: Any) -> str | None:
    """All ``<content>`` blocks of an entry joined (RSS content:encoded, Atom content)."""
    blocks = [_detail_text(block, None) for block in entry.get("content") or []]
    text = "\n".join(block for block in blocks if block)
    return text or None


def _to_entry(entry: Any) -> FeedEntry:
    title_text = _detail_text(entry.get("title_detail"), entry.get("title"))
    title = " ".join(title_text.split()) if title_text else None
    summary = _detail_text(entry.get("summary_detail"), entry.get("summary"))
    url = entry.get("link") or None
    guid = entry.get("id") or url
    if not guid:
        digest = hashlib.sha256(f"{title or ''}\n{summary or ''}".encode())
        guid = digest.hexdigest()
    return FeedEntry(
        guid=guid,
        url=url,
        title=title,
        published=entry.get("published") or entry.get("updated") or None,
        summary_text=summary,
        content_text=_content_text(entry),
    )


def parse_feed_data(data: bytes | str, *, origin: str, content_type: str | None) -> ParsedFeed:
    """:func:`parse_feed`, with the HTTP content type when the feed came over the network."""
    import feedparser  # deferred: only feed ingestion needs it

    if isinstance(data, str):
        # Text is already decoded: tell feedparser so it ignores the XML declaration.
        data, content_type = data.encode("utf-8"), "application/xml; charset=utf-8"
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    if origin.startswith(("http://", "https://")):
        headers["content-location"] = origin  # base for relative links
    # Always a stream: feedparser treats a bare string as a URL or file name.
    result = feedparser.parse(io.BytesIO(data), response_headers=headers)
    if not result.entries and (result.get("bozo") or not result.get("version")):
        problem = result.get("bozo_exception")
        detail = f" ({problem})" if problem else ""
        raise IngestError(f"not a valid RSS/Atom feed{detail}", path=origin or None)
    return ParsedFeed(
        title=result.feed.get("title") or None,
        entries=[_to_entry(entry) for entry in result.entries],
        etag=None,
        modified=None,
        status=None,
        not_modified=False,
    )


def parse_feed(data: bytes | str, *, origin: str = "") -> ParsedFeed:
    """Parse RSS or Atom from bytes (encoding detected) or already-decoded text.

    Malformed feeds are accepted as long as entries can be recovered; missing
    fields are ``None``, and an entry without id or link gets a guid hashed
    from its title and summary. Raises :class:`IngestError` ("not a valid
    RSS/Atom feed") when the data is not a feed. ``origin`` names the source
    in errors.
    """
    return parse_feed_data(data, origin=origin, content_type=None)


def entry_to_article(entry: FeedEntry, *, outlet: str | None, page: RawArticle | None = None) -> RawArticle:
    """Turn a feed entry into an article.

    The text is the fetched page's when ``page`` is given (feeds often carry
    only a teaser), else the entry's full content, else its summary. Raises
    :class:`IngestError` when the entry has no text at all.
    """
    page_text = page.text.strip() if page is not None else ""
    text = page_text or entry.content_text or entry.summary_text
    if not text:
        raise IngestError("feed entry has no text (no content or summary)", path=entry.url or entry.guid)
    return RawArticle(
        text=text,
        title=entry.title or (page.title if page else None),
        url=entry.url or (page.url if page else None),
        outlet=outlet or (page.outlet if page else None),
        published=entry.published or (page.published if page else None),
        language=page.language if page else None,
        origin=entry.url or entry.guid,
        extra={"guid": entry.guid},
    )
