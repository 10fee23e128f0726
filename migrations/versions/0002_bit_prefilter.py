"""binary-quantized prefilter table for every float vector table

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Adds ``<table>_bits`` (vec0, ``bit[N]`` plus the same metadata columns) next to
each float vector table and fills it from the stored vectors with sqlite-vec's
``vec_quantize_binary``. Large archives scan these 48-byte sign vectors first and
rescore the candidates with the float vectors (see ``archive.store.sqlite.reads.knn``).
No regular table changes, so autogenerate has nothing to compare.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from archive.store.sqlite import vtables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VEC0_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE %USING vec0(%'"


def _vec0_tables() -> list[str]:
    return [str(r[0]) for r in op.get_bind().exec_driver_sql(_VEC0_TABLES)]


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":  # pgvector searches through its HNSW index: no prefilter table
        return
    for table in _vec0_tables():
        if not vtables.is_bits_table(table):
            vtables.ensure_bits_table(conn, table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _vec0_tables():
        if vtables.is_bits_table(table):
            op.execute(f"DROP TABLE IF EXISTS {table}")
