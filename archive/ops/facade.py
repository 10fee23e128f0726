"""The Archive's maintenance methods (runs, clean, doctor, delete, reembed, vacuum, backup), as a mixin."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from archive.arguments import require_path
from archive.config import Settings
from archive.embedding.base import Embedder
from archive.embedding.loader import load_embedder
from archive.errors import NotFoundError
from archive.ops.article_vectors import ArticleVectorReport, embed_articles
from archive.ops.doctor import DoctorReport, diagnose
from archive.ops.maintenance import BackupReport, VacuumReport, backup, delete_articles, select_for_delete, vacuum
from archive.ops.reembed import ReembedReport, reembed
from archive.ops.runs import list_runs
from archive.results import Source
from archive.store.interface import Store
from archive.store.models import IngestRun

if TYPE_CHECKING:  # reclean pulls in ingest (cleaning, chunking, MinHash): loaded by clean() alone
    from archive.ops.reclean import CleanReport

ProgressFn = Callable[[int], None]
M = TypeVar("M", bound=Callable[..., Any])


def file_errors(method: M) -> M:
    """Raise failures of the database file (damaged, read-only, disk full) as typed ArchiveErrors."""

    @functools.wraps(method)
    def wrapper(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        with self._store.errors():
            return method(self, *args, **kwargs)

    return cast(M, wrapper)


class MaintenanceMethods:
    """What :class:`archive.Archive` offers to look after a whole archive (its attributes are the Archive's)."""

    settings: Settings
    embedder: Embedder
    passage_format: str
    _store: Store

    @property
    def path(self) -> Path:
        return self.settings.db_path

    def _require_writable(self) -> None:
        self._store.require_writable()

    @file_errors
    def runs(self, limit: int = 20) -> list[IngestRun]:
        """The most recent ingest runs, newest first.

        A run whose process died (``kill -9``, a reboot) still says ``running`` in
        the file: it is listed as ``interrupted``, and recorded so when no writer is busy.
        """
        return list_runs(self._store, limit=limit)

    @file_errors
    def run(self, run_id: int) -> IngestRun:
        """One ingest run, its ``errors`` JSON included; raises NotFoundError for an unknown id."""
        rows = list_runs(self._store, run_id=run_id)
        if not rows:
            raise NotFoundError(f"no ingest run with id {run_id}: see `archive runs` for ids")
        return rows[0]

    @file_errors
    def clean(self, *, progress: ProgressFn | None = None, wait: float = 0, relearn: bool = False) -> CleanReport:
        """Remove the boilerplate learned so far from every stored article (ids kept, unchanged passages kept)."""
        from archive.ops.reclean import reclean

        self._require_writable()
        return reclean(
            self._store,
            embedder=self.embedder,
            passage_format=self.passage_format,
            progress=progress,
            wait=wait,
            relearn=relearn,
        )

    @file_errors
    def doctor(self) -> DoctorReport:
        """Health checks of this archive: driver, extension, schema, model, index counts, duplicate links."""
        return diagnose(
            self.settings.db_location, home=self.settings.home, prefilter_min_rows=self.settings.prefilter_min_rows
        )

    @file_errors
    def select_for_delete(
        self,
        *,
        ids: Sequence[int] = (),
        outlets: Sequence[str] = (),
        before: str | None = None,
        after: str | None = None,
    ) -> tuple[Source, ...]:
        """The articles a delete with these filters would remove, exact copies included."""
        return select_for_delete(self._store, ids=ids, outlets=outlets, before=before, after=after)

    @file_errors
    def delete_articles(self, article_ids: Sequence[int], *, wait: float = 0) -> int:
        """Delete articles with their passages, vectors and exact copies in one transaction."""
        self._require_writable()
        return delete_articles(self._store, article_ids, wait=wait)

    @file_errors
    def reembed(
        self, model: Embedder | str, *, batch_size: int = 32, progress: ProgressFn | None = None, wait: float = 0
    ) -> ReembedReport:
        """Embed every passage with another model and make it this archive's model."""
        self._require_writable()
        embedder = (
            load_embedder(model, home=self.settings.home, options=self.settings.embedding)
            if isinstance(model, str)
            else model
        )
        report = reembed(self._store, embedder, batch_size=batch_size, progress=progress, wait=wait)
        self.embedder = embedder
        return report

    @file_errors
    def embed_articles(
        self, *, batch_size: int = 32, progress: ProgressFn | None = None, wait: float = 0
    ) -> ArticleVectorReport:
        """Give articles stored without an article vector (before they existed) theirs; search then uses them."""
        self._require_writable()
        return embed_articles(self._store, self.embedder, batch_size=batch_size, progress=progress, wait=wait)

    @file_errors
    def vacuum(self, *, wait: float = 0) -> VacuumReport:
        """Compact the file and the keyword index; reports bytes before and after."""
        self._require_writable()
        return vacuum(self._store, wait=wait)

    @file_errors
    def backup(self, target: str | Path, *, force: bool = False) -> BackupReport:
        """Copy the archive to ``target`` while it stays in use."""
        require_path("target", target, optional=False)
        return backup(self._store, target, force=force)
