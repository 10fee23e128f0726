"""Reads outside search: articles and their copies, duplicate groups, feeds, delete selection, health checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.orm import Session, aliased

from archive.store.interface import in_batches
from archive.store.models import Article, Chunk, Feed, FeedItem, Source
from archive.store.sqlite.knn import vectors_for_chunks
from archive.store.sqlite.vtables import (
    FTS_TABLE,
    VEC_TABLE,
    existing_bits_table,
    is_article_table,
    is_bits_table,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    from typing_extensions import Unpack

    # A result row of any width: these reads hand named rows to the search and ops layers.
    AnyRow: TypeAlias = Row[Unpack[tuple[Any, ...]]]
    AnySelect: TypeAlias = Select[Unpack[tuple[Any, ...]]]


def _article_meta() -> AnySelect:
    return select(
        Article.id,
        Article.title,
        Article.url,
        Article.published_at,
        Article.duplicate_kind,
        Article.canonical_id,
        Source.name.label("outlet"),
    ).outerjoin(Source, Source.id == Article.source_id)


def article_copies(session: Session, article_id: int) -> list[AnyRow]:
    """The article, its canonical and every article linked to the same canonical."""
    root = session.scalar(select(Article.canonical_id).where(Article.id == article_id)) or article_id
    stmt = _article_meta().where((Article.id == root) | (Article.canonical_id == root))
    return list(session.execute(stmt))


def source_ids_for(session: Session, names: Sequence[str]) -> dict[str, int]:
    """Outlet name -> id, case-insensitively."""
    lowered = [n.lower() for n in names]
    rows = session.execute(select(Source.id, Source.name))
    return {r.name: r.id for r in rows if r.name.lower() in lowered}


def source_ids_for_all(session: Session) -> dict[str, int]:
    return {r.name: r.id for r in session.execute(select(Source.id, Source.name))}


def chunk_span(session: Session, chunk_id: int, article_id: int | None = None) -> tuple[int, int] | None:
    """The passage's offsets; with ``article_id``, only if it is that article's (or its canonical's) passage."""
    query = select(Chunk.char_start, Chunk.char_end).where(Chunk.id == chunk_id)
    if article_id is not None:
        canonical = select(Article.canonical_id).where(Article.id == article_id).scalar_subquery()
        query = query.where((Chunk.article_id == article_id) | (Chunk.article_id == canonical))
    row = session.execute(query).first()
    return (row[0], row[1]) if row else None


def duplicate_groups(
    session: Session, article_id: int | None = None, limit: int | None = None
) -> list[tuple[AnyRow, list[AnyRow]]]:
    """(canonical, copies) for every canonical article that has copies, largest groups first.

    With ``article_id``, only the group that article belongs to (as canonical or copy).
    """
    linked = select(Article.canonical_id, func.count().label("n")).where(Article.canonical_id.is_not(None))
    if article_id is not None:
        root = session.scalar(select(Article.canonical_id).where(Article.id == article_id)) or article_id
        linked = linked.where(Article.canonical_id == root)
    linked = linked.group_by(Article.canonical_id).order_by(func.count().desc(), Article.canonical_id)
    if limit is not None:
        linked = linked.limit(limit)
    roots = [r.canonical_id for r in session.execute(linked)]
    if not roots:
        return []
    meta = _article_meta().add_columns(Article.duplicate_score, Article.origin)
    canon = {r.id: r for r in session.execute(meta.where(Article.id.in_(roots)))}
    copies: dict[int, list[AnyRow]] = {}
    for r in session.execute(meta.where(Article.canonical_id.in_(roots)).order_by(Article.published_at, Article.id)):
        copies.setdefault(r.canonical_id, []).append(r)
    return [(canon[root], copies[root]) for root in roots if root in canon]


def article_links(session: Session) -> list[tuple[int, int | None, str | None, str | None]]:
    """(id, canonical_id, origin, duplicate_kind) of every article, for evaluations."""
    stmt = select(Article.id, Article.canonical_id, Article.origin, Article.duplicate_kind).order_by(Article.id)
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(stmt)]


# -- feeds ---------------------------------------------------------------------
def feeds(session: Session) -> list[Feed]:
    """Every feed, by id."""
    return list(session.scalars(select(Feed).order_by(Feed.id)))


def feed_item_counts(session: Session) -> dict[int, int]:
    """Feed id -> number of entries already seen."""
    stmt = select(FeedItem.feed_id, func.count()).group_by(FeedItem.feed_id)
    return {int(r[0]): int(r[1]) for r in session.execute(stmt)}


def seen_guids(session: Session, feed_id: int, guids: Sequence[str]) -> set[str]:
    """The subset of ``guids`` already recorded for the feed."""
    found: set[str] = set()
    for part in in_batches(list(set(guids))):
        found.update(session.scalars(select(FeedItem.guid).where(FeedItem.feed_id == feed_id, FeedItem.guid.in_(part))))
    return found


def articles_of_run(session: Session, run_id: int) -> dict[str, int]:
    """origin -> id of the articles an ingest run stored."""
    rows = session.execute(
        select(Article.origin, Article.id).where(Article.run_id == run_id, Article.origin.is_not(None))
    )
    return {r.origin: r.id for r in rows}


