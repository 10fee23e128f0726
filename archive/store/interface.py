"""What the archive needs from a storage backend, independent of SQL dialect.

A backend (``archive.store.sqlite``, ``archive.store.postgres``) implements :class:`Store`
(``archive.store.open.open_store`` picks it). :meth:`Store.reader` opens one consistent read
snapshot (an :class:`ArchiveReader`, whose search half is :class:`SearchReader`);
:meth:`Store.writer` one write transaction (an :class:`ArchiveWriter`, committed when its
``with`` block ends, rolled back on an exception). The layers above (``archive.search``,
``ingest``, ``feeds``, ``ops``, ``api``) only talk to these protocols and the plain values of
``archive.store.records``, never to SQL, sessions or engines.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from archive.store.records import (
    ArticleInput,
    ArticleMeta,
    Candidate,
    ChunkRow,
    LearnedSentence,
    ModelRecord,
    OutletRow,
    SentenceSeen,
    StoredArticle,
    StoredCopy,
    VectorRow,
)

if TYPE_CHECKING:  # ORM rows in the writer's protocol; searching imports no ORM (nor SQLAlchemy)
    from archive.store.models import Feed, IngestRun

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


@dataclass(frozen=True)
class HybridRequest:
    """The four candidate lists of a hybrid search and their weighted reciprocal rank fusion, for a backend
    that fuses in SQL. Depths, weights and ``rrf_k`` come from ``archive.search``; a list with weight 0
    (or no query) is left out. ``every_first``: passages holding every term when they fill the list, else any."""

    vector: Vector | None
    keyword: KeywordQuery | None  # passages
    article_keyword: KeywordQuery | None  # whole articles
    filters: Filters
    depth: int  # passage keyword list
    semantic_depth: int  # passage KNN list
    article_depth: int  # both article lists
    every_first: bool
    rrf_k: int
    story_weights: tuple[float, float, float, float]  # passage cosine, article cosine, article and passage keyword
    passage_weights: tuple[float, float]  # passage cosine, passage keyword


@dataclass(frozen=True)
class HybridCandidates:
    """The lists as found (distances and keyword scores as ``knn``, ``passage_keyword`` etc. give them) and the
    fused scores: story (canonical article) -> score, passage -> score, higher is better."""

    semantic: list[tuple[int, float]]
    keyword: list[tuple[int, float]]
    articles: list[tuple[int, float]]
    article_vectors: list[tuple[int, float]]
    stories: dict[int, float]
    passages: dict[int, float]


class SearchReader(Protocol):
    """One read snapshot of an archive, answering the queries search is built from."""

    fuse_in_sql: bool  # hybrid lists and their fusion come from one statement (:meth:`hybrid_candidates`)

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

    def hybrid_candidates(self, request: HybridRequest) -> HybridCandidates | None:
        """The hybrid lists and their fusion in one statement; None where this backend fuses in Python."""
        ...

    def articles_matching(self, alternatives: Sequence[str], article_ids: Sequence[int]) -> set[int]:
        """Which of ``article_ids`` contain any of ``alternatives`` (words or phrases) in headline or text."""
        ...

    def passages(self, passage_ids: Sequence[int]) -> dict[int, Passage]:
        """Passages by id, with their article's metadata; unknown ids are left out."""
        ...

    def passage_stories(self, passage_ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
        """(story, duplicate group) of each passage by id, without its text; unknown ids are left out."""
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

    def sibling(self) -> AbstractContextManager[SearchReader] | None:
        """Another reader of the same archive on a connection of its own, for lists read on another thread
        while this one reads its own (its snapshot may be a moment newer: a passage one of them lacks is left
        out); None where this reader has no second connection to give."""
        ...


class ArchiveReader(SearchReader, Protocol):
    """One read snapshot of a whole archive: search, ingest lookups, articles, coverage, feeds, runs."""

    # -- ingest lookups (once per batch)
    def copies_by_hash(self, content_hashes: Sequence[str]) -> dict[str, list[StoredCopy]]: ...
    def copies_by_url(self, canonical_urls: Sequence[str]) -> dict[str, list[StoredCopy]]: ...
    def band_candidates(self, band_keys: Sequence[int]) -> dict[int, list[Candidate]]: ...
    def article_texts(self, article_ids: Sequence[int]) -> dict[int, str]: ...
    def source_ids_by_name(self, names: Sequence[str]) -> dict[str, int]: ...
    def group_for_hash(self, text_hashes: Sequence[str]) -> dict[str, int]: ...
    def chunk_texts(self, article_id: int) -> list[tuple[int, int | None, str]]: ...
    def vectors_for_hashes(self, text_hashes: Sequence[str], *, with_titles: bool) -> dict[tuple[str, str], Vector]:
        """Stored vectors (active table) by (text hash, headline or "") so identical passages embed once."""
        ...

    def learned_keys(self) -> dict[int, set[int]]:
        """Source id -> keys of the sentences learned as that outlet's boilerplate."""
        ...

    # -- articles
    def article(self, article_id: int) -> StoredArticle | None: ...
    def article_copies(self, article_id: int) -> list[Any]:
        """Named rows (id, title, url, published_at, duplicate_kind, canonical_id, outlet) of the article's family."""
        ...

    def chunk_span(self, chunk_id: int, article_id: int | None = None) -> tuple[int, int] | None: ...
    def duplicate_groups(self, article_id: int | None, limit: int | None) -> list[tuple[Any, list[Any]]]: ...
    def select_articles(
        self, *, ids: Sequence[int] | None, source_ids: Sequence[int] | None, before: str | None, after: str | None
    ) -> list[Any]: ...
    def source_ids_for(self, names: Sequence[str]) -> dict[str, int]:
        """Outlet name -> id, case-insensitively."""
        ...

    # -- stats, model, boilerplate
    def counts(self) -> dict[str, int]: ...
    def date_span(self) -> tuple[str | None, str | None]: ...
    def active_model(self) -> ModelRecord | None: ...
    def vector_dimension(self, table: str) -> int | None: ...
    def vector_tables(self) -> list[str]: ...
    def learned(self, outlet: str | None = None) -> list[LearnedSentence]: ...
    def boilerplate_is_empty(self) -> bool: ...

    # -- coverage
    def outlet_rows(self) -> list[OutletRow]: ...
    def articles_with_every_term(self, terms: Sequence[Sequence[str]]) -> set[int]:
        """Ids of articles whose passages together hold every term (each a tuple of alternatives); no cap."""
        ...

    def with_exact_copies(self, article_ids: set[int]) -> set[int]: ...
    def article_meta(self, article_ids: set[int]) -> list[ArticleMeta]: ...

    # -- feeds and runs (ORM rows detached from their session)
    def feeds(self) -> list[Feed]: ...
    def feed(self, feed_id: int) -> Feed | None: ...
    def feed_item_counts(self) -> dict[int, int]: ...
    def seen_guids(self, feed_id: int, guids: Sequence[str]) -> set[str]: ...
    def articles_of_run(self, run_id: int) -> dict[str, int]: ...
    def runs(self, limit: int = 20, run_id: int | None = None) -> list[IngestRun]: ...

    # -- maintenance reads (batches by id)
    def chunks_to_embed(self, after_id: int, limit: int) -> list[Any]: ...
    def articles_with_text(self, after_id: int, limit: int) -> list[Any]: ...
    def chunk_vectors(self, article_id: int) -> list[tuple[str, int | None, bytes]]: ...

    # -- article vectors (headline and lead), beside the active vector table unless ``table`` is given
    def article_vector_ids(self, table: str | None = None) -> set[int]:
        """Ids of the articles whose vector is stored."""
        ...

    def articles_for_vectors(self, after_id: int, limit: int) -> list[ArticleInput]:
        """Articles holding text with id > ``after_id``, by id, with what their vector is made of."""
        ...

    # -- copying a whole archive (archive copy)
    def table_rows(self, table: str, offset: int, limit: int) -> list[dict[str, Any]]:
        """Rows of one of the ORM tables (``archive.store.models``) as column dicts, in primary-key order."""
        ...

    def vector_rows(self, after_id: int, limit: int) -> list[VectorRow]:
        """The active table's vector rows with chunk id above ``after_id``, by chunk id."""
        ...

    def article_vector_rows(self, after_id: int, limit: int) -> list[VectorRow]:
        """The active model's article vector rows with article id above ``after_id``, by article id."""
        ...


class ArchiveWriter(ArchiveReader, Protocol):
    """One write transaction; vector rows go to the active vector table unless ``table`` is given."""

    def source_id_for(self, name: str | None, domain: str | None = None) -> int | None: ...
    def add_article(self, **fields: object) -> int: ...
    def add_chunks(self, article_id: int, rows: Sequence[ChunkRow]) -> list[int]: ...
    def replace_chunks(self, article_id: int, rows: Sequence[ChunkRow]) -> list[int]: ...
    def update_article_text(
        self, article_id: int, *, text: str, content_hash: str, minhash: bytes, band_keys: Sequence[int]
    ) -> None: ...
    def set_groups(self, updates: Sequence[tuple[int, int]]) -> None: ...
    def add_vector_rows(self, rows: Sequence[VectorRow], *, table: str | None = None) -> None: ...
    def add_band_rows(self, rows: Sequence[tuple[int, int]]) -> None: ...
    def add_article_vectors(self, rows: Sequence[VectorRow], *, table: str | None = None) -> None:
        """Store (or replace) article vector rows keyed by article id."""
        ...

    def mark_article_vectors(self, complete: bool, *, table: str | None = None) -> None:
        """Record whether every article holding text has its vector (search uses them only then)."""
        ...

    def note_precision(self, precision: str, *, table: str | None = None) -> None:
        """Record that vectors computed in ``precision`` ("float32", "bfloat16") joined the table's."""
        ...

    def count_sentences(self, seen: Sequence[SentenceSeen]) -> list[tuple[int, int]]:
        """Count each sentence once per story; (source id, key) of those that just became boilerplate."""
        ...

    def forget_counts(self) -> None: ...
    def delete_articles(self, article_ids: Sequence[int]) -> int: ...
    def start_run(self, command: str, pid: int) -> int: ...
    def update_run(self, run_id: int, report: object) -> None: ...
    def finish_run(self, run_id: int, report: object, status: str, errors_json: str | None) -> None: ...
    def interrupt_stale_runs(self, run_ids: Sequence[int] | None = None, *, live_pid: int | None = None) -> int: ...
    def run_statuses(self, run_ids: Sequence[int]) -> dict[int, str]: ...
    def add_feed(self, url: str, outlet: str | None) -> int: ...
    def delete_feed(self, feed_id: int) -> bool: ...
    def record_feed_items(self, feed_id: int, items: Sequence[tuple[str, int | None]]) -> None: ...
    def update_feed(self, feed_id: int, *, status: str, etag: str | None, modified: str | None) -> None: ...
    def record_model(
        self, name: str, dimension: int, fingerprint: str | None, table: str, *, precision: str | None = None
    ) -> ModelRecord: ...
    def free_vector_table(self) -> str:
        """A name for a new vector table no table holds yet."""
        ...

    def create_vector_table(self, table: str, dimension: int) -> None: ...
    def drop_vector_table(self, table: str) -> None: ...
    def insert_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert column dicts (ids included) into one of the ORM tables."""
        ...

    def ids_inserted(self) -> None:
        """Rows came in with their own ids: let new ids continue after the highest (sequences)."""
        ...

    def integrity_problems(self) -> list[str]:
        """The backend's quick integrity check: empty when the storage is sound."""
        ...


class SearchSnapshot(Protocol):
    """One read snapshot of an archive that is ready to search, opened without the full store
    (``archive.store.open.open_snapshot``: what a one-shot search runs on)."""

    @property
    def model(self) -> ModelRecord:
        """The active model's record."""
        ...

    @property
    def dimension(self) -> int:
        """The dimension the active vector table declares."""
        ...

    def reader(self, *, prefilter_min_rows: int | None) -> SearchReader:
        """The search half of a reader, over this snapshot."""
        ...

    def close(self) -> None:
        """End the snapshot; nothing was written."""
        ...


class Store(Protocol):
    """A storage backend for one archive: snapshots, transactions, the writer lock, maintenance."""

    location: str  # the file path or URL, as messages show it
    vector_table: str  # where the active model's vectors live

    @property
    def path(self) -> Path:
        """The file the archive lives in (SQLite), or a stand-in naming the database (servers)."""
        ...

    @property
    def driver_name(self) -> str: ...
    @property
    def read_only(self) -> bool: ...
    def reader(self) -> AbstractContextManager[ArchiveReader]:
        """A read snapshot, valid inside the ``with`` block."""
        ...

    def writer(self) -> AbstractContextManager[ArchiveWriter]:
        """One write transaction, committed when the ``with`` block ends."""
        ...

    def bulk_load(self) -> AbstractContextManager[None]:
        """A large load into a new or quiet archive: indexes cheaper to build once after the rows than
        row by row (PostgreSQL's HNSW) are dropped for the block and rebuilt when it ends."""
        ...

    def bounded_memory(self) -> AbstractContextManager[None]:
        """A long run of writes (an ingest): this process's reads of the archive keep its memory bounded
        inside the block (SQLite: through the page cache, not a map of the whole file)."""
        ...

    def writer_lock(self, *, wait: float = 0, command: str | None = None) -> AbstractContextManager[object]:
        """The one-writer-per-archive lock: raises LockedError when held longer than ``wait`` seconds."""
        ...

    def writer_busy(self) -> bool:
        """Whether another process holds the writer lock now."""
        ...

    def run_is_live(self, pid: int | None) -> bool:
        """Whether the ingest run of process ``pid`` is still going (its process holds the writer lock)."""
        ...

    def errors(self) -> AbstractContextManager[None]:
        """Turns the backend's failures (damage, read-only, disk full) into typed ArchiveErrors."""
        ...

    def require_writable(self) -> None: ...
    def revision(self) -> str | None: ...
    def upgrade(self, dimension: int | None = None) -> None: ...
    def ensure_current(self) -> None: ...
    def schema_drift(self) -> list[str]: ...
    def size_bytes(self) -> int: ...
    def vacuum(self) -> None: ...
    def backup(self, target: Path) -> None:
        """Copy the whole archive, consistently, to the new file ``target``."""
        ...

    def query_only(self) -> None:
        """Refuse every write from now on (the web server's connections)."""
        ...

    def close(self) -> None: ...


def in_batches(values: Sequence[T], size: int = 500) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` (bound parameters per statement stay small)."""
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]
