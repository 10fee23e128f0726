"""A searchable conflict-news archive: clean, chunk, embed and search news in SQLite.

>>> from archive import Archive                        # doctest: +SKIP
>>> with Archive.open("news.db") as archive:
...     archive.ingest(["articles.jsonl"])
...     for hit in archive.search("shelling of Kharkiv", k=5):
...         print(hit.score, hit.title, [s.outlet for s in hit.sources])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here)

if TYPE_CHECKING:
    from archive.api import Archive
    from archive.errors import (
        ArchiveError,
        ArchiveNotFoundError,
        ConfigError,
        CorruptArchiveError,
        DiskFullError,
        DriverError,
        IngestError,
        InvalidArgumentError,
        InvalidQueryError,
        LockedError,
        ModelChecksumError,
        ModelMismatchError,
        ModelNotFoundError,
        NotAnArchiveError,
        NotFoundError,
        ReadOnlyArchiveError,
        SchemaOutOfDateError,
        SchemaTooNewError,
    )
    from archive.ingest.prepare import IngestOptions
    from archive.ingest.records import RawArticle
    from archive.results import ArticleView, DuplicateGroup, IngestReport, SearchResult, Source
    from archive.search.rag import Citation, RagContext

# Names are imported on first access (PEP 562), so ``import archive.cli`` or
# ``archive.store`` does not pay for the whole library: the CLI's cold start counts.
_LAZY = {
    "Archive": "archive.api",
    "IngestOptions": "archive.ingest.prepare",
    "RawArticle": "archive.ingest.records",
    **dict.fromkeys(("ArticleView", "DuplicateGroup", "IngestReport", "SearchResult", "Source"), "archive.results"),
    **dict.fromkeys(("Citation", "RagContext"), "archive.search.rag"),
    **dict.fromkeys(
        (
            "ArchiveError",
            "ArchiveNotFoundError",
            "CorruptArchiveError",
            "DiskFullError",
            "InvalidArgumentError",
            "NotAnArchiveError",
            "ReadOnlyArchiveError",
            "SchemaTooNewError",
            "ConfigError",
            "DriverError",
            "IngestError",
            "InvalidQueryError",
            "LockedError",
            "ModelChecksumError",
            "ModelMismatchError",
            "ModelNotFoundError",
            "NotFoundError",
            "SchemaOutOfDateError",
        ),
        "archive.errors",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'archive' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Archive",
    "ArchiveError",
    "ArchiveNotFoundError",
    "ArticleView",
    "Citation",
    "ConfigError",
    "CorruptArchiveError",
    "DiskFullError",
    "DriverError",
    "DuplicateGroup",
    "IngestError",
    "IngestOptions",
    "IngestReport",
    "InvalidArgumentError",
    "InvalidQueryError",
    "LockedError",
    "ModelChecksumError",
    "ModelMismatchError",
    "ModelNotFoundError",
    "NotAnArchiveError",
    "NotFoundError",
    "RagContext",
    "RawArticle",
    "ReadOnlyArchiveError",
    "SchemaOutOfDateError",
    "SchemaTooNewError",
    "SearchResult",
    "Source",
]
