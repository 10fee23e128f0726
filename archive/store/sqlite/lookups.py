"""Lookups the ingest pipeline makes once per batch: stored copies, LSH candidates, passage groups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from archive.store.interface import in_batches
from archive.store.models import Article, ArticleBand, Chunk, Source
from archive.store.records import Candidate, StoredCopy
from archive.store.sqlite.knn import vectors_for_chunks
from archive.store.sqlite.vtables import VEC_TABLE


def copies_by_hash(session: Session, content_hashes: Sequence[str]) -> dict[str, list[StoredCopy]]:
    """Stored articles with these content hashes (to skip re-ingests and link exact copies)."""
    found: dict[str, list[StoredCopy]] = {}
    for part in in_batches(list(set(content_hashes))):
        for copy in _copies(session, Article.content_hash.in_(part)):
            found.setdefault(copy.content_hash, []).append(copy)
    return found


def copies_by_url(session: Session, canonical_urls: Sequence[str]) -> dict[str, list[StoredCopy]]:
    """Stored articles with these canonical URLs (to skip re-ingests whose cleaning has changed since)."""
    found: dict[str, list[StoredCopy]] = {}
    for part in in_batches(list(set(canonical_urls))):
        for copy in _copies(session, Article.canonical_url.in_(part)):
            found.setdefault(copy.canonical_url or "", []).append(copy)
    return found


def _copies(session: Session, where: ColumnElement[bool]) -> list[StoredCopy]:
    stmt = (
        select(
            Article.id,
            Article.content_hash,
            Article.canonical_url,
            Article.source_id,
            Article.text.is_not(None),
            Article.canonical_id,
        )
        .where(where)
        .order_by(Article.id)
    )
    return [StoredCopy(row[0], row[1], row[2], row[3], bool(row[4]), row[5]) for row in session.execute(stmt)]


def band_candidates(session: Session, band_keys: Sequence[int]) -> dict[int, list[Candidate]]:
    """Per band key, the stored articles (with text) sharing it."""
    keyed: dict[int, list[int]] = {}
    for part in in_batches(sorted({int(k) for k in band_keys})):
        stmt = select(ArticleBand.band_key, ArticleBand.article_id).where(ArticleBand.band_key.in_(part))
        for key, aid in session.execute(stmt):
            keyed.setdefault(key, []).append(aid)
    found: dict[int, Candidate] = {}
    for part in in_batches(sorted({aid for aids in keyed.values() for aid in aids})):
        signed = select(Article.id, Article.minhash, Article.canonical_id, Article.duplicate_kind).where(
            Article.id.in_(part), Article.minhash.is_not(None)
        )
        for r in session.execute(signed):
            link = r.canonical_id if r.duplicate_kind == "near" and r.canonical_id else r.id
            found[r.id] = Candidate(r.id, link, r.minhash)
    return {key: [found[a] for a in aids if a in found] for key, aids in keyed.items()}


def article_texts(session: Session, article_ids: Sequence[int]) -> dict[int, str]:
    """Cleaned text of stored articles (those that hold text)."""
    rows = session.execute(
        select(Article.id, Article.text).where(Article.id.in_(list(article_ids)), Article.text.is_not(None))
    )
    return {r.id: r.text for r in rows}


def source_ids_by_name(session: Session, names: Sequence[str]) -> dict[str, int]:
    rows = session.execute(select(Source.name, Source.id).where(Source.name.in_(list(names))))
    return {r.name: r.id for r in rows}


def group_for_hash(session: Session, text_hashes: Sequence[str]) -> dict[str, int]:
    """Existing passage group per chunk text hash."""
    if not text_hashes:
        return {}
    rows = session.execute(select(Chunk.text_hash, Chunk.group_id).where(Chunk.text_hash.in_(list(set(text_hashes)))))
    return {r.text_hash: r.group_id for r in rows}


def chunk_texts(session: Session, article_id: int) -> list[tuple[int, int | None, str]]:
    """(chunk id, group id, text) of an article's chunks, in order."""
    rows = session.execute(
        select(Chunk.id, Chunk.group_id, Chunk.text).where(Chunk.article_id == article_id).order_by(Chunk.ordinal)
    )
    return [(r.id, r.group_id, r.text) for r in rows]


def vectors_for_hashes(
    session: Session, text_hashes: Sequence[str], table: str = VEC_TABLE, *, with_titles: bool = False
) -> dict[tuple[str, str], np.ndarray]:
    """Stored vectors of chunks with these text hashes, so identical passages are embedded once.

    Keyed by (text hash, headline) when ``with_titles`` (the vectors embed the headline too),
    else by (text hash, "").
    """
    if not text_hashes:
        return {}
    stmt = (
        select(Chunk.text_hash, Chunk.id, Article.title)
        .join(Article, Article.id == Chunk.article_id)
        .where(Chunk.text_hash.in_(list(set(text_hashes))))
    )
    by_id = {r.id: (r.text_hash, r.title if with_titles else "") for r in session.execute(stmt)}
    found: dict[tuple[str, str], np.ndarray] = {}
    for chunk_id, vector in vectors_for_chunks(session, list(by_id), table).items():
        found.setdefault(by_id[chunk_id], vector)
    return found
