"""Listing ingest runs, with runs whose process died shown (and recorded) as interrupted."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from archive.errors import ConfigError, LockedError
from archive.store.interface import Store
from archive.store.models import IngestRun


def list_runs(store: Store, *, limit: int = 20, run_id: int | None = None) -> list[IngestRun]:
    """Runs newest first (or the one ``run_id``), detached from the session."""
    with store.reader() as reader:
        rows = reader.runs(limit, run_id)
    running = {r.id: r for r in rows if r.status == "running"}
    if not running:
        return rows
    # A read-only archive cannot record them: they are only shown as interrupted.
    writable = not store.writer_busy() and not store.read_only
    fresh = _record_dead_runs(store, list(running)) if writable else None
    if fresh is not None:
        for rid, status in fresh.items():
            running[rid].status = status
        return rows
    for row in running.values():
        if not store.run_is_live(row.pid):
            row.status = "interrupted"
    return rows


def _record_dead_runs(store: Store, run_ids: list[int]) -> dict[int, str] | None:
    """Nobody is writing, so these runs still marked running are dead: record it; their statuses now.

    None when that cannot be done now (a writer started meanwhile, a read-only file).
    """
    try:
        with store.writer_lock(command="archive runs"), store.writer() as writer:
            writer.interrupt_stale_runs(run_ids)
            return writer.run_statuses(run_ids)
    except (LockedError, ConfigError, OperationalError):
        return None
