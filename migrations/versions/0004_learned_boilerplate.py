"""learned boilerplate: per-outlet sentence counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

``outlet_sentences``: per outlet, how many distinct stories hold each sentence, over which dates,
and whether that makes it learned boilerplate (``archive.text.boilerplate``). Archives from before
start empty: ``archive clean`` counts their stored stories first, then removes what it learned.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outlet_sentences",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("sentence_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("stories", sa.Integer(), nullable=False),
        sa.Column("first_published", sa.String(length=32), nullable=True),
        sa.Column("last_published", sa.String(length=32), nullable=True),
        sa.Column("boilerplate", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_outlet_sentences_source_id_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("source_id", "sentence_key", name=op.f("pk_outlet_sentences")),
    )


def downgrade() -> None:
    op.drop_table("outlet_sentences")
