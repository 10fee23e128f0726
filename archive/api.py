"""The Archive facade: open a database, ingest, search, build RAG context."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from archive.arguments import check_search, require, require_path, require_paths
from archive.config import Settings, redact_passwords
from archive.embedding.base import Embedder
from archive.errors import ArchiveError, ConfigError, IngestError, InvalidArgumentError
from archive.ingest.records import DEFAULT_FIELDS, RawArticle
from archive.ops import reading
from archive.ops.facade import MaintenanceMethods, file_errors
from archive.ops.opening import prepare_store
from archive.results import ArticleView, DuplicateGroup, IngestReport, SearchResult
from archive.search import coverage
from archive.search.coverage import Facets, OutletSummary, Timeline
from archive.search.params import build_params
from archive.search.rag import RagContext, build_context
from archive.search.run import run_search
from archive.search.variants import Variants, load_variants
from archive.store.interface import Store
from archive.store.open import location_errors, open_store
from archive.store.records import ArticleMeta, LearnedSentence

ProgressFn = Callable[[int], None]
M = TypeVar("M", bound=Callable[..., Any])


def _lazy_module(name: str) -> ModuleType:
    """``name``, executed on first attribute access (the LazyLoader recipe of importlib's docs)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from archive.dedup.minhash import MinHasher
    from archive.feeds import poll as feedpoll
    from archive.ingest import prepare as ingest_prepare
    from archive.ingest import runner as ingest_runner
    from archive.ingest.prepare import IngestOptions
else:  # feeds (http, parsers) and ingest (cleaning, chunking, MinHash) load on first use: `archive search` starts faster
    feedpoll = _lazy_module("archive.feeds.poll")
    ingest_prepare = _lazy_module("archive.ingest.prepare")
    ingest_runner = _lazy_module("archive.ingest.runner")


class Archive(MaintenanceMethods):
    """A conflict-news archive (one SQLite file, or a database on a server).

    >>> with Archive.open("news.db") as archive:          # doctest: +SKIP
    ...     archive.ingest(["articles.jsonl"])
    ...     hits = archive.search("shelling of Kharkiv", k=5)
    """

    def __init__(self, settings: Settings, store: Store, embedder: Embedder, *, passage_format: str = "text") -> None:
        self.settings = settings
        self._store = store
        self.embedder = embedder
        self.passage_format = passage_format  # what the vector table's passages embed (archive.text.context)
        self._hasher: MinHasher | None = None

    @property
    def hasher(self) -> MinHasher:
        """The MinHash signer of ingest (made on first use: searching needs none)."""
        if self._hasher is None:
            from archive.dedup.minhash import MinHasher

            self._hasher = MinHasher()
        return self._hasher

    @classmethod
    def open(
        cls,
        db: str | Path | None = None,
        *,
        model: str | None = None,
        home: str | Path | None = None,
        embedder: Embedder | None = None,
        create: bool = True,
    ) -> Archive:
        """Open (creating and migrating a new file unless ``create=False``) the archive at ``db``.

        The model is the one recorded in the database; asking for another raises
        ModelMismatchError instead of mixing vectors from two models. With
        ``create=False`` a missing file raises ArchiveNotFoundError (what reading
        commands want: a typo in the path must not leave an empty archive behind).
        A file (or folder) that cannot be written opens read-only: searches work,
        writes raise ReadOnlyArchiveError.
        """
        require_path("db", db)
        require("model", model, str, type(None))
        require_path("home", home)
        require("create", create, bool)
        if embedder is not None and not callable(getattr(embedder, "embed", None)):
            raise InvalidArgumentError(f"embedder must be an Embedder (with .embed), not {type(embedder).__name__}")
        settings = Settings.resolve(db=db, model=model, home=home)
        with location_errors(settings.db_location):
            store = open_store(
                settings.db_location,
                create=create,
                prefilter_min_rows=settings.prefilter_min_rows,
                pg_dump=settings.pg_dump,
            )
            try:
                with store.errors():
                    embedder, active = prepare_store(settings, store, embedder, create)
            except BaseException:
                store.close()
                raise
        return cls(settings, store, embedder, passage_format=active.passage_format)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def driver_name(self) -> str:
        return self._store.driver_name

    @property
    def read_only(self) -> bool:
        """True when the file (or its folder) cannot be written: searches work, writes raise ReadOnlyArchiveError."""
        return self._store.read_only

    @property
    def vector_table(self) -> str:
        """The table holding the active model's passage vectors."""
        return self._store.vector_table

    @property
    def engine(self) -> Any:
        """The SQLAlchemy engine of a SQLite archive (for tests and tools: not part of the store interface)."""
        return getattr(self._store, "engine", None)

    # -- ingest ----------------------------------------------------------
    @file_errors
    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        outlet: str | None = None,
        field_map: Mapping[str, str] | None = None,
        options: IngestOptions | None = None,
        progress: ProgressFn | None = None,
        on_file: Callable[[Path], None] | None = None,
        command: str = "ingest",
        wait: float = 0,
        follow_links: bool = False,
    ) -> IngestReport:
        """Ingest files and directories; a bad file or record is reported and the rest continue.

        Holds the writer lock throughout: raises LockedError when another writer
        holds it for longer than ``wait`` seconds. Symbolic links inside a
        directory that point out of it are reported and skipped unless ``follow_links``.
        """
        require_paths("paths", paths)
        unknown = sorted(set(field_map or {}) - set(DEFAULT_FIELDS))
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)} in --field: use {', '.join(DEFAULT_FIELDS)}")
        report = IngestReport()
        records = ingest_runner.iter_records(
            [Path(p) for p in paths],
            field_map=field_map,
            outlet=outlet,
            report=report,
            on_file=on_file,
            max_bytes=self.settings.max_input_bytes,
            follow_links=follow_links,
        )
        return self.ingest_records(
            records, options=options, progress=progress, command=command, report=report, wait=wait
        )

    @file_errors
    def ingest_records(
        self,
        records: Iterable[RawArticle | IngestError],
        *,
        options: IngestOptions | None = None,
        progress: ProgressFn | None = None,
        command: str = "ingest",
        report: IngestReport | None = None,
        wait: float = 0,
    ) -> IngestReport:
        """Ingest already-read records (what feeds and the library's callers use), under the writer lock."""
        self._require_writable()
        with self._store.writer_lock(wait=wait, command=command):
            command = redact_passwords(command.encode("utf-8", "replace").decode("utf-8"))  # runs keep no secrets
            target = ingest_runner.IngestTarget(self._store, self.embedder, self.hasher, self.passage_format)
            opts = options or ingest_prepare.IngestOptions()
            return ingest_runner.run_ingest(target, records, opts, progress, command, report or IngestReport())

    # -- search ----------------------------------------------------------
    @file_errors
    def search(
        self,
        query: str,
        *,
        k: int = 10,
        mode: str = "hybrid",
        since: str | None = None,
        until: str | None = None,
        outlets: Sequence[str] | None = None,
        language: str | None = None,
        dedup: bool = True,
        semantic_weight: float = 1.0,
        keyword_weight: float = 1.0,
        per_article: int | None = None,
        passages: bool = False,
        min_score: float | None = None,
    ) -> list[SearchResult]:
        """The articles matching ``query``, best first: one result per article (its best passage, the
        other matching ones in ``passages``), copies collapsed into ``sources``.

        ``per_article=N`` gives up to N passage results per article instead; ``passages=True``
        gives every matching passage (one per group of duplicates unless ``dedup=False``).
        ``min_score`` drops results whose cosine similarity to the query is below it. The
        query may hold "quoted phrases" and -excluded words.
        """
        check_search(query, k, mode, since, until, outlets, language, (semantic_weight, keyword_weight))
        with self.store().reader() as reader:
            params = build_params(
                reader,
                query,
                variants=self.variants,
                k=k,
                mode=mode,
                since=since,
                until=until,
                outlets=outlets,
                language=language,
                dedup=dedup,
                semantic_weight=semantic_weight,
                keyword_weight=keyword_weight,
                per_article=per_article,
                passages=passages,
                min_score=min_score,
            )
            return run_search(reader, self.embedder, params, variants=self.variants)

    def store(self) -> Store:
        """The storage backend behind this archive."""
        return self._store

    @property
    def variants(self) -> Variants:
        """Spelling variants keyword search expands (the shipped table plus ARCHIVE_VARIANTS)."""
        return load_variants(self.settings.variants_file)

    @file_errors
    def context(
        self, query: str, *, max_tokens: int = 1500, k: int = 8, mode: str = "hybrid", **filters: Any
    ) -> RagContext:
        """Numbered, cited passages for ``query`` within ``max_tokens`` tokens, ready for an LLM prompt.

        ``filters`` are :meth:`search`'s keyword options (since, until, outlets,
        language, ...). No match gives an empty ``text`` and no sources.
        """
        filters.setdefault("passages", True)  # passages of one article are joined under one number
        hits = self.search(query, k=k, mode=mode, **filters)
        return build_context(query, hits, count_tokens=self.embedder.count_tokens, max_tokens=max_tokens)

    # -- articles --------------------------------------------------------
    @file_errors
    def article(self, article_id: int) -> ArticleView:
        """An article with its text (from its canonical copy when it is an exact duplicate)."""
        require("article_id", article_id, int)
        return reading.article_view(self._store, article_id)

    @file_errors
    def duplicates(self, article_id: int | None = None, *, limit: int | None = 50) -> list[DuplicateGroup]:
        """Duplicate groups (largest first), or the one holding ``article_id``."""
        return reading.duplicate_groups(self._store, article_id, limit)

    @file_errors
    def chunk_span(self, chunk_id: int, *, article_id: int | None = None) -> tuple[int, int]:
        """(char_start, char_end) of a passage in its article's text.

        With ``article_id`` the passage must belong to that article (or the article whose
        text it shares): offsets into another article's text would mark an unrelated span.
        """
        return reading.chunk_span(self._store, chunk_id, article_id)

    @file_errors
    def boilerplate(self, outlet: str | None = None) -> list[LearnedSentence]:
        """The sentences learned as outlet furniture (of one outlet, or all), most stories first."""
        with self._store.reader() as reader:
            return reader.learned(outlet)

    @file_errors
    def stats(self) -> dict[str, object]:
        """Counts, date span, database size and model."""
        return reading.stats(self._store)

    # -- coverage: outlets, timelines, facets ----------------------------
    def outlets(self) -> list[OutletSummary]:
        """Every outlet with its number of articles and first/last publication date, largest first."""
        with self._store.reader() as reader:
            return coverage.outlet_summaries(reader.outlet_rows())

    def timeline(
        self,
        query: str,
        *,
        by: str = "month",
        mode: str = "keyword",
        limit: int = coverage.DEFAULT_LIMIT,
        since: str | None = None,
        until: str | None = None,
        outlets: Sequence[str] | None = None,
        language: str | None = None,
    ) -> Timeline:
        """Matching articles per day, week or month and per outlet, with the earliest report.

        "Matching" is defined in :mod:`archive.search.coverage`: in ``keyword`` mode every
        article containing every query word (in any passage); otherwise the articles of the best
        ``limit`` passages of that search.
        """
        bucket = coverage.check_by(by)
        articles = self._matching_articles(query, mode, limit, since, until, outlets, language)
        return coverage.build_timeline(query.strip(), bucket, mode, coverage.matching_note(mode, limit), articles)

    def facets(
        self,
        query: str,
        *,
        mode: str = "keyword",
        limit: int = coverage.DEFAULT_LIMIT,
        since: str | None = None,
        until: str | None = None,
        outlets: Sequence[str] | None = None,
        language: str | None = None,
    ) -> Facets:
        """Matching articles counted per outlet and per month (the same matching as :meth:`timeline`)."""
        articles = self._matching_articles(query, mode, limit, since, until, outlets, language)
        return coverage.build_facets(query.strip(), mode, coverage.matching_note(mode, limit), articles)

    def _matching_articles(
        self,
        query: str,
        mode: str,
        limit: int,
        since: str | None,
        until: str | None,
        outlets: Sequence[str] | None,
        language: str | None,
    ) -> list[ArticleMeta]:
        def ranked(k: int) -> list[SearchResult]:
            return self.search(
                query, k=k, mode=mode, since=since, until=until, outlets=outlets, language=language, dedup=False
            )

        request = coverage.CoverageRequest(query, mode, limit, since, until, tuple(outlets or ()), language)
        return coverage.matching_articles(self._store, request, ranked, self.variants)

    # -- feeds ------------------------------------------------------------
    @file_errors
    def add_feed(
        self, url: str, *, outlet: str | None = None, wait: float = 0, allow_private: bool | None = None
    ) -> feedpoll.FeedInfo:
        """Follow an RSS/Atom feed (http(s), file:// or a path), checked by fetching it once.

        Loopback and private addresses are refused unless ``allow_private`` (default: the setting).
        """
        self._require_writable()
        return feedpoll.add_feed(self, url, outlet=outlet, wait=wait, allow_private=allow_private)

    @file_errors
    def feeds(self) -> list[feedpoll.FeedInfo]:
        """Every followed feed with its last poll's outcome."""
        return feedpoll.list_feeds(self)

    @file_errors
    def remove_feed(self, feed_id: int, *, wait: float = 0) -> feedpoll.FeedInfo:
        """Stop following a feed; its articles stay."""
        self._require_writable()
        return feedpoll.remove_feed(self, feed_id, wait=wait)

    @file_errors
    def poll_feeds(
        self,
        *,
        fetch_pages: bool = False,
        feed_ids: Sequence[int] | None = None,
        wait: float = 0,
        on_feed: Callable[[feedpoll.FeedPollResult], None] | None = None,
        allow_private: bool | None = None,
    ) -> list[feedpoll.FeedPollResult]:
        """Ingest the new entries of every feed; a failing feed is reported and the rest continue.

        Feeds and pages on loopback or private addresses are refused unless ``allow_private`` (default: the setting).
        """
        self._require_writable()
        return feedpoll.poll_feeds(
            self, fetch_pages=fetch_pages, feed_ids=feed_ids, wait=wait, on_feed=on_feed, allow_private=allow_private
        )


__all__ = ["Archive", "ArchiveError"]
