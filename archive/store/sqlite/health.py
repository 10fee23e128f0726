"""The SQLite side of ``archive doctor``: file, driver, sqlite-vec, schema, integrity, indexes, links.

Every check says ok, warn or fail, with a one-line fix. The checks run on their own engine so
that a database ``Archive.open`` refuses (old schema, missing model row) can still be diagnosed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex

from archive.config import DEFAULT_PREFILTER_MIN_ROWS
from archive.errors import (
    ArchiveError,
    CorruptArchiveError,
    NotAnArchiveError,
    SchemaTooNewError,
)
from archive.store import migrate
from archive.store.models import Base
from archive.store.records import Check, Health
from archive.store.sqlite import article_vectors, knn, meta, reads
from archive.store.sqlite.engine import access_mode, create_archive_engine, engine_path, pick_driver, probe
from archive.store.sqlite.errors import classify_error
from archive.store.sqlite.search import STORY_INDEXES
from archive.store.sqlite.vtables import article_table_for, table_exists, vec_table_dimension

OK, WARN, FAIL = "ok", "warn", "fail"
_SQLITE_HEADER = b"SQLite format 3\x00"


def diagnose(db_path: Path, *, prefilter_min_rows: int | None = DEFAULT_PREFILTER_MIN_ROWS) -> Health:
    """Run every check of the SQLite archive at ``db_path``."""
    report = Health()
    if not db_path.is_file():
        report.checks.append(
            Check(
                "database",
                FAIL,
                f"no archive at {db_path}",
                f"check -d/--db (or ARCHIVE_DB), or create one with: archive ingest -d {db_path} FILES",
            )
        )
        return report
    with db_path.open("rb") as handle:
        header = handle.read(len(_SQLITE_HEADER))
    if header and header != _SQLITE_HEADER:
        report.checks.append(
            Check(
                "database",
                FAIL,
                f"{db_path} is not a SQLite database, so not an archive (a text file or another format?)",
                "check -d/--db (or ARCHIVE_DB)",
            )
        )
        return report
    try:
        driver = pick_driver()
    except ArchiveError as exc:
        report.checks.append(Check("driver", FAIL, str(exc), "pip install sqlean.py"))
        return report
    report.checks.append(Check("driver", OK, driver.name))
    # sqlite-vec is checked on a connection of its own, so a damaged file is never blamed on it
    memory = create_archive_engine(":memory:")
    try:
        extension = _guard("sqlite-vec", lambda: _extension(memory), _VEC_FIX)
    finally:
        memory.dispose()
    report.checks.append(extension)
    if extension.status == FAIL:
        return report
    engine = create_archive_engine(db_path, create=False)
    try:
        _run_checks(engine, report, prefilter_min_rows)
    finally:
        engine.dispose()
    return report


_VEC_FIX = "pip install --force-reinstall sqlite-vec (or sqlean.py for a SQLite that loads extensions)"


def _file_check(engine: Engine) -> Check:
    """Can the file be read at all, and how is it opened (read-write, read-only, immutable)?"""
    path = Path(engine_path(engine))
    try:
        objects = probe(engine)
    except Exception as exc:
        return _failed("database", exc, path, _RESTORE)
    mode = access_mode(path)
    if mode == "rw":
        return Check("database", OK, f"SQLite file with {objects} schema objects, writable")
    how = "read-only" if mode == "ro" else "immutable (its folder cannot be written either)"
    return Check(
        "database",
        WARN,
        f"opened {how}: searches work, ingest/delete/vacuum/feeds cannot write",
        "make the file and its folder writable (chmod u+w) to write to it",
    )


def _failed(name: str, exc: BaseException, path: Path, fix: str) -> Check:
    """A check that raised: the typed cause (damaged, not an archive, too new) with its own fix."""
    typed = exc if isinstance(exc, ArchiveError) else classify_error(exc, path)
    if isinstance(typed, CorruptArchiveError):
        return Check(name, FAIL, f"the file is damaged or truncated: {_first_line(exc)}", _RESTORE)
    if isinstance(typed, NotAnArchiveError):
        return Check(name, FAIL, f"not an archive: {_first_line(exc)}", "check -d/--db (or ARCHIVE_DB)")
    if isinstance(typed, ArchiveError):
        return Check(name, FAIL, str(typed), fix)
    return Check(name, FAIL, _first_line(exc), fix)


def _run_checks(engine: Engine, report: Health, prefilter_min_rows: int | None) -> None:
    database = _file_check(engine)
    report.checks.append(database)
    if database.status == FAIL:
        return
    schema = _guard("schema", lambda: _schema(engine), "run `archive db upgrade`")
    report.checks.append(schema)
    if schema.status == FAIL:
        return
    with Session(engine) as session:
        report.checks.append(_guard("integrity", lambda: _integrity(session), _RESTORE))
        model = _guard("model", lambda: _model(session), "run `archive reembed --model MODEL`")
        report.checks.append(model)
        report.model = _model_name(session)
        if model.status != FAIL:
            report.checks.append(_guard("index counts", lambda: _counts(session), _REEMBED))
        report.checks.append(_guard("duplicate links", lambda: _links(session), _RELINK))
        report.checks.append(_guard("vector tables", lambda: _leftovers(session), _REEMBED))
        if model.status != FAIL:
            report.checks.append(_guard("article vectors", lambda: _article_vectors(session), _ARTICLES))
            report.checks.append(_guard("prefilter", lambda: _prefilter(session, prefilter_min_rows), _REEMBED))


_RESTORE = (
    "restore the file from a copy made by `archive backup` (the damage is in the file, not in sqlite-vec), "
    "or try `sqlite3 DB .recover`"
)
_REEMBED = "rebuild the vectors with `archive reembed --model MODEL` (the model `archive stats` shows)"
_ARTICLES = "run `archive reembed --articles` (embeds only what is missing; search ranks better once it has)"
_RELINK = "delete the listed articles with `archive delete --article ID` and ingest their files again"


def _guard(name: str, check: Callable[[], tuple[str, str] | tuple[str, str, str]], fix: str) -> Check:
    """Run one check; an exception becomes a failure of that check, never a crash of doctor."""
    try:
        found = check()
    except Exception as exc:  # a broken file raises all sorts (DatabaseError, OperationalError, ArchiveError)
        return _failed(name, exc, Path("DB"), fix)
    status, detail = found[0], found[1]
    return Check(name, status, detail, "" if status == OK else (found[2] if len(found) == 3 else fix))


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _extension(engine: Engine) -> tuple[str, str]:
    with Session(engine) as session:
        sqlite_version, vec_version = reads.sqlite_versions(session)
    return OK, f"SQLite {sqlite_version}, sqlite-vec {vec_version} loaded"


def _schema(engine: Engine) -> tuple[str, str, str]:
    current, head = migrate.current_revision(engine), migrate.head_revision()
    try:
        migrate.check_not_newer(current)
    except SchemaTooNewError:
        return (
            FAIL,
            f"schema at revision {current}, newer than this version of conflict-archive knows (newest {head})",
            "upgrade the package (pip install -U conflict-archive); `archive db upgrade` cannot go back",
        )
    if current is None:
        return (
            FAIL,
            "no schema: this file is not an archive",
            "check -d/--db, or create one with `archive ingest FILES`",
        )
    if current != head:
        return FAIL, f"schema at revision {current}, this version needs {head}", "run `archive db upgrade`"
    missing = _missing_indexes(engine)
    if missing:
        making = "; ".join(_index_ddl(name) for name in missing)
        return (
            FAIL,
            f"at head revision {head}, but index {', '.join(missing)} is missing (search reads its candidates' "
            "stories from it)",
            f'make it again with `sqlite3 DB "{making}"`, or restore the file from a copy made by `archive backup`',
        )
    return OK, f"at head revision {head}", ""


def _missing_indexes(engine: Engine) -> list[str]:
    """The indexes search statements name (``INDEXED BY``) that the file lacks."""
    with engine.connect() as conn:
        held = {str(r[0]) for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    return [name for name in STORY_INDEXES if name not in held]


def _index_ddl(name: str) -> str:
    """The statement that makes index ``name`` of the models (archive.store.models)."""
    index = next(i for table in Base.metadata.tables.values() for i in table.indexes if i.name == name)
    return str(CreateIndex(index).compile(dialect=sqlite.dialect())).strip()


def _integrity(session: Session) -> tuple[str, str]:
    problems = reads.quick_check(session)
    if problems == ["ok"]:
        return OK, "PRAGMA quick_check: ok"
    return FAIL, f"PRAGMA quick_check found {len(problems)} problem(s), first: {problems[0]}"


def _model(session: Session) -> tuple[str, str]:
    active = meta.active_model(session)
    if active is None:
        return FAIL, "no active embedding model recorded"
    dimension = vec_table_dimension(session.connection(), active.vector_table)
    if dimension is None:
        return FAIL, f"model {active.name!r} names vector table {active.vector_table}, which does not exist"
    if dimension != active.dimension:
        return (
            FAIL,
            f"model {active.name!r} is {active.dimension}-d but {active.vector_table} holds {dimension}-d vectors",
        )
    return OK, f"{active.name}, {active.dimension}-d, vectors in {active.vector_table}"


def _counts(session: Session) -> tuple[str, str] | tuple[str, str, str]:
    active = meta.active_model(session)
    assert active is not None  # the model check passed
    counts = reads.consistency_counts(session, active.vector_table)
    detail = f"{counts['chunks']} chunks, {counts['vectors']} vectors, {counts['fts_rows']} keyword-index rows"
    if "bit_vectors" in counts:
        detail += f", {counts['bit_vectors']} prefilter bit vectors"
    if not counts["chunks"] == counts["vectors"] == counts.get("bit_vectors", counts["vectors"]):
        return FAIL, detail, _REEMBED
    if counts["chunks"] != counts["fts_rows"]:
        return (
            FAIL,
            detail,
            "rebuild the keyword index: sqlite3 DB \"INSERT INTO fts_chunks(fts_chunks) VALUES('rebuild')\"",
        )
    return OK, detail


def _article_vectors(session: Session) -> tuple[str, str] | tuple[str, str, str]:
    active = meta.active_model(session)
    assert active is not None  # the model check passed
    table = article_table_for(active.vector_table)
    if not table_exists(session.connection(), table):
        return FAIL, f"the article vector table {table} is missing", _REEMBED
    stored = len(article_vectors.stored_ids(session, active.vector_table))
    if not active.article_vectors:
        return (
            WARN,
            f"{stored:,} article vectors; articles stored before they existed lack one, so search leaves them out",
        )
    return OK, f"{stored:,} article vectors in {table}"


def _links(session: Session) -> tuple[str, str]:
    dangling = reads.dangling_canonicals(session)
    if not dangling:
        return OK, "every duplicate points at a stored article"
    shown = ", ".join(str(i) for i in dangling[:10]) + (", …" if len(dangling) > 10 else "")
    return FAIL, f"{len(dangling)} article(s) point at a canonical article that does not exist: {shown}"


def _leftovers(session: Session) -> tuple[str, str] | tuple[str, str, str]:
    active = meta.active_model(session)
    extra = [t for t in reads.vector_tables(session) if active is None or t != active.vector_table]
    if extra:
        return (
            WARN,
            f"{', '.join(extra)} left by an interrupted reembed (unused, takes disk space)",
            "run `archive reembed --model MODEL` again: it drops the half-built table first",
        )
    return OK, "no leftover vector tables"


def _prefilter(session: Session, threshold: int | None) -> tuple[str, str] | tuple[str, str, str]:
    active = meta.active_model(session)
    assert active is not None  # the model check passed
    count, problem = knn.prefilter_health(session, active.vector_table)
    if problem is not None:
        return (
            WARN,
            f"the bit prefilter cannot be read ({problem}): searches above {knn.MATRIX_MAX_ROWS:,} passages use "
            "the slower exact scan",
            "reinstall the sqlite-vec version pyproject.toml pins (`pip install -e .`)",
        )
    if count is None:
        return OK, (
            f"no bit prefilter (vector size not a multiple of 8): searches above {knn.MATRIX_MAX_ROWS:,} "
            "passages use the exact scan"
        )
    if threshold is None:
        return OK, f"bit prefilter readable, {count:,} passages; searches never use it (ARCHIVE_PREFILTER_MIN_ROWS=off)"
    used = f"above {max(threshold, knn.MATRIX_MAX_ROWS):,} passages"
    if threshold < knn.MATRIX_MAX_ROWS:
        used += f" (from {threshold:,}, the sign bits of the vectors held in memory)"
    return OK, f"bit prefilter readable, {count:,} passages; searches use it {used}"


def _model_name(session: Session) -> str | None:
    try:
        active = meta.active_model(session)
    except Exception:  # the model check has reported why
        return None
    return active.name if active else None
