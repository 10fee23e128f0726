"""One ingest run: read inputs, prepare each article, hand it to the batch writer, record the run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.exc import DatabaseError

from archive.dedup.minhash import MinHasher
from archive.embedding.base import Embedder
from archive.errors import IngestError, OperationError
from archive.ingest.files import DEFAULT_MAX_FILE_BYTES
from archive.ingest.pipeline import BatchWriter
from archive.ingest.prepare import IngestOptions, Prepared, prepare
from archive.ingest.readers import iter_input_files, read_file
from archive.ingest.records import RawArticle
from archive.results import IngestReport
from archive.store.interface import ArchiveWriter, Store

ProgressFn = Callable[[int], None]
MAX_REPORTED_ERRORS = 1000  # a file of a million bad lines is counted, not kept in memory line by line


@dataclass(frozen=True)
class IngestTarget:
    """Where a run writes: the archive's store, model and hasher."""

    store: Store
    embedder: Embedder
    hasher: MinHasher
    passage_format: str = "text"  # what the active vector table embeds (archive.text.context)


def iter_records(
    paths: Sequence[Path],
    *,
    field_map: Mapping[str, str] | None,
    outlet: str | None,
    report: IngestReport,
    on_file: Callable[[Path], None] | None = None,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    follow_links: bool = False,
) -> Iterator[RawArticle | IngestError]:
    """Records of every input file, with an IngestError in place of each unreadable file or record."""
    for path in iter_input_files(list(paths), follow_links=follow_links):
        report.files += 1
        if isinstance(path, IngestError):
            yield path
            continue
        if on_file is not None:
            on_file(path)
        found = 0
        try:
            for record in read_file(path, field_map=field_map, outlet=outlet, max_bytes=max_bytes):
                found += 1
                yield record
        except IngestError as exc:
            yield exc
            continue
        except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
            # A reader bug or a pathological file: that file's error; the other files go on.
            yield IngestError(f"cannot read the rest of this file ({type(exc).__name__}: {exc})", path=str(path))
            continue
        if not found:  # a header-only CSV, an empty list or feed: say so rather than pass in silence
            yield IngestError("no articles in this file (no records, rows or feed items)", path=str(path))


def run_ingest(
    target: IngestTarget,
    records: Iterable[RawArticle | IngestError],
    opts: IngestOptions,
    progress: ProgressFn | None,
    command: str,
    report: IngestReport,
) -> IngestReport:
    """Ingest ``records`` as one recorded run; the caller holds the writer lock."""
    with target.store.bounded_memory():  # a long run touches most of the file: keep it out of the RSS
        return _run(target, records, opts, progress, command, report)


def _run(
    target: IngestTarget,
    records: Iterable[RawArticle | IngestError],
    opts: IngestOptions,
    progress: ProgressFn | None,
    command: str,
    report: IngestReport,
) -> IngestReport:
    with target.store.writer() as store_writer:
        # The writer lock is ours, so a run still marked running was killed.
        if store_writer.interrupt_stale_runs(live_pid=os.getpid()):
            _refuse_if_corrupt(store_writer, target.store.location)
        report.run_id = store_writer.start_run(command, os.getpid())
    writer = BatchWriter(
        target.store,
        target.embedder,
        opts,
        report,
        hasher=target.hasher,
        run_id=report.run_id,
        passage_format=target.passage_format,
    )
    status = "failed"
    try:
        for record in records:
            _ingest_one(target, writer, record, opts, report)
            if progress is not None:
                progress(1)
        writer.flush()
        status = "partial" if report.errors else "ok"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        _finish_run(target.store, report, status)
    return report


def _refuse_if_corrupt(writer: ArchiveWriter, db: str) -> None:
    """After a killed run, check the file before writing more into it (a disk may have failed too)."""
    try:
        problems = writer.integrity_problems()
    except DatabaseError as exc:
        problems = [str(exc.orig or exc).splitlines()[0]]
    if not problems:
        return
    lines = "\n".join(problems).splitlines()
    first = " ".join(line for line in lines if not line.startswith("***"))[:160]
    raise OperationError(
        f"{db} fails SQLite's quick_check after an unfinished run ({len(lines)} problem line(s), first: {first}); "
        f"nothing was written. Restore it from a backup, or recover it with "
        f"`sqlite3 {db} .recover | sqlite3 recovered.db` and check that with `archive doctor`"
    )


def _ingest_one(
    target: IngestTarget,
    writer: BatchWriter,
    record: RawArticle | IngestError,
    opts: IngestOptions,
    report: IngestReport,
) -> None:
    try:
        if isinstance(record, IngestError):
            raise record
        if opts.outlet:
            record = replace(record, outlet=opts.outlet)
        learned = writer.boilerplate_of(record.outlet) if opts.learn_boilerplate else set()
        prepared = _prepare(target, record, opts, learned)
    except IngestError as exc:
        report.failed += 1
        if len(report.errors) < MAX_REPORTED_ERRORS:
            report.errors.append((exc.path or getattr(record, "origin", "") or "?", str(exc)))
        elif len(report.errors) == MAX_REPORTED_ERRORS:
            report.errors.append(("…", "more errors were counted but not listed"))
        return
    writer.add(prepared)


def _prepare(target: IngestTarget, record: RawArticle, opts: IngestOptions, learned: set[int]) -> Prepared:
    """Prepare one record; whatever goes wrong in it is that record's error, never the run's."""
    try:
        return prepare(record, embedder=target.embedder, hasher=target.hasher, options=opts, boilerplate=learned)
    except IngestError:
        raise
    except (ValueError, TypeError, OverflowError, ArithmeticError, LookupError, RecursionError) as exc:
        message = f"cannot prepare this article ({type(exc).__name__}: {exc})"
        raise IngestError(message, path=record.origin or None) from exc


def _finish_run(store: Store, report: IngestReport, status: str) -> None:
    if report.run_id is None:
        return
    errors = json.dumps([{"where": w, "error": e} for w, e in report.errors[:1000]]) if report.errors else None
    with store.writer() as writer:
        writer.finish_run(report.run_id, report, status, errors)
