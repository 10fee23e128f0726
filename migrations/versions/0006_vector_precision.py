"""vector precision: what each model record's vectors were computed in

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

* ``embedding_models.precision``: "float32", "bfloat16" (torch autocast, see
  ``archive.embedding.precision``), or several joined by "+" when an archive holds vectors of
  more than one; NULL while a record has no vectors. Every vector written before this revision
  was computed in float32, so records of archives that hold passages start as "float32".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("embedding_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("precision", sa.String(length=32), nullable=True))
    op.execute("UPDATE embedding_models SET precision = 'float32' WHERE EXISTS (SELECT 1 FROM chunks)")


def downgrade() -> None:
    with op.batch_alter_table("embedding_models", schema=None) as batch_op:
        batch_op.drop_column("precision")
