"""The SQLite backend of :class:`ArchiveReader` and :class:`ArchiveWriter`: one session each.

Every method is one statement group of ``reads``, ``lookups``, ``facets``, ``meta``,
``boilerplate`` or ``writes`` bound to this snapshot's session and the active vector table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from archive.store.interface import Vector
from archive.store.models import Article, Base, EmbeddingModel, Feed, IngestRun
from archive.store.records import (
    ArticleInput,
    ArticleMeta,
    Candidate,
    ChunkRow,
    LearnedSentence,
    ModelRecord,
    OutletRow,
    SentenceSeen,
    StoredArticle,
    StoredCopy,
    VectorRow,
)
from archive.store.sqlite import article_vectors, boilerplate, facets, keyword, lookups, meta, reads, vtables, writes
from archive.store.sqlite.search import SqliteSearchReader
from archive.store.sqlite.vtables import VEC_TABLE


def model_record(row: EmbeddingModel) -> ModelRecord:
    return ModelRecord(
        row.name,
        row.dimension,
        row.vector_table,
        row.passage_format,
        row.fingerprint,
        row.article_vectors,
        row.precision,
    )


class SqliteReader(SqliteSearchReader):
    """:class:`archive.store.interface.ArchiveReader` over one SQLAlchemy session."""

    session: Session  # the ORM statement groups need a SQLAlchemy session; search alone needs less

    def __init__(self, session: Session, table: str = VEC_TABLE, *, prefilter_min_rows: int | None = None) -> None:
        super().__init__(session, table, prefilter_min_rows=prefilter_min_rows)

    def sibling(self) -> AbstractContextManager[SqliteReader] | None:
        """A reader of its own session on another pooled connection of the same engine (None when this session
        is bound to one connection)."""
        bind = self.session.get_bind()
        return self._sibling(bind) if isinstance(bind, Engine) else None

    @contextmanager
    def _sibling(self, engine: Engine) -> Iterator[SqliteReader]:
        with Session(engine) as session:
            yield type(self)(session, self.table, prefilter_min_rows=self.prefilter_min_rows)

    # -- ingest lookups
    def copies_by_hash(self, content_hashes: Sequence[str]) -> dict[str, list[StoredCopy]]:
        return lookups.copies_by_hash(self.session, content_hashes)

    def copies_by_url(self, canonical_urls: Sequence[str]) -> dict[str, list[StoredCopy]]:
        return lookups.copies_by_url(self.session, canonical_urls)

    def band_candidates(self, band_keys: Sequence[int]) -> dict[int, list[Candidate]]:
        return lookups.band_candidates(self.session, band_keys)

    def article_texts(self, article_ids: Sequence[int]) -> dict[int, str]:
        return lookups.article_texts(self.session, article_ids)

    def source_ids_by_name(self, names: Sequence[str]) -> dict[str, int]:
        return lookups.source_ids_by_name(self.session, names)

    def group_for_hash(self, text_hashes: Sequence[str]) -> dict[str, int]:
        return lookups.group_for_hash(self.session, text_hashes)

    def chunk_texts(self, article_id: int) -> list[tuple[int, int | None, str]]:
        return lookups.chunk_texts(self.session, article_id)

    def vectors_for_hashes(self, text_hashes: Sequence[str], *, with_titles: bool) -> dict[tuple[str, str], Vector]:
        return lookups.vectors_for_hashes(self.session, text_hashes, self.table, with_titles=with_titles)

    def learned_keys(self) -> dict[int, set[int]]:
        return boilerplate.learned_keys(self.session)

    # -- articles
    def article(self, article_id: int) -> StoredArticle | None:
        row = self.session.get(Article, article_id)
        if row is None:
            return None
        outlet = row.source.name if row.source else None
        return StoredArticle(
            row.id, row.title, row.text, outlet, row.url, row.published_at, row.canonical_id, row.duplicate_kind
        )

    def article_copies(self, article_id: int) -> list[Any]:
        return reads.article_copies(self.session, article_id)

    def chunk_span(self, chunk_id: int, article_id: int | None = None) -> tuple[int, int] | None:
        return reads.chunk_span(self.session, chunk_id, article_id)

    def duplicate_groups(self, article_id: int | None, limit: int | None) -> list[tuple[Any, list[Any]]]:
        return reads.duplicate_groups(self.session, article_id, limit)

    def select_articles(
        self, *, ids: Sequence[int] | None, source_ids: Sequence[int] | None, before: str | None, after: str | None
    ) -> list[Any]:
        return reads.select_articles(self.session, ids=ids, source_ids=source_ids, before=before, after=after)

    def source_ids_for(self, names: Sequence[str]) -> dict[str, int]:
        return reads.source_ids_for(self.session, names)

    # -- stats, model, boilerplate
    def counts(self) -> dict[str, int]:
        return meta.counts(self.session)

    def date_span(self) -> tuple[str | None, str | None]:
        return meta.date_span(self.session)

    def active_model(self) -> ModelRecord | None:
        row = meta.active_model(self.session)
        return model_record(row) if row is not None else None

    def vector_dimension(self, table: str) -> int | None:
        return vtables.vec_table_dimension(self.session.connection(), table)

    def vector_tables(self) -> list[str]:
        return reads.vector_tables(self.session)

    def learned(self, outlet: str | None = None) -> list[LearnedSentence]:
        return boilerplate.learned(self.session, outlet)

    def boilerplate_is_empty(self) -> bool:
        return boilerplate.is_empty(self.session)

    # -- coverage
    def outlet_rows(self) -> list[OutletRow]:
        return facets.outlet_rows(self.session)

    def articles_with_every_term(self, terms: Sequence[Sequence[str]]) -> set[int]:
        return facets.articles_with_every_term(self.session, [keyword.term_expression(t) for t in terms])

    def with_exact_copies(self, article_ids: set[int]) -> set[int]:
        return facets.with_exact_copies(self.session, article_ids)

    def article_meta(self, article_ids: set[int]) -> list[ArticleMeta]:
        return facets.article_meta(self.session, article_ids)

    # -- feeds and runs
    def feeds(self) -> list[Feed]:
        return self._detached(reads.feeds(self.session))

    def feed(self, feed_id: int) -> Feed | None:
        row = self.session.get(Feed, feed_id)
        return None if row is None else self._detached([row])[0]

    def feed_item_counts(self) -> dict[int, int]:
        return reads.feed_item_counts(self.session)

    def seen_guids(self, feed_id: int, guids: Sequence[str]) -> set[str]:
        return reads.seen_guids(self.session, feed_id, guids)

    def articles_of_run(self, run_id: int) -> dict[str, int]:
        return reads.articles_of_run(self.session, run_id)

    def runs(self, limit: int = 20, run_id: int | None = None) -> list[IngestRun]:
        stmt = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
        if run_id is not None:
            stmt = select(IngestRun).where(IngestRun.id == run_id)
        return self._detached(list(self.session.scalars(stmt)))

    # -- maintenance reads
    def chunks_to_embed(self, after_id: int, limit: int) -> list[Any]:
        return reads.chunks_to_embed(self.session, after_id, limit)

    def articles_with_text(self, after_id: int, limit: int) -> list[Any]:
        return reads.articles_with_text(self.session, after_id, limit)

    def chunk_vectors(self, article_id: int) -> list[tuple[str, int | None, bytes]]:
        return reads.chunk_vectors(self.session, article_id, self.table)

    def table_rows(self, table: str, offset: int, limit: int) -> list[dict[str, Any]]:
        orm = Base.metadata.tables[table]
        stmt = select(orm).order_by(*orm.primary_key.columns).offset(offset).limit(limit)
        return [dict(r._mapping) for r in self.session.execute(stmt)]

    def vector_rows(self, after_id: int, limit: int) -> list[VectorRow]:
        return self._rows_after(vtables.check_ident(self.table), "chunk_id", after_id, limit)

    def article_vector_rows(self, after_id: int, limit: int) -> list[VectorRow]:
        return self._rows_after(vtables.article_table_for(self.table), "article_id", after_id, limit)

    def _rows_after(self, table: str, key: str, after_id: int, limit: int) -> list[VectorRow]:
        sql = (
            f"SELECT {key}, embedding, source_id, published, language FROM {table} "
            f"WHERE {key} > ? ORDER BY {key} LIMIT ?"
        )
        rows = self.session.connection().exec_driver_sql(sql, (int(after_id), int(limit)))
        return [(int(r[0]), bytes(r[1]), int(r[2] or 0), int(r[3] or 0), str(r[4] or "")) for r in rows]

    def _detached(self, rows: list[Any]) -> list[Any]:
        """ORM rows usable after the session closes (loaded, then expunged)."""
        for row in rows:
            self.session.expunge(row)
        return rows

    # -- article vectors
    def article_vector_ids(self, table: str | None = None) -> set[int]:
        return article_vectors.stored_ids(self.session, table or self.table)

    def articles_for_vectors(self, after_id: int, limit: int) -> list[ArticleInput]:
        return article_vectors.articles_after(self.session, after_id, limit)


class SqliteWriter(SqliteReader):
    """:class:`archive.store.interface.ArchiveWriter` over one session inside ``BEGIN IMMEDIATE``."""

    def sibling(self) -> None:
        return None  # another connection would not see this transaction's writes

    def source_id_for(self, name: str | None, domain: str | None = None) -> int | None:
        return writes.source_id_for(self.session, name, domain)

    def add_article(self, **fields: object) -> int:
        return writes.add_article(self.session, **fields)

    def add_chunks(self, article_id: int, rows: Sequence[ChunkRow]) -> list[int]:
        return writes.add_chunks(self.session, article_id, rows)

    def replace_chunks(self, article_id: int, rows: Sequence[ChunkRow]) -> list[int]:
        return writes.replace_chunks(self.session, article_id, rows, table=self.table)

    def update_article_text(
        self, article_id: int, *, text: str, content_hash: str, minhash: bytes, band_keys: Sequence[int]
    ) -> None:
        writes.update_article_text(
            self.session, article_id, text=text, content_hash=content_hash, minhash=minhash, band_keys=band_keys
        )

    def set_groups(self, updates: Sequence[tuple[int, int]]) -> None:
        writes.set_groups(self.session, updates)

    def add_vector_rows(self, rows: Sequence[VectorRow], *, table: str | None = None) -> None:
        writes.add_vector_rows(self.session, rows, table=table or self.table)

    def add_band_rows(self, rows: Sequence[tuple[int, int]]) -> None:
        writes.add_band_rows(self.session, rows)

    def add_article_vectors(self, rows: Sequence[VectorRow], *, table: str | None = None) -> None:
        article_vectors.add(self.session, rows, table or self.table)

    def mark_article_vectors(self, complete: bool, *, table: str | None = None) -> None:
        article_vectors.mark_complete(self.session, table or self.table, complete)

    def note_precision(self, precision: str, *, table: str | None = None) -> None:
        meta.note_precision(self.session, table or self.table, precision)

    def count_sentences(self, seen: Sequence[SentenceSeen]) -> list[tuple[int, int]]:
        return boilerplate.count_sentences(self.session, seen)

    def forget_counts(self) -> None:
        boilerplate.forget_counts(self.session)

    def delete_articles(self, article_ids: Sequence[int]) -> int:
        return writes.delete_articles(self.session, article_ids, table=self.table)

    def start_run(self, command: str, pid: int) -> int:
        return writes.start_run(self.session, command, pid)

    def update_run(self, run_id: int, report: object) -> None:
        writes.update_run(self.session, run_id, report)

    def finish_run(self, run_id: int, report: object, status: str, errors_json: str | None) -> None:
        writes.finish_run(self.session, run_id, report, status, errors_json)

    def interrupt_stale_runs(self, run_ids: Sequence[int] | None = None, *, live_pid: int | None = None) -> int:
        return writes.interrupt_stale_runs(self.session, run_ids, live_pid=live_pid)

    def run_statuses(self, run_ids: Sequence[int]) -> dict[int, str]:
        rows = self.session.execute(select(IngestRun.id, IngestRun.status).where(IngestRun.id.in_(list(run_ids))))
        return {int(rid): str(status) for rid, status in rows}

    def add_feed(self, url: str, outlet: str | None) -> int:
        return writes.add_feed(self.session, url, outlet)

    def delete_feed(self, feed_id: int) -> bool:
        return writes.delete_feed(self.session, feed_id)

    def record_feed_items(self, feed_id: int, items: Sequence[tuple[str, int | None]]) -> None:
        writes.record_feed_items(self.session, feed_id, items)

    def update_feed(self, feed_id: int, *, status: str, etag: str | None, modified: str | None) -> None:
        writes.update_feed(self.session, feed_id, status=status, etag=etag, modified=modified)

    def record_model(
        self, name: str, dimension: int, fingerprint: str | None, table: str, *, precision: str | None = None
    ) -> ModelRecord:
        row = meta.record_model(self.session, name, dimension, fingerprint, table=table, precision=precision)
        return model_record(row)

    def free_vector_table(self) -> str:
        taken = set(self.vector_tables()) | {self.table}
        number = 2
        while f"{vtables.VEC_TABLE}_{number}" in taken:
            number += 1
        return f"{vtables.VEC_TABLE}_{number}"

    def create_vector_table(self, table: str, dimension: int) -> None:
        vtables.create_vec_table(self.session.connection(), table, dimension)

    def drop_vector_table(self, table: str) -> None:
        vtables.drop_vec_table(self.session.connection(), table)

    def insert_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(Base.metadata.tables[table]), list(rows))

    def ids_inserted(self) -> None:
        pass  # SQLite's INTEGER PRIMARY KEY continues after the highest id by itself

    def integrity_problems(self) -> list[str]:
        problems = reads.quick_check(self.session)
        return [] if problems == ["ok"] else problems
