"""RSS/Atom feeds: parse them, fetch them (with conditional GET), fetch their pages.

The HTTP itself (address checks, deadline, size cap) is :mod:`archive.feeds.fetch`;
every failure is an :class:`IngestError` that names the URL.
"""

from __future__ import annotations

import hashlib
import io
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.errors import IngestError
from archive.feeds.fetch import MAX_RESPONSE_BYTES, FetchLimits, http_get
from archive.ingest.files import read_regular_file
from archive.ingest.html import extract_article, html_to_text
from archive.ingest.records import RawArticle

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


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


def _parse(data: bytes | str, *, origin: str, content_type: str | None) -> ParsedFeed:
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
    return _parse(data, origin=origin, content_type=None)


def _local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or plain path names; ``None`` for http(s)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https"):
        return None
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # one letter: a Windows drive
        raise IngestError(
            f"unsupported URL scheme {parts.scheme!r}: use http://, https://, file:// or a file path",
            path=url,
        )
    return Path(url)


def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    modified: str | None = None,
    timeout: float = 20.0,
    allow_private: bool = False,
) -> ParsedFeed:
    """Fetch and parse a feed from an http(s) URL, a ``file://`` URL or a file path.

    Over HTTP, ``etag`` and ``modified`` (from the previous fetch) are sent as
    ``If-None-Match`` / ``If-Modified-Since``; a 304 answer returns
    ``not_modified=True`` with no entries. Network and HTTP errors raise
    :class:`IngestError` naming the URL; so do private addresses unless ``allow_private``.
    """
    path = _local_path(url)
    if path is not None:
        try:
            data = read_regular_file(path, max_bytes=MAX_RESPONSE_BYTES)
        except IngestError as exc:
            raise IngestError(f"cannot read feed file: {_reason(exc, path)}", path=url) from None
        return parse_feed(data, origin=url)
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    response = http_get(url, headers, _limits(timeout, allow_private))
    body, response_headers, status = response.body, response.headers, response.status
    new_etag = response_headers.get("ETag") or etag
    new_modified = response_headers.get("Last-Modified") or modified
    if status == 304:
        return ParsedFeed(None, [], new_etag, new_modified, 304, not_modified=True)
    feed = _parse(body, origin=url, content_type=response_headers.get("Content-Type"))
    return ParsedFeed(feed.title, feed.entries, new_etag, new_modified, status, not_modified=False)


def _limits(timeout: float, allow_private: bool) -> FetchLimits:
    # The whole request gets three per-read timeouts: enough for a slow server, not for a trickling one.
    return FetchLimits(timeout=timeout, deadline=3 * timeout, max_bytes=MAX_RESPONSE_BYTES, allow_private=allow_private)


def _reason(exc: IngestError, path: Path) -> str:
    return str(exc).removeprefix(f"{path}: ")


def _decode_page(body: bytes, charset: str | None) -> str:
    """Decode a page: the HTTP charset, then a ``<meta charset>``, then UTF-8, then cp1252."""
    sniffed = _META_CHARSET.search(body[:4096])
    candidates = [charset, sniffed.group(1).decode("ascii") if sniffed else None, "utf-8"]
    for encoding in candidates:
        if not encoding:
            continue
        try:
            return body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace")


def fetch_page(url: str, *, timeout: float = 20.0, allow_private: bool = False) -> RawArticle:
    """Download an http(s) page (at most 10 MB) and extract its article text.

    Raises :class:`IngestError` naming the URL on network errors, non-HTML
    responses, pages without article text and (unless ``allow_private``)
    hosts on loopback, private, link-local, multicast or unspecified addresses.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise IngestError("only http:// and https:// pages can be fetched", path=url)
    response = http_get(url, {"Accept": "text/html,application/xhtml+xml"}, _limits(timeout, allow_private))
    body, headers, final_url = response.body, response.headers, response.url
    content_type = headers.get_content_type()
    if "html" not in content_type:
        raise IngestError(f"not an HTML page (content type {content_type})", path=url)
    html = _decode_page(body, headers.get_content_charset())
    return extract_article(html, url=final_url)


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
