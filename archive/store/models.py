"""ORM models (SQLAlchemy 2.0 typed declarative). Virtual tables (vec0, FTS5) live in vtables.py."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, MetaData, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

intpk = Annotated[int, mapped_column(primary_key=True)]


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Source(Base):
    """An outlet (publisher) that carried articles."""

    __tablename__ = "sources"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    domain: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Article(Base):
    """One copy of an article as seen by the archive.

    Exact copies keep their metadata but no text (``canonical_id`` points at the
    article holding it); near-duplicates keep their text and chunks and point at
    the article they were syndicated from.
    """

    __tablename__ = "articles"
    # A search reads each candidate's story (canonical_id) from this index: in the table, canonical_id comes
    # after the text, so reading it walked the text's overflow pages (a long article spans several).
    __table_args__ = (Index("ix_articles_story", "id", "canonical_id"),)
    id: Mapped[intpk]
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text, index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[str | None] = mapped_column(String(32), index=True)  # ISO 8601
    language: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    canonical_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    duplicate_kind: Mapped[str | None] = mapped_column(String(16))  # None | "exact" | "near"
    duplicate_score: Mapped[float | None]
    origin: Mapped[str | None] = mapped_column(Text)  # file path / feed URL it came from
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id", ondelete="SET NULL"), index=True)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)

    source: Mapped[Source | None] = relationship(lazy="joined")
    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="article", cascade="all, delete-orphan", passive_deletes=True, order_by="Chunk.ordinal"
    )


class Chunk(Base):
    """A passage of an article's cleaned text: ``article.text[char_start:char_end] == text``."""

    __tablename__ = "chunks"
    # ix_chunks_story: a search reads each candidate passage's article and group from it, not from the row
    # that holds the passage's text (a page per passage, where the index holds hundreds of them a page)
    __table_args__ = (
        UniqueConstraint("article_id", "ordinal"),
        Index("ix_chunks_story", "id", "article_id", "group_id"),
    )
    id: Mapped[intpk]
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    char_start: Mapped[int]
    char_end: Mapped[int]
    token_count: Mapped[int]
    text_hash: Mapped[str] = mapped_column(String(64), index=True)
    # Passages with the same group_id are the same text carried by several articles.
    group_id: Mapped[int | None] = mapped_column(index=True)

    article: Mapped[Article] = relationship(back_populates="chunks")


class ArticleBand(Base):
    """MinHash LSH band keys: articles sharing a key are near-duplicate candidates."""

    __tablename__ = "article_bands"
    __table_args__ = (Index("ix_article_bands_article_id", "article_id"),)
    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)


class EmbeddingModel(Base):
    """The model whose vectors fill ``vector_table``; exactly one row is active."""

    __tablename__ = "embedding_models"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(Text)
    dimension: Mapped[int]
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    vector_table: Mapped[str] = mapped_column(String(64))
    # What each passage vector embeds: "text" (the passage alone, archives before 0003) or
    # "title" (the article's headline, a newline, the passage). Ingest follows the record, so
    # one vector table never mixes the two; `archive reembed` moves an archive to the current one.
    passage_format: Mapped[str] = mapped_column(String(16), default="title", server_default="text")
    # Whether every article holding text has its article vector (headline and lead) in the table
    # beside ``vector_table``; false for archives stored before 0005 until `archive reembed --articles`.
    article_vectors: Mapped[bool] = mapped_column(default=True, server_default=false())
    # What the vectors were computed in: "float32", "bfloat16", or several joined by "+" (None: none yet).
    precision: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IngestRun(Base):
    """One run of ``archive ingest`` / ``feeds poll``: what it read and what it did."""

    __tablename__ = "ingest_runs"
    id: Mapped[intpk]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|ok|partial|failed|interrupted
    command: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None]
    files: Mapped[int] = mapped_column(default=0)
    added: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    chunks: Mapped[int] = mapped_column(default=0)
    errors: Mapped[str | None] = mapped_column(Text)  # JSON list of {"path", "error"}


class OutletSentence(Base):
    """How many distinct stories of one outlet hold a sentence, and over which dates.

    Sentences that cross the bar of ``archive.text.boilerplate.is_boilerplate`` are marked
    ``boilerplate`` (their text kept for ``archive boilerplate``) and removed at ingest.
    """

    __tablename__ = "outlet_sentences"
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    sentence_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    stories: Mapped[int] = mapped_column(default=0)
    first_published: Mapped[str | None] = mapped_column(String(32))
    last_published: Mapped[str | None] = mapped_column(String(32))
    boilerplate: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str | None] = mapped_column(Text)


class Feed(Base):
    """An RSS/Atom feed polled by ``archive feeds poll``."""

    __tablename__ = "feeds"
    id: Mapped[intpk]
    url: Mapped[str] = mapped_column(Text, unique=True)
    outlet: Mapped[str | None] = mapped_column(String(200))
    etag: Mapped[str | None] = mapped_column(Text)
    modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedItem(Base):
    """A feed entry already seen, so a poll ingests new items only."""

    __tablename__ = "feed_items"
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True)
    guid: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
