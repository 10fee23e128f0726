"""story indexes: a search's story lookups answered from two covering indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

* ``ix_articles_story`` (id, canonical_id): an article row holds canonical_id after its text, so reading it
  walked the text's overflow pages; the index holds the pair alone.
* ``ix_chunks_story`` (id, article_id, group_id): a passage's article and duplicate group without reading the
  row that holds its text.

SQLite's statements name them (``INDEXED BY``: its planner keeps the rowid lookup otherwise); on PostgreSQL
they are plain B-trees its planner may take for index-only scans.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_articles_story", "articles", ["id", "canonical_id"])
    op.create_index("ix_chunks_story", "chunks", ["id", "article_id", "group_id"])


def downgrade() -> None:
    op.drop_index("ix_chunks_story", table_name="chunks")
    op.drop_index("ix_articles_story", table_name="articles")
