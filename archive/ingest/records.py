"""The record every reader yields, before cleaning: what a source said, as it said it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawArticle:
    """One article as read from a file, feed or page, before cleaning.

    ``origin`` says where it came from for error messages and provenance,
    e.g. ``data/news.jsonl:17`` or ``https://example.org/feed.xml``.
    """

    text: str
    title: str | None = None
    url: str | None = None
    outlet: str | None = None
    published: str | None = None  # as found; normalized later by the pipeline
    language: str | None = None
    origin: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# Default field names for JSON/CSV records, in order of preference.
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "article_title", "name"),
    "text": ("text", "body", "content", "article_content", "article", "description"),
    "url": ("url", "link", "href", "source_url"),
    "outlet": ("outlet", "source", "publisher", "site", "domain"),
    "published": ("published", "published_date", "date", "published_at", "pubdate", "timestamp"),
    "language": ("language", "lang"),
}