# -- delete selection ----------------------------------------------------------
def select_articles(
    session: Session,
    *,
    ids: Sequence[int] | None = None,
    source_ids: Sequence[int] | None = None,
    before: str | None = None,
    after: str | None = None,
) -> list[AnyRow]:
    """Articles matching every filter given, plus the exact copies that go with them, by id.

    ``before``/``after`` are ISO dates compared exclusively with the publication day;
    undated articles never match a date filter.
    """
    conds: list[ColumnElement[bool]] = []
    if ids is not None:
        conds.append(Article.id.in_([int(i) for i in ids]))
    if source_ids is not None:
        conds.append(Article.source_id.in_([int(i) for i in source_ids]))
    day = func.substr(Article.published_at, 1, 10)
    if before is not None:
        conds.append(day < before)
    if after is not None:
        conds.append(day > after)
    chosen = select(Article.id).where(*conds).correlate(None).scalar_subquery()
    copies = (Article.duplicate_kind == "exact") & Article.canonical_id.in_(chosen)
    stmt = _article_meta().where(Article.id.in_(chosen) | copies).order_by(Article.id)
    return list(session.execute(stmt))


# -- health checks and re-embedding --------------------------------------------
def sqlite_versions(session: Session) -> tuple[str, str]:
    """(SQLite version, sqlite-vec version) of the connection."""
    row = session.connection().exec_driver_sql("SELECT sqlite_version(), vec_version()").one()
    return str(row[0]), str(row[1])


def quick_check(session: Session) -> list[str]:
    """``PRAGMA quick_check`` messages: ``["ok"]`` for a sound file."""
    return [str(r[0]) for r in session.connection().exec_driver_sql("PRAGMA quick_check")]


def consistency_counts(session: Session, table: str = VEC_TABLE) -> dict[str, int]:
    """Rows in chunks, in the vector table ``table`` (and its bit prefilter, if any) and in the FTS index.

    All of them should agree.
    """
    conn = session.connection()
    counts = {
        "chunks": session.scalar(select(func.count()).select_from(Chunk)) or 0,
        "vectors": int(conn.exec_driver_sql(f"SELECT count(*) FROM {_ident(table)}").scalar() or 0),
        "fts_rows": int(conn.exec_driver_sql(f"SELECT count(*) FROM {FTS_TABLE}_docsize").scalar() or 0),
    }
    bits = existing_bits_table(conn, table)
    if bits is not None:
        counts["bit_vectors"] = int(conn.exec_driver_sql(f"SELECT count(*) FROM {bits}").scalar() or 0)
    return counts


def dangling_canonicals(session: Session) -> list[int]:
    """Ids of articles whose canonical_id names an article that does not exist."""
    target = aliased(Article)
    stmt = (
        select(Article.id)
        .outerjoin(target, target.id == Article.canonical_id)
        .where(Article.canonical_id.is_not(None), target.id.is_(None))
        .order_by(Article.id)
    )
    return list(session.scalars(stmt))


def vector_tables(session: Session) -> list[str]:
    """Names of every float vec0 table in the database (bit prefilter companions left out)."""
    sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE %USING vec0(%' ORDER BY name"
    return [
        str(r[0])
        for r in session.connection().exec_driver_sql(sql)
        if not is_bits_table(str(r[0])) and not is_article_table(str(r[0]))
    ]


def chunks_to_embed(session: Session, after_id: int, limit: int) -> list[AnyRow]:
    """Chunks with id > ``after_id`` (by id) with the article metadata a vector row carries."""
    stmt = (
        select(
            Chunk.id,
            Chunk.text,
            Chunk.text_hash,
            Article.title,
            Article.source_id,
            Article.published_at,
            Article.language,
        )
        .join(Article, Article.id == Chunk.article_id)
        .where(Chunk.id > after_id)
        .order_by(Chunk.id)
        .limit(limit)
    )
    return list(session.execute(stmt))


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ValueError(f"invalid table name {name!r}")
    return name


def articles_with_text(session: Session, after_id: int, limit: int) -> list[AnyRow]:
    """Articles holding text (not exact copies), id > ``after_id``, by id, with what re-cleaning needs."""
    stmt = (
        select(
            Article.id,
            Article.source_id,
            Article.title,
            Article.text,
            Article.published_at,
            Article.language,
            Article.duplicate_kind,
        )
        .where(Article.id > after_id, Article.text.is_not(None))
        .order_by(Article.id)
        .limit(limit)
    )
    return list(session.execute(stmt))


def chunk_vectors(session: Session, article_id: int, table: str = VEC_TABLE) -> list[tuple[str, int | None, bytes]]:
    """(text hash, group id, stored vector bytes) of an article's chunks."""
    rows = list(
        session.execute(select(Chunk.id, Chunk.text_hash, Chunk.group_id).where(Chunk.article_id == article_id))
    )
    vectors = vectors_for_chunks(session, [r.id for r in rows], table)
    return [(r.text_hash, r.group_id, vectors[r.id].tobytes()) for r in rows if r.id in vectors]
