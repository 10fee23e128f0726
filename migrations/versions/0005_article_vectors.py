"""article vectors: one vector per article (headline and lead) beside each passage vector table

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

* ``vec_articles`` (vec0, keyed by article id, the metadata columns of ``vec_chunks``) next to
  every passage vector table (``vec_chunks_N`` -> ``vec_articles_N``), by the same model.
* ``embedding_models.article_vectors``: whether every article holding text has its vector.
  Archives that already hold articles start without them (0) and search ranks as before
  until ``archive reembed --articles`` fills them; an empty archive starts complete, and
  ingest keeps it so. Search never mixes articles with and without vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from archive.store.postgres import ddl as pg
from archive.store.sqlite import vtables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VEC0_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE %USING vec0(%'"


def _passage_tables() -> list[str]:
    names = [str(r[0]) for r in op.get_bind().exec_driver_sql(_VEC0_TABLES)]
    return [n for n in names if n.startswith(vtables.VEC_TABLE) and not vtables.is_bits_table(n)]


# PostgreSQL: vector tables are the plain tables with an ``embedding`` vector column.
_PG_TABLES = (
    "SELECT c.relname, t.atttypmod FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.attname = 'embedding' AND c.relkind = 'r' "
    "AND n.nspname = current_schema() AND c.relname LIKE 'vec\\_chunks%'"
)


def _pg_passage_tables() -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in op.get_bind().execute(sa.text(_PG_TABLES))}


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("embedding_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("article_vectors", sa.Boolean(), server_default=sa.false(), nullable=False))
    if conn.dialect.name == "postgresql":
        for table, dimension in _pg_passage_tables().items():
            for statement in pg.article_table_ddl(table, dimension):
                op.execute(statement)
    else:
        for table in _passage_tables():
            dimension = vtables.vec_table_dimension(conn, table)
            if dimension is not None and not vtables.table_exists(conn, vtables.article_table_for(table)):
                op.execute(vtables.article_table_ddl(table, dimension))
    op.execute(
        "UPDATE embedding_models SET article_vectors = TRUE "
        "WHERE NOT EXISTS (SELECT 1 FROM articles WHERE text IS NOT NULL)"
    )


def downgrade() -> None:
    tables = _pg_passage_tables() if op.get_bind().dialect.name == "postgresql" else _passage_tables()
    for table in tables:
        op.execute(f"DROP TABLE IF EXISTS {vtables.article_table_for(table)}")
    with op.batch_alter_table("embedding_models", schema=None) as batch_op:
        batch_op.drop_column("article_vectors")
