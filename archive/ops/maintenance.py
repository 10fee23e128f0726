"""Delete articles, vacuum the file, back it up online.

Writes (delete, vacuum) run under the archive's writer lock; a backup does not
need it, since SQLite's backup API copies one consistent snapshot while
readers and writers carry on.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from archive.errors import NotFoundError, OperationError
from archive.results import Source
from archive.store.interface import ArchiveReader, Store
from archive.store.lockfile import pid_alive
from archive.text.dates import optional_key_to_iso, parse_filter_date


@dataclass(frozen=True)
class DeleteReport:
    """The articles a delete removed (or, with ``dry_run``, would remove)."""

    articles: tuple[Source, ...]
    deleted: int
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "deleted": self.deleted, "articles": [asdict(a) for a in self.articles]}


@dataclass(frozen=True)
class VacuumReport:
    """File size (database plus WAL) before and after ``archive vacuum``."""

    bytes_before: int
    bytes_after: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bytes_saved": self.bytes_before - self.bytes_after}


@dataclass(frozen=True)
class BackupReport:
    """Where a backup went and how big it is."""

    path: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def select_for_delete(
    store: Store,
    *,
    ids: Sequence[int] = (),
    outlets: Sequence[str] = (),
    before: str | None = None,
    after: str | None = None,
) -> tuple[Source, ...]:
    """Articles matching every filter given, plus the exact copies that would go with them.

    ``before``/``after`` take YYYY, YYYY-MM or YYYY-MM-DD and exclude the date
    itself: ``before="2022-03"`` means published before 1 March 2022,
    ``after="2022-03"`` after 31 March. Undated articles match no date filter.
    """
    if not (ids or outlets or before or after):
        raise OperationError("say what to delete: --article ID, --outlet NAME, --before DATE and/or --after DATE")
    before_key, after_key = parse_filter_date(before), parse_filter_date(after, end=True)
    with store.reader() as reader:
        source_ids = _outlet_ids(reader, outlets) if outlets else None
        rows = reader.select_articles(
            ids=list(ids) or None,
            source_ids=source_ids,
            before=optional_key_to_iso(before_key),
            after=optional_key_to_iso(after_key),
        )
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing and not (outlets or before or after):
        raise NotFoundError(f"no article with id {missing[0]}: see `archive search` for ids")
    return tuple(Source(r.id, r.outlet, r.title, r.url, r.published_at, r.duplicate_kind) for r in rows)


def delete_articles(store: Store, article_ids: Sequence[int], *, wait: float = 0) -> int:
    """Delete articles (chunks, vectors, keyword index, exact copies) in one transaction; returns how many."""
    if not article_ids:
        return 0
    with store.writer_lock(wait=wait), store.writer() as writer:
        return writer.delete_articles(list(article_ids))


def vacuum(store: Store, *, wait: float = 0) -> VacuumReport:
    """Merge the keyword index, rebuild the file without free pages, truncate the WAL."""
    before = store.size_bytes()
    with store.writer_lock(wait=wait):
        store.vacuum()
    return VacuumReport(before, store.size_bytes())


def backup(store: Store, target: str | Path, *, force: bool = False) -> BackupReport:
    """Copy the archive to ``target`` while it stays in use (SQLite's online backup API).

    The copy is written next to ``target`` and renamed into place, so a failed
    backup never leaves half a file under that name. Raises OperationError
    when ``target`` exists (unless ``force``) or is the archive itself.
    """
    path = Path(target).expanduser()
    _check_backup_target(path, store.path, force=force)
    _remove_dead_partials(path)
    staging = path.with_name(f".{path.name}.{os.getpid()}.partial")
    staging.unlink(missing_ok=True)
    try:
        store.backup(staging)
        for suffix in ("-wal", "-shm"):  # stale companions of an overwritten file would corrupt it
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return BackupReport(str(path), path.stat().st_size)


def _check_backup_target(path: Path, db_path: Path, *, force: bool) -> None:
    """A backup goes to a new path or replaces a regular file: never the archive's own files or a device."""
    own = [Path(f"{db_path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal", ".lock")]
    resolved = path.resolve()
    for item in own:
        if resolved == item.resolve() or (path.exists() and item.exists() and os.path.samefile(path, item)):
            what = "the archive itself" if item == own[0] else f"one of the archive's own files ({item.name})"
            raise OperationError(f"{path} is {what}: give the backup another name")
    if path.is_dir():
        raise OperationError(f"{path} is a folder: give a file name, e.g. {path / db_path.name}")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        raise OperationError(f"{path} is not a regular file (a device, FIFO or socket): back up to a new file name")
    if path.exists() and not force:
        raise OperationError(f"{path} already exists: choose another name, or pass --force to overwrite it")
    if not path.parent.is_dir():
        raise OperationError(f"folder {path.parent} does not exist: create it first")


def _remove_dead_partials(path: Path) -> None:
    """Delete the staging files of earlier backups to ``path`` whose process is gone (killed mid-copy)."""
    for partial in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):
        pid = partial.name[len(path.name) + 2 : -len(".partial")]
        if pid.isdigit() and not pid_alive(int(pid)):
            partial.unlink(missing_ok=True)


def _outlet_ids(reader: ArchiveReader, outlets: Sequence[str]) -> list[int]:
    found = reader.source_ids_for(list(outlets))
    lowered = {name.lower() for name in found}
    unknown = [name for name in outlets if name.lower() not in lowered]
    if unknown:
        known = sorted(reader.source_ids())
        hint = ", ".join(known[:10]) + (", …" if len(known) > 10 else "") if known else "none yet"
        raise NotFoundError(f"no outlet named {unknown[0]!r}; outlets in this archive: {hint}")
    return list(found.values())
