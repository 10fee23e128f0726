"""Listing ingest runs, with runs whose process died shown (and recorded) as interrupted."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive.errors import ConfigError, LockedError
from archive.ops.lock import LockHolder, lock_holder, pid_alive, writer_lock
from archive.store.models import IngestRun
from archive.store.sqlite import writes
from archive.store.sqlite.engine import is_read_only


def list_runs(engine: Engine, db_path: Path, *, limit: int = 20, run_id: int | None = None) -> list[IngestRun]:
    """Runs newest first (or the one ``run_id``), detached from the session."""
    stmt = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
    if run_id is not None:
        stmt = select(IngestRun).where(IngestRun.id == run_id)
    with Session(engine, expire_on_commit=False) as session:
        rows = list(session.scalars(stmt))
        session.expunge_all()
    running = {r.id: r for r in rows if r.status == "running"}
    if not running:
        return rows
    holder = lock_holder(db_path)
    # A read-only archive cannot record them: they are only shown as interrupted.
    writable = holder is None and not is_read_only(engine)
    fresh = _record_dead_runs(engine, db_path, list(running)) if writable else None
    if fresh is not None:
        for rid, status in fresh.items():
            running[rid].status = status
        return rows
    holder = holder or lock_holder(db_path)
    for row in running.values():
        if not _run_is_live(row.pid, holder):
            row.status = "interrupted"
    return rows


def _record_dead_runs(engine: Engine, db_path: Path, run_ids: list[int]) -> dict[int, str] | None:
    """Nobody is writing, so these runs still marked running are dead: record it; their statuses now.

    None when that cannot be done now (a writer started meanwhile, a read-only file).
    """
    try:
        with writer_lock(db_path, command="archive runs"), Session(engine) as session, session.begin():
            writes.interrupt_stale_runs(session, run_ids)
            rows = session.execute(select(IngestRun.id, IngestRun.status).where(IngestRun.id.in_(run_ids)))
            return {rid: status for rid, status in rows}
    except (LockedError, ConfigError, OperationalError):
        return None


def _run_is_live(pid: int | None, holder: LockHolder | None) -> bool:
    """A run is live while its process holds the writer lock (every run does, start to end)."""
    if holder is None or not pid_alive(pid):
        return False
    return holder.pid is None or holder.pid == pid
