"""RSS/Atom feeds over HTTP: fetch them (with conditional GET), fetch their pages.

Parsing is :mod:`archive.ingest.feed_entries` (files on disk are read the same way).

The HTTP itself (address checks, deadline, size cap) is :mod:`archive.feeds.fetch`;
every failure is an :class:`IngestError` that names the URL.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from pathlib import Path

from archive.errors import IngestError
from archive.feeds.fetch import MAX_RESPONSE_BYTES, FetchLimits, http_get
from archive.ingest.feed_entries import FeedEntry, ParsedFeed, entry_to_article, parse_feed, parse_feed_data
from archive.ingest.files import read_regular_file
from archive.ingest.html import extract_article
from archive.ingest.records import RawArticle

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


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
    feed = parse_feed_data(body, origin=url, content_type=response_headers.get("Content-Type"))
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


__all__ = ["FeedEntry", "ParsedFeed", "entry_to_article", "fetch_feed", "fetch_page", "parse_feed"]
