"""The Archive facade: open a database, ingest, search, build RAG context."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from archive.config import Settings
from archive.dedup import MinHasher
from archive.embed import Embedder, load_embedder
from archive.errors import ArchiveError, IngestError, ModelMismatchError, NotFoundError
from archive.ingest.pipeline import BatchWriter
from archive.ingest.prepare import IngestOptions, prepare

from archive.ingest.records import RawArticle
from archive.results import ArticleView, IngestReport, SearchResult, Source
from archive.search import build_params, run_search
from archive.store import meta, migrate, reads, writes
from archive.store.engine import create_archive_engine, pick_driver
from archive.store.models import Article, IngestRun
from archive.store.vtables import vec_table_dimension

ProgressFn = Callable[[int], None]


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

    def __init__(self, settings: Settings, engine: Engine, embedder: Embedder, vector_table: str) -> None:
        self.settings = settings
        self.engine = engine
        self.embedder = embedder
        self.vector_table = vector_table
        self.hasher = MinHasher()

    @classmethod
    def open(
        cls, db: str | Path | None = None, *, model: str | None = None, home: str | Path | None = None,
        embedder: Embedder | None = None,
    ) -> Archive:
        """Open (creating and migrating a new file) the archive at ``db``.

        The model is the one recorded in the database; asking for another raises
        ModelMismatchError instead of mixing vectors from two models.
        """
        settings = Settings.resolve(db=db, model=model, home=home)
        engine = create_archive_engine(settings.db_path)
        try:
            return cls._open(settings, engine, embedder)
        except BaseException:
            engine.dispose()
            raise

    @classmethod
    def _open(cls, settings: Settings, engine: Engine, embedder: Embedder | None) -> Archive:
        if embedder is None and (settings.model or migrate.current_revision(engine) is None):
            embedder = load_embedder(settings.model, home=settings.home)
        if migrate.current_revision(engine) is None:
            assert embedder is not None
            migrate.upgrade(engine, dimension=embedder.dimension)
        migrate.ensure_current(engine)
        with Session(engine) as session, session.begin():
            active = meta.active_model(session)
            if active is None:
                embedder = embedder or load_embedder(settings.model, home=settings.home)
                active = meta.record_model(session, embedder.name, embedder.dimension, getattr(embedder, "fingerprint", None))
            requested = embedder.name if embedder is not None else None
            if requested and not _same_model(active.name, requested):
                raise ModelMismatchError(
                    f"this database holds vectors from {active.name!r} ({active.dimension}-d), not {requested!r}: "
                    f"drop --model/ARCHIVE_MODEL to use {active.name!r}, or run `archive reembed --model {requested}`"
                )
            embedder = embedder or load_embedder(_spec_for(active.name), home=settings.home)
            table = active.vector_table
            dimension = vec_table_dimension(session.connection(), table)
        if dimension != embedder.dimension:
            raise ModelMismatchError(
                f"vector table {table} is {dimension}-d but model {embedder.name!r} gives {embedder.dimension}-d vectors"
            )
        return cls(settings, engine, embedder, table)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.settings.db_path

    @property
    def driver_name(self) -> str:
        return pick_driver().name

    # -- ingest ----------------------------------------------------------
    def ingest(
        self, paths: Sequence[str | Path], *, outlet: str | None = None, field_map: Mapping[str, str] | None = None,
        options: IngestOptions | None = None, progress: ProgressFn | None = None,
        on_file: Callable[[Path], None] | None = None, command: str = "ingest",
    ) -> IngestReport:
        """Ingest files and directories; a bad file is reported and the rest continue."""
        report = IngestReport()

        from archive.ingest.readers import iter_input_files, read_file

        def records() -> Iterable[RawArticle | IngestError]:
            for path in iter_input_files([Path(p) for p in paths]):
                report.files += 1
                if on_file is not None:
                    on_file(path)
                try:
                    yield from read_file(path, field_map=field_map, outlet=outlet)
                except IngestError as exc:
                    yield exc

        return self.ingest_records(records(), options=options, progress=progress, command=command, report=report)

    def ingest_records(
        self, records: Iterable[RawArticle | IngestError], *, options: IngestOptions | None = None,
        progress: ProgressFn | None = None, command: str = "ingest", report: IngestReport | None = None,
    ) -> IngestReport:
        """Ingest already-read records (what feeds and the library's callers use)."""
        opts = options or IngestOptions()
        report = report or IngestReport()
        with Session(self.engine) as session, session.begin():
            report.run_id = writes.start_run(session, command, os.getpid())
        writer = BatchWriter(
            self.engine, self.embedder, opts, report, hasher=self.hasher, run_id=report.run_id,
            vector_table=self.vector_table,
        )
        status = "failed"
        try:
            for record in records:
                self._ingest_one(writer, record, opts, report)
                if progress is not None:
                    progress(1)
            writer.flush()
            status = "partial" if report.errors else "ok"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            self._finish_run(report, status)
        return report

    def _ingest_one(self, writer: BatchWriter, record: RawArticle | IngestError, opts: IngestOptions, report: IngestReport) -> None:
        try:
            if isinstance(record, IngestError):
                raise record
            if opts.outlet:
                record = RawArticle(**{**record.__dict__, "outlet": opts.outlet})
            writer.add(prepare(record, embedder=self.embedder, hasher=self.hasher, options=opts))
        except IngestError as exc:
            report.failed += 1
            report.errors.append((exc.path or getattr(record, "origin", "") or "?", str(exc)))

    def _finish_run(self, report: IngestReport, status: str) -> None:
        if report.run_id is None:
            return
        errors = json.dumps([{"where": w, "error": e} for w, e in report.errors[:1000]]) if report.errors else None
        with Session(self.engine) as session, session.begin():
            writes.finish_run(session, report.run_id, report, status, errors)

    # -- search ----------------------------------------------------------
    def search(
        self, query: str, *, k: int = 10, mode: str = "hybrid", since: str | None = None, until: str | None = None,
        outlets: Sequence[str] | None = None, language: str | None = None, dedup: bool = True,
        semantic_weight: float = 1.0, keyword_weight: float = 1.0,
    ) -> list[SearchResult]:
        """Passages matching ``query``, best first, one per group of duplicates (unless dedup=False)."""
        with Session(self.engine) as session:
            params = build_params(
                session, query, k=k, mode=mode, since=since, until=until, outlets=outlets, language=language,
                dedup=dedup, semantic_weight=semantic_weight, keyword_weight=keyword_weight,
            )
            return run_search(session, self.embedder, params, table=self.vector_table)

    # -- articles --------------------------------------------------------
    def article(self, article_id: int) -> ArticleView:
        """An article with its text (from its canonical copy when it is an exact duplicate)."""
        with Session(self.engine) as session:
            row = session.get(Article, article_id)
            if row is None:
                raise NotFoundError(f"no article with id {article_id}: see `archive search` for ids")
            text = row.text
            if text is None and row.canonical_id is not None:
                text = session.scalar(select(Article.text).where(Article.id == row.canonical_id))
            copies = tuple(
                Source(r.id, r.outlet, r.title, r.url, r.published_at, r.duplicate_kind)
                for r in sorted(reads.article_copies(session, article_id), key=lambda r: (r.published_at or "9999", r.id))
            )
            return ArticleView(
                id=row.id, title=row.title, text=text or "", outlet=row.source.name if row.source else None,
                url=row.url, published=row.published_at, canonical_id=row.canonical_id,
                duplicate_kind=row.duplicate_kind, copies=copies,
            )

    def chunk_span(self, chunk_id: int) -> tuple[int, int]:
        """(char_start, char_end) of a passage in its article's text."""
        with Session(self.engine) as session:
            span = reads.chunk_span(session, chunk_id)
        if span is None:
            raise NotFoundError(f"no passage with id {chunk_id}: use a chunk_id from `archive search --json`")
        return span

    def runs(self, limit: int = 20) -> list[IngestRun]:
        """The most recent ingest runs, newest first."""
        with Session(self.engine, expire_on_commit=False) as session:
            rows = list(session.scalars(select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)))
            session.expunge_all()
            return rows

    def stats(self) -> dict[str, object]:
        """Counts, date span, database size and model."""
        with Session(self.engine) as session:
            data: dict[str, object] = dict(meta.counts(session))
            first, last = meta.date_span(session)
            active = meta.active_model(session)
        data.update(
            first_published=first, last_published=last, db_path=str(self.path),
            db_bytes=_file_size(self.path), model=active.name if active else None,
            dimension=active.dimension if active else None, driver=self.driver_name,
        )
        return data


def _file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


__all__ = ["Archive", "ArchiveError"]
