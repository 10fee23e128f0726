"""The SQLite backend of the search interface: one session per read snapshot.

Every read here is plain SQL through :class:`archive.store.sqlite.sql.SqlSession`, so it runs
over a SQLAlchemy session (the store's readers and writers) and over a direct DB-API
snapshot (``direct``: one-shot searches, which never import SQLAlchemy).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from archive.store.interface import (
    Carrier,
    Filters,
    HybridCandidates,
    HybridRequest,
    KeywordQuery,
    Passage,
    Vector,
    in_batches,
)
from archive.store.sqlite import keyword, knn, selective, split
from archive.store.sqlite.sql import SqlSession
from archive.store.sqlite.vtables import ARTICLE_FTS_TABLE, FTS_TABLE, VEC_TABLE

_PASSAGES_SQL = (
    "SELECT c.id, c.text, c.char_start, c.char_end, c.group_id, c.article_id, a.canonical_id, a.title, a.url, "
    "a.published_at, s.name FROM json_each(?) AS j CROSS JOIN chunks AS c ON c.id = j.value "
    "JOIN articles AS a ON a.id = c.article_id LEFT JOIN sources AS s ON s.id = a.source_id"
)
STORY_INDEXES = ("ix_chunks_story", "ix_articles_story")  # what the two statements below name (doctor checks them)
# The stories of a search's candidates (hundreds of passages, a hundred articles) come from the two covering
# indexes of migration 0007 alone, never from the rows: a passage's row holds its text, and an article's holds
# canonical_id after its text, whose overflow pages reading it walked. SQLite's planner keeps the rowid lookup
# unless told, hence INDEXED BY.
_PASSAGE_STORIES_SQL = (
    "SELECT c.id, coalesce(a.canonical_id, c.article_id), c.group_id FROM json_each(?) AS j "
    "CROSS JOIN chunks AS c INDEXED BY ix_chunks_story ON c.id = j.value "
    "JOIN articles AS a INDEXED BY ix_articles_story ON a.id = c.article_id"
)
_STORY_IDS_SQL = (
    "SELECT a.id, a.canonical_id FROM json_each(?) AS j CROSS JOIN articles AS a INDEXED BY ix_articles_story "
    "ON a.id = j.value"
)
_STORY_PASSAGES_SQL = (
    "SELECT c.article_id, c.id FROM json_each(?) AS j CROSS JOIN chunks AS c ON c.article_id = j.value "
    "ORDER BY c.article_id, c.ordinal"
)
# Articles as Carrier's fields, in its field order (every dialect's carrier statements start so).
CARRIERS_SELECT = (
    "SELECT a.id, s.name, a.title, a.url, a.published_at, a.duplicate_kind, a.canonical_id "
    "FROM articles AS a LEFT JOIN sources AS s ON s.id = a.source_id "
)
# The stories' own articles and every article linked to one of them; ?1 is bound once.
_STORY_CARRIERS_SQL = (
    CARRIERS_SELECT
    + "WHERE a.id IN (SELECT value FROM json_each(?1)) OR a.canonical_id IN (SELECT value FROM json_each(?1))"
)
_GROUP_ARTICLES_SQL = (
    "SELECT DISTINCT c.group_id, c.article_id FROM json_each(?) AS j CROSS JOIN chunks AS c ON c.group_id = j.value"
)
# The articles and their exact copies (which hold no passages of their own).
_EXACT_COPIES_SQL = (
    CARRIERS_SELECT + "WHERE a.id IN (SELECT value FROM json_each(?1)) "
    "OR (a.canonical_id IN (SELECT value FROM json_each(?1)) AND a.duplicate_kind = 'exact')"
)


class SqliteSearchReader:
    """:class:`archive.store.interface.SearchReader` over one read snapshot (a SQLAlchemy or direct session)."""

    # Plain statements over a list of ids (the ORM's row handling cost more than the queries);
    # another dialect gives its own statements and :meth:`_by_ids`.
    PASSAGES_SQL = _PASSAGES_SQL
    PASSAGE_STORIES_SQL = _PASSAGE_STORIES_SQL
    STORY_IDS_SQL = _STORY_IDS_SQL
    STORY_PASSAGES_SQL = _STORY_PASSAGES_SQL
    STORY_CARRIERS_SQL = _STORY_CARRIERS_SQL
    GROUP_ARTICLES_SQL = _GROUP_ARTICLES_SQL
    EXACT_COPIES_SQL = _EXACT_COPIES_SQL
    fuse_in_sql = False  # each list is its own statement, fused by archive.search.fusion

    def __init__(
        self,
        session: SqlSession,
        table: str = VEC_TABLE,
        *,
        prefilter_min_rows: int | None = None,
        hold_matrices: bool = True,
    ) -> None:
        """``hold_matrices`` False: vector scans never load the shared matrices (a reader for one search,
        where reading every vector into memory costs more than vec0's own scan: ``knn.knn``)."""
        self.session = session
        self.table = table
        self.prefilter_min_rows = prefilter_min_rows
        self.hold_matrices = hold_matrices
        self._approx: int | None = None
        self._articles_complete: bool | None = None

    def approx_passages(self) -> int:
        if self._approx is None:
            self._approx = knn.approx_passages(self.session)
        return self._approx

    def passages_seen(self) -> int | None:
        """:meth:`approx_passages` if this reader has looked it up (every search does), else None."""
        return self._approx

    def knn(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        return knn.knn(self.session, vector, k, filters, self.table, **self._scan_options())

    def _scan_options(self) -> dict[str, Any]:
        """How this reader's vector scans run (``knn.knn``, ``knn.article_knn``)."""
        return {"prefilter_min_rows": self.prefilter_min_rows, "hold_matrices": self.hold_matrices}

    def article_knn(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        return self._nearest_articles(vector, k, filters) if self.article_vectors_complete() else []

    def article_vectors_complete(self) -> bool:
        """Whether every article has its vector (checked once per snapshot): else article KNN is left out."""
        if self._articles_complete is None:
            self._articles_complete = self._article_vectors_recorded()
        return self._articles_complete

    def _article_vectors_recorded(self) -> bool:
        """What the active model's record says of the article vectors (another dialect reads it its way)."""
        return knn.article_vectors_complete(self.session, self.table)

    def hybrid_candidates(self, request: HybridRequest) -> HybridCandidates | None:
        return None  # fuse_in_sql is False

    def _nearest_articles(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        """This backend's KNN over the article vectors (the shared matrix, or vec0's exact scan past its limit)."""
        return knn.article_knn(self.session, vector, k, filters, self.table, **self._scan_options())

    def passage_keyword(self, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
        return self._keyword(keyword.fts, FTS_TABLE, self.approx_passages(), query, limit, filters)

    def article_keyword(self, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
        rows = knn.approx_articles(self.session)
        return self._keyword(keyword.fts_articles, ARTICLE_FTS_TABLE, rows, query, limit, filters)

    def _keyword(
        self, bm25: keyword.Bm25, table: str, rows: int, query: KeywordQuery, limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """The best ``limit`` matches: from the query's selective words alone when they fill the window
        (``selective``), each list without scoring every row of its commonest word (``split``)."""
        narrow = selective.narrowed(self.session, table, query, rows)
        if narrow is not None and narrow.terms:
            found = split.best_matches(self.session, bm25, table, rows, narrow, limit, filters)
            if len(found) >= limit:
                return found
        return split.best_matches(self.session, bm25, table, rows, query, limit, filters)

    def articles_matching(self, alternatives: Sequence[str], article_ids: Sequence[int]) -> set[int]:
        return keyword.articles_matching(self.session, alternatives, article_ids)

    def passages(self, passage_ids: Sequence[int]) -> dict[int, Passage]:
        # One plain statement, the ids as one JSON array: the ORM's row handling cost more than the query.
        found: dict[int, Passage] = {}
        for part in in_batches(list(dict.fromkeys(int(i) for i in passage_ids))):
            for r in self._by_ids(self.PASSAGES_SQL, part):
                found[r[0]] = Passage(
                    id=r[0],
                    text=r[1],
                    char_start=r[2],
                    char_end=r[3],
                    group_id=r[4],
                    article_id=r[5],
                    story_id=r[6] or r[5],
                    title=r[7],
                    url=r[8],
                    published_at=r[9],
                    outlet=r[10],
                )
        return found

    def passage_stories(self, passage_ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
        found: dict[int, tuple[int, int | None]] = {}
        for part in in_batches(list(dict.fromkeys(int(i) for i in passage_ids))):
            for passage, story, group in self._by_ids(self.PASSAGE_STORIES_SQL, part):
                found[int(passage)] = (int(story), None if group is None else int(group))
        return found

    def _by_ids(self, sql: str, ids: list[int]) -> Any:
        """Rows of ``sql`` for ``ids``, bound as one JSON array (``json_each(?)``), as plain tuples from the
        driver's cursor in this session's transaction: SQLAlchemy's row objects cost more than these reads."""
        driver = self.session.connection().connection.driver_connection  # its transaction is open
        assert driver is not None  # an open session's connection
        return driver.execute(sql, (json.dumps(ids),)).fetchall()

    def group_carriers(self, group_ids: Sequence[int]) -> dict[int, list[Carrier]]:
        if not group_ids:
            return {}
        pairs: list[tuple[int, int]] = []
        for part in in_batches(list(dict.fromkeys(int(g) for g in group_ids))):
            pairs.extend((int(group), int(article)) for group, article in self._by_ids(self.GROUP_ARTICLES_SQL, part))
        with_copies = self._with_exact_copies({a for _, a in pairs})
        result: dict[int, list[Carrier]] = {}
        for group, article in pairs:
            result.setdefault(group, []).extend(with_copies.get(article, []))
        return result

    def story_carriers(self, story_ids: Sequence[int]) -> dict[int, list[Carrier]]:
        result: dict[int, list[Carrier]] = {}
        for part in in_batches(list(story_ids)):
            asked = set(part)
            for r in self._by_ids(self.STORY_CARRIERS_SQL, part):
                story = r[0] if r[0] in asked else r[6]
                result.setdefault(int(story), []).append(Carrier(*r))  # the columns in Carrier's field order
        return result

    def story_ids(self, article_ids: Sequence[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for part in in_batches(list(dict.fromkeys(int(a) for a in article_ids))):
            for article_id, canonical_id in self._by_ids(self.STORY_IDS_SQL, part):
                found[int(article_id)] = int(canonical_id or article_id)
        return found

    def story_passages(self, story_ids: Sequence[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for part in in_batches(list(dict.fromkeys(story_ids))):
            for article_id, chunk_id in self._by_ids(self.STORY_PASSAGES_SQL, part):
                found.setdefault(int(article_id), []).append(int(chunk_id))
        return found

    def vectors(self, passage_ids: Sequence[int]) -> dict[int, Vector]:
        return knn.vectors_for_chunks(self.session, passage_ids, self.table)

    def source_ids(self) -> dict[str, int]:
        rows = self.session.connection().exec_driver_sql("SELECT id, name FROM sources")
        return {str(name): int(source_id) for source_id, name in rows}

    def sibling(self) -> AbstractContextManager[SqliteSearchReader] | None:
        return None  # a direct snapshot is one connection (SqliteReader opens another session)

    def _with_exact_copies(self, article_ids: set[int]) -> dict[int, list[Carrier]]:
        """Each article with its exact copies (which hold no passages of their own)."""
        result: dict[int, list[Carrier]] = {}
        for part in in_batches(sorted(article_ids)):
            carriers = [Carrier(*r) for r in self._by_ids(self.EXACT_COPIES_SQL, part)]  # Carrier's field order
            own = {c.id for c in carriers if c.id in article_ids}
            for carrier in carriers:
                holder = carrier.id if carrier.id in own else carrier.canonical_id
                result.setdefault(int(holder or carrier.id), []).append(carrier)
        return result
