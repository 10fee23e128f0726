"""article context: headline-aware passage vectors and a whole-article keyword index

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

* ``embedding_models.passage_format``: what a passage vector embeds. Existing vector tables hold
  passages alone ("text"); new ones embed the article's headline with each passage ("title").
  Existing archives keep working and ingest in their recorded format; ``archive reembed``
  rebuilds the vectors in the new one.
* ``fts_articles``: FTS5 over every article's headline and text (external content on
  ``articles``, kept in step by triggers), for headline matches and whole-article BM25.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from archive.store.postgres import ddl as pg
from archive.store.sqlite import vtables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("embedding_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("passage_format", sa.String(length=16), server_default="text", nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        for statement in pg.ARTICLES_SEARCH_DDL:
            op.execute(statement)
        return
    op.execute(vtables.ARTICLE_FTS_DDL)
    for trigger in vtables.ARTICLE_FTS_TRIGGERS:
        op.execute(trigger)
    op.execute(f"INSERT INTO {vtables.ARTICLE_FTS_TABLE}({vtables.ARTICLE_FTS_TABLE}) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE articles DROP COLUMN IF EXISTS {pg.SEARCH_COLUMN}")
    else:
        for name in vtables.ARTICLE_FTS_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {vtables.ARTICLE_FTS_TABLE}")
    with op.batch_alter_table("embedding_models", schema=None) as batch_op:
        batch_op.drop_column("passage_format")
