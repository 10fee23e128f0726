"""The Archive facade: open a database, ingest, search, build RAG context."""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from archive.arguments import check_search, require, require_path, require_paths
from archive.config import Settings
from archive.dedup.minhash import MinHasher
from archive.embedding.base import Embedder
from archive.embedding.loader import load_embedder
from archive.errors import (
    ArchiveError,
    ConfigError,
    IngestError,
    InvalidArgumentError,
    ModelMismatchError,
    NotAnArchiveError,
    NotFoundError,
)
from archive.ingest.prepare import IngestOptions
from archive.ingest.records import DEFAULT_FIELDS, RawArticle
from archive.ingest.runner import IngestTarget, iter_records, run_ingest
from archive.ops.lock import writer_lock
from archive.ops.reclean import CleanReport, reclean
from archive.ops.runs import list_runs
from archive.results import (
    ArticleView,
    DuplicateGroup,
    IngestReport,
    SearchResult,
    Source,
)
from archive.search import coverage
from archive.search.coverage import Facets, OutletSummary, Timeline
from archive.search.params import build_params
from archive.search.rag import RagContext, build_context
from archive.search.run import run_search
from archive.search.variants import Variants, load_variants
from archive.store import migrate
from archive.store.models import Article, IngestRun
from archive.store.sqlite import boilerplate, meta, reads
from archive.store.sqlite import facets as facet_reads
from archive.store.sqlite.boilerplate import LearnedSentence
from archive.store.sqlite.engine import create_archive_engine, is_read_only, pick_driver
from archive.store.sqlite.errors import read_only_error, translate_errors
from archive.store.sqlite.search import SqliteStore
from archive.store.sqlite.vtables import vec_table_dimension

ProgressFn = Callable[[int], None]
M = TypeVar("M", bound=Callable[..., Any])


def _file_errors(method: M) -> M:
    """Raise failures of the database file (damaged, read-only, disk full) as typed ArchiveErrors."""

    @functools.wraps(method)
    def wrapper(self: Archive, /, *args: Any, **kwargs: Any) -> Any:
        with translate_errors(self.path):
            return method(self, *args, **kwargs)

    return cast(M, wrapper)


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
    from archive import ops
    from archive.feeds import poll as feedpoll
else:  # feeds and maintenance (alembic, http) load on first use: `archive search` starts faster without them
    feedpoll, ops = _lazy_module("archive.feeds.poll"), _lazy_module("archive.ops")


def _same_model(recorded: str, requested: str) -> bool:
    strip = "sentence-transformers/"
    return recorded.removeprefix(strip) == requested.removeprefix(strip)


def _spec_for(recorded: str) -> str:
    """How to load the model a database records (fake embedders are recorded by name)."""
    if recorded == "fake-embedder":
        return "fake"
    if recorded.startswith("fake-embedder:"):
        return "fake:" + recorded.partition(":")[2]
    return recorded


