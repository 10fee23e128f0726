"""The PostgreSQL backend of :class:`ArchiveReader` and :class:`ArchiveWriter`.

The ORM statement groups (articles, carriers, coverage, feeds, runs) are dialect-neutral and
shared with the SQLite backend; what differs — vectors, keyword search, upserts, the vector
tables — is overridden here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import case, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from archive.store.interface import (
    Filters,
    HybridCandidates,
    HybridRequest,
    KeywordQuery,
    Vector,
    in_batches,
)
from archive.store.models import Article, ArticleBand, Chunk, EmbeddingModel, FeedItem, OutletSentence, utcnow
from archive.store.postgres import hybrid, search
from archive.store.postgres.ddl import article_table_ddl, check_ident, vector_table_ddl
from archive.store.records import ChunkRow, SentenceSeen, VectorRow
from archive.store.sqlite import boilerplate
from archive.store.sqlite.search import CARRIERS_SELECT
from archive.store.sqlite.session import SqliteReader, SqliteWriter
from archive.store.sqlite.vtables import article_table_for, is_article_table
from archive.store.sqlite.writes import _rowcount

_VECTOR_TABLES = (
    "SELECT c.relname FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE t.attname = 'embedding' AND c.relkind = 'r' AND n.nspname = current_schema() "
    "AND c.relname LIKE 'vec\\_%' ORDER BY c.relname"
)
_DIMENSION = (
    "SELECT t.atttypmod FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relname = :table AND t.attname = 'embedding' AND n.nspname = current_schema()"
)


class PostgresReader(SqliteReader):
    """:class:`archive.store.interface.ArchiveReader` over one session of a PostgreSQL archive."""

    PASSAGES_SQL = (
        "SELECT c.id, c.text, c.char_start, c.char_end, c.group_id, c.article_id, a.canonical_id, a.title, a.url, "
        "a.published_at, s.name FROM chunks AS c JOIN articles AS a ON a.id = c.article_id "
        "LEFT JOIN sources AS s ON s.id = a.source_id WHERE c.id = ANY(:ids)"
    )
    PASSAGE_STORIES_SQL = (
        "SELECT c.id, coalesce(a.canonical_id, c.article_id), c.group_id FROM chunks AS c "
        "JOIN articles AS a ON a.id = c.article_id WHERE c.id = ANY(:ids)"
    )
    STORY_IDS_SQL = "SELECT a.id, a.canonical_id FROM articles AS a WHERE a.id = ANY(:ids)"
    STORY_PASSAGES_SQL = (
        "SELECT c.article_id, c.id FROM chunks AS c WHERE c.article_id = ANY(:ids) ORDER BY c.article_id, c.ordinal"
    )
    STORY_CARRIERS_SQL = CARRIERS_SELECT + "WHERE a.id = ANY(:ids) OR a.canonical_id = ANY(:ids)"
    GROUP_ARTICLES_SQL = "SELECT DISTINCT c.group_id, c.article_id FROM chunks AS c WHERE c.group_id = ANY(:ids)"
    EXACT_COPIES_SQL = (
        CARRIERS_SELECT + "WHERE a.id = ANY(:ids) OR (a.canonical_id = ANY(:ids) AND a.duplicate_kind = 'exact')"
    )
    fuse_in_sql = True  # hybrid lists and fusion in one statement (False: one statement per list, fused in Python)

    def _by_ids(self, sql: str, ids: list[int]) -> Any:
        return self.session.execute(text(sql), {"ids": ids})

    def knn(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        return search.knn(self.session, vector, k, filters, self.table)

    def _article_vectors_recorded(self) -> bool:
        stmt = select(EmbeddingModel.article_vectors).where(
            EmbeddingModel.vector_table == self.table, EmbeddingModel.is_active
        )
        return bool(self.session.scalar(stmt.limit(1)))

    def passage_keyword(self, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
        return search.passage_keyword(self.session, query, limit, filters)

    def article_keyword(self, query: KeywordQuery, limit: int, filters: Filters) -> list[tuple[int, float]]:
        return search.article_keyword(self.session, query, limit, filters)

    def hybrid_candidates(self, request: HybridRequest) -> HybridCandidates | None:
        if not self.fuse_in_sql:
            return None
        return hybrid.hybrid_candidates(self.session, request, self.table, articles=self.article_vectors_complete())

    def articles_matching(self, alternatives: Sequence[str], article_ids: Sequence[int]) -> set[int]:
        return search.articles_matching(self.session, alternatives, article_ids)

    def articles_with_every_term(self, terms: Sequence[Sequence[str]]) -> set[int]:
        return search.articles_with_every_term(self.session, terms)

    def vectors(self, passage_ids: Sequence[int]) -> dict[int, Vector]:
        return search.vectors_for_chunks(self.session, passage_ids, self.table)

    def vectors_for_hashes(self, text_hashes: Sequence[str], *, with_titles: bool) -> dict[tuple[str, str], Vector]:
        if not text_hashes:
            return {}
        stmt = (
            select(Chunk.text_hash, Chunk.id, Article.title)
            .join(Article, Article.id == Chunk.article_id)
            .where(Chunk.text_hash.in_(list(set(text_hashes))))
        )
        by_id = {r.id: (r.text_hash, r.title if with_titles else "") for r in self.session.execute(stmt)}
        found: dict[tuple[str, str], Vector] = {}
        for chunk_id, vector in search.vectors_for_chunks(self.session, list(by_id), self.table).items():
            found.setdefault(by_id[chunk_id], vector)
        return found

    def chunk_vectors(self, article_id: int) -> list[tuple[str, int | None, bytes]]:
        rows = list(
            self.session.execute(
                select(Chunk.id, Chunk.text_hash, Chunk.group_id).where(Chunk.article_id == article_id)
            )
        )
        vectors = search.vectors_for_chunks(self.session, [r.id for r in rows], self.table)
        return [(r.text_hash, r.group_id, vectors[r.id].tobytes()) for r in rows if r.id in vectors]

    def _rows_after(self, table: str, key: str, after_id: int, limit: int) -> list[VectorRow]:
        sql = (
            f"SELECT {key}, embedding::real[], source_id, published, language FROM {check_ident(table)} "
            f"WHERE {key} > :after ORDER BY {key} LIMIT :limit"
        )
        rows = self.session.execute(text(sql), {"after": int(after_id), "limit": int(limit)})
        return [(int(r[0]), search.parse_vector(r[1]).tobytes(), int(r[2]), int(r[3]), str(r[4])) for r in rows]

    def vector_dimension(self, table: str) -> int | None:
        value = self.session.execute(text(_DIMENSION), {"table": check_ident(table)}).scalar()
        return int(value) if value is not None and int(value) > 0 else None

    def vector_tables(self) -> list[str]:
        return [str(r[0]) for r in self.session.execute(text(_VECTOR_TABLES)) if not is_article_table(str(r[0]))]

    # -- article vectors
    def _nearest_articles(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        return search.knn(self.session, vector, k, filters, article_table_for(self.table), key="article_id")


class PostgresWriter(PostgresReader, SqliteWriter):
    """:class:`archive.store.interface.ArchiveWriter`: one transaction of a PostgreSQL archive."""

    def set_groups(self, updates: Sequence[tuple[int, int]]) -> None:
        if updates:
            sql = "UPDATE chunks SET group_id = v.g FROM unnest(:groups, :chunks) AS v(g, c) WHERE chunks.id = v.c"
            params = {"groups": [int(g) for g, _ in updates], "chunks": [int(c) for _, c in updates]}
            self.session.execute(text(sql), params)

    def add_vector_rows(self, rows: Sequence[VectorRow], *, table: str | None = None) -> None:
        self._insert_vectors(check_ident(table or self.table), "chunk_id", rows, upsert=False)

    def add_article_vectors(self, rows: Sequence[VectorRow], *, table: str | None = None) -> None:
        self._insert_vectors(check_ident(article_table_for(table or self.table)), "article_id", rows, upsert=True)

    def _insert_vectors(self, table: str, key: str, rows: Sequence[VectorRow], *, upsert: bool) -> None:
        if not rows:
            return
        conflict = (
            f" ON CONFLICT ({key}) DO UPDATE SET embedding = EXCLUDED.embedding, source_id = EXCLUDED.source_id, "
            "published = EXCLUDED.published, language = EXCLUDED.language"
            if upsert
            else ""
        )
        sql = text(
            f"INSERT INTO {table} ({key}, embedding, source_id, published, language) "
            f"VALUES (:id, CAST(:v AS vector), :s, :p, :l){conflict}"
        )
        params = [
            {"id": r[0], "v": np.frombuffer(r[1], dtype=np.float32), "s": r[2], "p": r[3], "l": r[4]} for r in rows
        ]
        self.session.connection().execute(sql, params)

    def add_band_rows(self, rows: Sequence[tuple[int, int]]) -> None:
        if rows:
            values = [{"band_key": k, "article_id": a} for k, a in dict.fromkeys(rows)]
            for part in in_batches(values, 5000):  # bound parameters per statement stay under 65,535
                self.session.execute(pg_insert(ArticleBand).values(part).on_conflict_do_nothing())

    def count_sentences(self, seen: Sequence[SentenceSeen]) -> list[tuple[int, int]]:
        if not seen:
            return []
        table = OutletSentence.__table__
        for s in seen:
            stmt = pg_insert(OutletSentence).values(
                source_id=s.source_id,
                sentence_key=s.key,
                stories=1,
                first_published=s.published,
                last_published=s.published,
                boilerplate=False,
            )
            first, last = table.c.first_published, table.c.last_published
            new_first, new_last = stmt.excluded.first_published, stmt.excluded.last_published
            stmt = stmt.on_conflict_do_update(
                index_elements=["source_id", "sentence_key"],
                set_={
                    "stories": table.c.stories + 1,
                    "first_published": case(
                        ((first.is_(None)) | (new_first < first), func.coalesce(new_first, first)), else_=first
                    ),
                    "last_published": case(
                        ((last.is_(None)) | (new_last > last), func.coalesce(new_last, last)), else_=last
                    ),
                },
            )
            self.session.execute(stmt)
        return boilerplate.promote_counted(self.session, seen)

    def delete_articles(self, article_ids: Sequence[int]) -> int:
        # Vector rows go with their chunks (ON DELETE CASCADE), so the shared ORM delete suffices
        # once no vec0-style table needs explicit deletes.
        ids = [int(i) for i in article_ids]
        if not ids:
            return 0
        copies = self.session.scalars(
            select(Article.id).where(Article.canonical_id.in_(ids), Article.duplicate_kind == "exact")
        )
        ids = sorted(set(ids) | set(copies))
        self.session.execute(delete(Chunk).where(Chunk.article_id.in_(ids)))
        self.session.execute(
            update(Article)
            .where(Article.canonical_id.in_(ids))
            .values(canonical_id=None, duplicate_kind=None, duplicate_score=None)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(self.session.execute(delete(Article).where(Article.id.in_(ids))))

    def replace_chunks(self, article_id: int, rows: Sequence[ChunkRow]) -> list[int]:
        self.session.execute(delete(Chunk).where(Chunk.article_id == article_id))
        return self.add_chunks(article_id, rows)

    def record_feed_items(self, feed_id: int, items: Sequence[tuple[str, int | None]]) -> None:
        if items:
            now = utcnow()
            values = [{"feed_id": feed_id, "guid": g, "article_id": a, "seen_at": now} for g, a in items]
            self.session.execute(pg_insert(FeedItem).values(values).on_conflict_do_nothing())

    def create_vector_table(self, table: str, dimension: int) -> None:
        for statement in [*vector_table_ddl(table, dimension), *article_table_ddl(table, dimension)]:
            self.session.connection().exec_driver_sql(statement)

    def drop_vector_table(self, table: str) -> None:
        self.session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {check_ident(article_table_for(table))}")
        self.session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {check_ident(table)}")

    def ids_inserted(self) -> None:
        for table in ("sources", "articles", "chunks", "ingest_runs", "feeds", "embedding_models"):
            self.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
            )

    def integrity_problems(self) -> list[str]:
        return []  # the server checks its own pages; there is no quick_check to run
