"""The PostgreSQL side of ``archive doctor``: server, pgvector, schema, model, index counts, links."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from archive.config import redact_url
from archive.store import migrate
from archive.store.models import Chunk
from archive.store.postgres.bulk import missing_hnsw
from archive.store.postgres.ddl import check_ident
from archive.store.postgres.engine import create_pg_engine
from archive.store.records import Check, Health
from archive.store.sqlite import article_vectors, meta, reads

OK, WARN, FAIL = "ok", "warn", "fail"


def diagnose(url: str) -> Health:
    """Every check of the PostgreSQL archive at ``url``; a failing check stops those that need it."""
    report = Health()
    try:
        engine = create_pg_engine(url)
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            vector = conn.exec_driver_sql("SELECT extversion FROM pg_extension WHERE extname = 'vector'").scalar()
    except Exception as exc:
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        report.checks.append(
            Check("database", FAIL, f"cannot open {redact_url(url)}: {first}", "check the URL and the server")
        )
        return report
    try:
        report.checks.append(Check("database", OK, f"PostgreSQL {version}, pgvector {vector or 'not installed'}"))
        current, head = migrate.current_revision(engine), migrate.head_revision()
        if current != head:
            report.checks.append(
                Check(
                    "schema",
                    FAIL,
                    f"schema at revision {current}, this version needs {head}",
                    "run `archive db upgrade`",
                )
            )
            return report
        report.checks.append(Check("schema", OK, f"at head revision {head}"))
        with Session(engine) as session:
            _model_checks(session, report)
    finally:
        engine.dispose()
    return report


def _model_checks(session: Session, report: Health) -> None:
    active = meta.active_model(session)
    if active is None:
        report.checks.append(
            Check("model", FAIL, "no active embedding model recorded", "run `archive reembed --model MODEL`")
        )
        return
    report.model = active.name
    report.checks.append(Check("model", OK, f"{active.name}, {active.dimension}-d, vectors in {active.vector_table}"))
    chunks = session.scalar(select(func.count()).select_from(Chunk)) or 0
    vectors = session.execute(text(f"SELECT count(*) FROM {check_ident(active.vector_table)}")).scalar() or 0
    detail = f"{chunks} chunks, {vectors} vectors"
    fix = "rebuild the vectors with `archive reembed --model MODEL`"
    report.checks.append(
        Check("index counts", OK if chunks == vectors else FAIL, detail, "" if chunks == vectors else fix)
    )
    missing = missing_hnsw(session.connection(), active.vector_table)
    if missing:
        detail = f"{', '.join(missing)} without an HNSW index (a bulk load did not finish): searches scan every row"
        report.checks.append(Check("vector indexes", FAIL, detail, "rebuild it with `archive vacuum`"))
    else:
        report.checks.append(Check("vector indexes", OK, "HNSW cosine indexes in place"))
    stored = len(article_vectors.stored_ids(session, active.vector_table))
    if active.article_vectors:
        report.checks.append(Check("article vectors", OK, f"{stored:,} article vectors"))
    else:
        report.checks.append(
            Check(
                "article vectors",
                WARN,
                f"{stored:,} article vectors; articles stored before they existed lack one, so search leaves them out",
                "run `archive reembed --articles`",
            )
        )
    dangling = reads.dangling_canonicals(session)
    if dangling:
        report.checks.append(
            Check(
                "duplicate links",
                FAIL,
                f"{len(dangling)} article(s) point at a missing canonical article",
                "delete them and ingest again",
            )
        )
    else:
        report.checks.append(Check("duplicate links", OK, "every duplicate points at a stored article"))