class Archive:
    """A conflict-news archive in one SQLite file.

    >>> with Archive.open("news.db") as archive:          # doctest: +SKIP
    ...     archive.ingest(["articles.jsonl"])
    ...     hits = archive.search("shelling of Kharkiv", k=5)
    """

    def __init__(
        self, settings: Settings, engine: Engine, embedder: Embedder, vector_table: str, *, passage_format: str = "text"
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.embedder = embedder
        self.vector_table = vector_table
        self.passage_format = passage_format  # what the vector table's passages embed (archive.text.context)
        self.hasher = MinHasher()

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
        with translate_errors(settings.db_path):
            engine = create_archive_engine(settings.db_path, create=create)
            try:
                return cls._open(settings, engine, embedder, create)
            except BaseException:
                engine.dispose()
                raise

    @classmethod
    def _open(cls, settings: Settings, engine: Engine, embedder: Embedder | None, create: bool) -> Archive:
        migrate.check_not_newer(migrate.current_revision(engine), settings.db_path)
        if not create and migrate.current_revision(engine) is None:
            raise NotAnArchiveError(
                f"{settings.db_path} is not an archive (a SQLite file without the archive's tables): "
                f"check -d/--db and ARCHIVE_DB, or create an archive with: archive ingest -d NEW.db FILES",
                path=str(settings.db_path),
            )
        if embedder is None and (settings.model or migrate.current_revision(engine) is None):
            embedder = load_embedder(settings.model, home=settings.home, options=settings.embedding)
        if migrate.current_revision(engine) is None:
            assert embedder is not None
            migrate.upgrade(engine, dimension=embedder.dimension)
        migrate.ensure_current(engine)
        with Session(engine) as session, session.begin():
            active = meta.active_model(session)
            if active is None:
                embedder = embedder or load_embedder(settings.model, home=settings.home, options=settings.embedding)
                active = meta.record_model(
                    session, embedder.name, embedder.dimension, getattr(embedder, "fingerprint", None)
                )
            requested = embedder.name if embedder is not None else None
            if requested and not _same_model(active.name, requested):
                raise ModelMismatchError(
                    f"this database holds vectors from {active.name!r} ({active.dimension}-d), not {requested!r}: "
                    f"drop --model/ARCHIVE_MODEL to use {active.name!r}, or run `archive reembed --model {_spec_for(requested)}`"
                )
            embedder = embedder or load_embedder(_spec_for(active.name), home=settings.home, options=settings.embedding)
            table, passage_format = active.vector_table, active.passage_format
            dimension = vec_table_dimension(session.connection(), table)
        if dimension != embedder.dimension:
            raise ModelMismatchError(
                f"vector table {table} is {dimension}-d but model {embedder.name!r} gives {embedder.dimension}-d vectors"
            )
        return cls(settings, engine, embedder, table, passage_format=passage_format)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.settings.db_path

    @property
    def driver_name(self) -> str:
        return pick_driver().name

    @property
    def read_only(self) -> bool:
        """True when the file (or its folder) cannot be written: searches work, writes raise ReadOnlyArchiveError."""
        return is_read_only(self.engine)

    def _require_writable(self) -> None:
        if self.read_only:
            raise read_only_error(self.path)

    # -- ingest ----------------------------------------------------------
    @_file_errors
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
        records = iter_records(
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

    @_file_errors
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
        with writer_lock(self.path, wait=wait, command=command):
            command = command.encode("utf-8", "replace").decode("utf-8")  # undecodable argv bytes
            target = IngestTarget(self.engine, self.embedder, self.hasher, self.vector_table, self.passage_format)
            return run_ingest(target, records, options or IngestOptions(), progress, command, report or IngestReport())

    # -- search ----------------------------------------------------------
    @_file_errors
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

    def store(self) -> SqliteStore:
        """The storage backend behind this archive (its search interface)."""
        return SqliteStore(self.engine, self.vector_table, prefilter_min_rows=self.settings.prefilter_min_rows)

    @property
    def variants(self) -> Variants:
        """Spelling variants keyword search expands (the shipped table plus ARCHIVE_VARIANTS)."""
        return load_variants(self.settings.variants_file)

    @_file_errors
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
    @_file_errors
    def article(self, article_id: int) -> ArticleView:
        """An article with its text (from its canonical copy when it is an exact duplicate)."""
        require("article_id", article_id, int)
        with Session(self.engine) as session:
            row = session.get(Article, article_id)
            if row is None:
                raise NotFoundError(f"no article with id {article_id}: see `archive search` for ids")
            text = row.text
            if text is None and row.canonical_id is not None:
                text = session.scalar(select(Article.text).where(Article.id == row.canonical_id))
            copies = tuple(
                Source(r.id, r.outlet, r.title, r.url, r.published_at, r.duplicate_kind)
                for r in sorted(
                    reads.article_copies(session, article_id), key=lambda r: (r.published_at or "9999", r.id)
                )
            )
            return ArticleView(
                id=row.id,
                title=row.title,
                text=text or "",
                outlet=row.source.name if row.source else None,
                url=row.url,
                published=row.published_at,
                canonical_id=row.canonical_id,
                duplicate_kind=row.duplicate_kind,
                copies=copies,
            )

    @_file_errors
    def duplicates(self, article_id: int | None = None, *, limit: int | None = 50) -> list[DuplicateGroup]:
        """Duplicate groups (largest first), or the one holding ``article_id``."""
        with Session(self.engine) as session:
            if article_id is not None and session.get(Article, article_id) is None:
                raise NotFoundError(f"no article with id {article_id}: see `archive search` for ids")
            groups = reads.duplicate_groups(session, article_id, limit)
        return [DuplicateGroup(_source(canon), tuple(_source(c) for c in copies)) for canon, copies in groups]

    @_file_errors
    def chunk_span(self, chunk_id: int, *, article_id: int | None = None) -> tuple[int, int]:
        """(char_start, char_end) of a passage in its article's text.

        With ``article_id`` the passage must belong to that article (or the article whose
        text it shares): offsets into another article's text would mark an unrelated span.
        """
        with Session(self.engine) as session:
            span = reads.chunk_span(session, chunk_id, article_id)
            exists = span is not None or reads.chunk_span(session, chunk_id) is not None
        if span is None and exists:
            raise NotFoundError(
                f"passage {chunk_id} is not in article {article_id}: use a chunk_id and article_id from "
                "the same `archive search --json` result"
            )
        if span is None:
            raise NotFoundError(f"no passage with id {chunk_id}: use a chunk_id from `archive search --json`")
        return span

    @_file_errors
    def runs(self, limit: int = 20) -> list[IngestRun]:
        """The most recent ingest runs, newest first.

        A run whose process died (``kill -9``, a reboot) still says ``running`` in
        the file: it is listed as ``interrupted``, and recorded so when no writer is busy.
        """
        return list_runs(self.engine, self.path, limit=limit)

    @_file_errors
    def run(self, run_id: int) -> IngestRun:
        """One ingest run, its ``errors`` JSON included; raises NotFoundError for an unknown id."""
        rows = list_runs(self.engine, self.path, run_id=run_id)
        if not rows:
            raise NotFoundError(f"no ingest run with id {run_id}: see `archive runs` for ids")
        return rows[0]

    @_file_errors
    def clean(self, *, progress: ProgressFn | None = None, wait: float = 0, relearn: bool = False) -> CleanReport:
        """Remove the boilerplate learned so far from every stored article (ids kept, unchanged passages kept)."""
        self._require_writable()
        return reclean(
            self.engine,
            self.path,
            embedder=self.embedder,
            vector_table=self.vector_table,
            passage_format=self.passage_format,
            progress=progress,
            wait=wait,
            relearn=relearn,
        )

    @_file_errors
    def boilerplate(self, outlet: str | None = None) -> list[LearnedSentence]:
        """The sentences learned as outlet furniture (of one outlet, or all), most stories first."""
        with Session(self.engine) as session:
            return boilerplate.learned(session, outlet)

    @_file_errors
    def stats(self) -> dict[str, object]:
        """Counts, date span, database size and model."""
        with Session(self.engine) as session:
            data: dict[str, object] = dict(meta.counts(session))
            first, last = meta.date_span(session)
            active = meta.active_model(session)
        data.update(
            first_published=first,
            last_published=last,
            db_path=str(self.path),
            db_bytes=_file_size(self.path),
            model=active.name if active else None,
            dimension=active.dimension if active else None,
            driver=self.driver_name,
        )
        return data

    # -- coverage: outlets, timelines, facets ----------------------------
    def outlets(self) -> list[OutletSummary]:
        """Every outlet with its number of articles and first/last publication date, largest first."""
        with Session(self.engine) as session:
            return coverage.outlet_summaries(facet_reads.outlet_rows(session))

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
    ) -> list[facet_reads.ArticleMeta]:
        def ranked(k: int) -> list[SearchResult]:
            return self.search(
                query, k=k, mode=mode, since=since, until=until, outlets=outlets, language=language, dedup=False
            )

        request = coverage.CoverageRequest(query, mode, limit, since, until, tuple(outlets or ()), language)
        return coverage.matching_articles(self.engine, request, ranked, self.variants)

    # -- operations: health, delete, re-embed, vacuum, backup, feeds -----
    @_file_errors
    def doctor(self) -> ops.DoctorReport:
        """Health checks of this archive: driver, extension, schema, model, index counts, duplicate links."""
        return ops.diagnose(self.path, home=self.settings.home, prefilter_min_rows=self.settings.prefilter_min_rows)

    @_file_errors
    def select_for_delete(
        self,
        *,
        ids: Sequence[int] = (),
        outlets: Sequence[str] = (),
        before: str | None = None,
        after: str | None = None,
    ) -> tuple[Source, ...]:
        """The articles a delete with these filters would remove, exact copies included."""
        return ops.select_for_delete(self.engine, ids=ids, outlets=outlets, before=before, after=after)

    @_file_errors
    def delete_articles(self, article_ids: Sequence[int], *, wait: float = 0) -> int:
        """Delete articles with their passages, vectors and exact copies in one transaction."""
        self._require_writable()
        return ops.delete_articles(self.engine, self.path, article_ids, vector_table=self.vector_table, wait=wait)

    @_file_errors
    def reembed(
        self, model: Embedder | str, *, batch_size: int = 32, progress: ProgressFn | None = None, wait: float = 0
    ) -> ops.ReembedReport:
        """Embed every passage with another model and make it this archive's model."""
        self._require_writable()
        embedder = (
            load_embedder(model, home=self.settings.home, options=self.settings.embedding)
            if isinstance(model, str)
            else model
        )
        report = ops.reembed(self.engine, self.path, embedder, batch_size=batch_size, progress=progress, wait=wait)
        self.embedder, self.vector_table = embedder, report.table
        return report

    @_file_errors
    def vacuum(self, *, wait: float = 0) -> ops.VacuumReport:
        """Compact the file and the keyword index; reports bytes before and after."""
        self._require_writable()
        return ops.vacuum(self.engine, self.path, wait=wait)

    @_file_errors
    def backup(self, target: str | Path, *, force: bool = False) -> ops.BackupReport:
        """Copy the archive to ``target`` while it stays in use."""
        require_path("target", target, optional=False)
        return ops.backup(self.engine, self.path, target, force=force)

    @_file_errors
    def add_feed(
        self, url: str, *, outlet: str | None = None, wait: float = 0, allow_private: bool | None = None
    ) -> feedpoll.FeedInfo:
        """Follow an RSS/Atom feed (http(s), file:// or a path), checked by fetching it once.

        Loopback and private addresses are refused unless ``allow_private`` (default: the setting).
        """
        self._require_writable()
        return feedpoll.add_feed(self, url, outlet=outlet, wait=wait, allow_private=allow_private)

    @_file_errors
    def feeds(self) -> list[feedpoll.FeedInfo]:
        """Every followed feed with its last poll's outcome."""
        return feedpoll.list_feeds(self)

    @_file_errors
    def remove_feed(self, feed_id: int, *, wait: float = 0) -> feedpoll.FeedInfo:
        """Stop following a feed; its articles stay."""
        self._require_writable()
        return feedpoll.remove_feed(self, feed_id, wait=wait)

    @_file_errors
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


def _source(row: Any) -> Source:
    score = getattr(row, "duplicate_score", None)
    return Source(row.id, row.outlet, row.title, row.url, row.published_at, row.duplicate_kind, score)


def _file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


__all__ = ["Archive", "ArchiveError"]
