"""A searchable conflict-news archive: clean, chunk, embed and search news in SQLite.

>>> from archive import Archive                        # doctest: +SKIP
>>> with Archive.open("news.db") as archive:
...     archive.ingest(["articles.jsonl"])
...     for hit in archive.search("shelling of Kharkiv", k=5):
...         print(hit.score, hit.title, [s.outlet for s in hit.sources])
"""

from __future__ import annotations

from archive.api import Archive
from archive.errors import (
    ArchiveError,
    ConfigError,
    DriverError,
    IngestError,
    InvalidQueryError,
    LockedError,
    ModelChecksumError,
    ModelMismatchError,
    ModelNotFoundError,
    NotFoundError,
    SchemaOutOfDateError,
)
from archive.ingest.prepare import IngestOptions
from archive.ingest.records import RawArticle
from archive.results import ArticleView, IngestReport, SearchResult, Source

__all__ = [
    "Archive",
    "ArchiveError",
    "ArticleView",
    "ConfigError",
    "DriverError",
    "IngestError",
    "IngestOptions",
    "IngestReport",
    "InvalidQueryError",
    "LockedError",
    "ModelChecksumError",
    "ModelMismatchError",
    "ModelNotFoundError",
    "NotFoundError",
    "RawArticle",
    "SchemaOutOfDateError",
    "SearchResult",
    "Source",
]
