"""Typed values returned by the library (and rendered as JSON by the CLI)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Source:
    """One outlet that carried a passage or article."""

    article_id: int
    outlet: str | None
    title: str
    url: str | None
    published: str | None
    duplicate_kind: str | None = None  # None (original) | "exact" | "near"
    similarity: float | None = None  # Jaccard with the canonical article, for duplicates


@dataclass(frozen=True)
class MatchedPassage:
    """Another passage of a result's article that matched the query, with its place in the text."""

    chunk_id: int
    char_start: int
    char_end: int
    text: str
    similarity: float | None = None  # cosine of the passage vector and the query vector


# Below this cosine (all-MiniLM-L6-v2, query vs passage) a result is marked weak: on the news
# evaluation (scripts/eval.py) wanted articles scored above it, unrelated ones mostly below.
WEAK_SIMILARITY = 0.3


@dataclass(frozen=True)
class SearchResult:
    """A matching passage (by default the best of its article), collapsed over every article that carried it.

    ``text == article.text[char_start:char_end]`` of the article ``article_id``.
    ``sources`` lists every copy, earliest first; ``scores`` holds per-mode
    components (``semantic`` cosine similarity, ``keyword`` bm25, ``rrf`` fused);
    ``similarity`` is the cosine of the passage and the query, the score a reader can
    compare across searches (None when no query vector was made); ``passages`` are the
    article's other matching passages, best first.
    """

    rank: int
    score: float
    text: str
    article_id: int
    chunk_id: int
    char_start: int
    char_end: int
    outlet: str | None
    title: str
    url: str | None
    published: str | None
    sources: tuple[Source, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    highlights: tuple[str, ...] = ()
    group_id: int | None = None
    similarity: float | None = None
    passages: tuple[MatchedPassage, ...] = ()

    @property
    def source_count(self) -> int:
        return len(self.sources)

    @property
    def weak(self) -> bool:
        """True when the passage is not much like the query (similarity below WEAK_SIMILARITY)."""
        return self.similarity is not None and self.similarity < WEAK_SIMILARITY

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["source_count"] = self.source_count
        data["weak"] = self.weak
        return data


@dataclass
class IngestReport:
    """What one ingest run did. ``errors`` are (where, message) pairs."""

    run_id: int | None = None
    files: int = 0
    added: int = 0
    skipped: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    failed: int = 0
    chunks: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = [{"where": w, "error": e} for w, e in self.errors]
        return data


@dataclass(frozen=True)
class DuplicateGroup:
    """A canonical article and every stored copy linked to it (exact or near)."""

    canonical: Source
    copies: tuple[Source, ...]

    @property
    def size(self) -> int:
        return 1 + len(self.copies)

    def to_dict(self) -> dict[str, Any]:
        return {"canonical": asdict(self.canonical), "copies": [asdict(c) for c in self.copies], "size": self.size}


@dataclass(frozen=True)
class ArticleView:
    """An article with its metadata, cleaned text and every known copy."""

    id: int
    title: str
    text: str
    outlet: str | None
    url: str | None
    published: str | None
    canonical_id: int | None
    duplicate_kind: str | None
    copies: tuple[Source, ...] = ()

    @property
    def article_id(self) -> int:
        """The same as ``id``: the name every JSON output uses for an article's id."""
        return self.id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; the id is ``article_id``, as in every other output."""
        data = asdict(self)
        return {"article_id": data.pop("id"), **data}
