"""What search needs from a storage backend, independent of SQL dialect.

A backend (``archive.store.sqlite``; PostgreSQL next) implements :class:`Store`, whose
:meth:`Store.reader` opens one consistent read snapshot as a :class:`SearchReader`. The
search layer (``archive.search``) only talks to these protocols and the plain values below,
never to SQL, sessions or ORM rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")
KNN_MAX_K = 4096  # the most neighbours one KNN call returns (sqlite-vec's cap)
Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Filters:
    """Search filters; dates are YYYYMMDD keys, outlets are source ids."""

    since: int | None = None
    until: int | None = None
    source_ids: tuple[int, ...] | None = None
    language: str | None = None


@dataclass(frozen=True)
class KeywordQuery:
    """Keyword terms as the backend should match them, never raw user syntax.

    Each term is a tuple of alternatives (spelling variants); an alternative with a space is a
    phrase. ``excluded`` alternatives must not occur. ``every`` asks for passages holding every
    term (AND) instead of any (OR).
    """

    terms: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...] = ()
    every: bool = False

    def with_every(self, every: bool) -> KeywordQuery:
        return KeywordQuery(self.terms, self.excluded, every)


@dataclass(frozen=True)
class Carrier:
    """An article that carries a passage (or is an exact copy of one that does)."""

    id: int
    outlet: str | None
    title: str
    url: str | None
    published_at: str | None
    duplicate_kind: str | None
    canonical_id: int | None


@dataclass(frozen=True)
class Passage:
    """A stored passage with its article's metadata."""

    id: int
    text: str
    char_start: int
    char_end: int
    group_id: int | None
    article_id: int
    story_id: int  # the article this one is a copy of (canonical), else its own id
    title: str
    url: str | None
    published_at: str | None
    outlet: str | None


class SearchReader(Protocol):
    """One read snapshot of an archive, answering the queries search is built from."""

    def approx_passages(self) -> int:
        """Roughly how many passages the archive holds (cheap)."""
        ...

    def knn(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        """(passage id, cosine distance) of the ``k`` nearest passages passing the filters, nearest first."""
        ...

    def article_knn(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        """(article id, cosine distance) of the ``k`` nearest article vectors (headline and lead) passing the
        filters, nearest first; empty when the archive's article vectors are not complete."""
        ...

    def passage_keyword(self, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
        """(passage id, score) of the best keyword matches, best first; lower scores are better (BM25 sign)."""
        ...

    def article_keyword(self, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
        """(article id, score) of whole articles (headline weighted) matching, best first; lower is better."""
        ...

    def articles_matching(self, alternatives: Sequence[str], article_ids: Sequence[int]) -> set[int]:
        """Which of ``article_ids`` contain any of ``alternatives`` (words or phrases) in headline or text."""
        ...

    def passages(self, passage_ids: Sequence[int]) -> dict[int, Passage]:
        """Passages by id, with their article's metadata; unknown ids are left out."""
        ...

    def group_carriers(self, group_ids: Sequence[int]) -> dict[int, list[Carrier]]:
        """Every article carrying a passage of each group, and those articles' exact copies."""
        ...

    def story_carriers(self, story_ids: Sequence[int]) -> dict[int, list[Carrier]]:
        """Every article of each story: the canonical article and all its exact and near copies."""
        ...

    def story_ids(self, article_ids: Sequence[int]) -> dict[int, int]:
        """The story (canonical article id, else its own id) of each article."""
        ...

    def story_passages(self, story_ids: Sequence[int]) -> dict[int, list[int]]:
        """Passage ids of each given article (a story's canonical article, or a copy holding text), in text order."""
        ...

    def vectors(self, passage_ids: Sequence[int]) -> dict[int, Vector]:
        """Stored passage vectors by id."""
        ...

    def source_ids(self) -> dict[str, int]:
        """Every outlet name with its id."""
        ...


class Store(Protocol):
    """A storage backend for one archive."""

    def reader(self) -> AbstractContextManager[SearchReader]:
        """A read snapshot, valid inside the ``with`` block."""
        ...


def in_batches(values: Sequence[T], size: int = 500) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` (bound parameters per statement stay small)."""
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]
