"""Per-outlet sentence counts and the boilerplate learned from them (see archive.text.boilerplate)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from archive.store.interface import in_batches
from archive.store.models import OutletSentence, Source
from archive.store.records import LearnedSentence, SentenceSeen
from archive.text.boilerplate import is_boilerplate, longest_only

_UPSERT = (
    "INSERT INTO outlet_sentences (source_id, sentence_key, stories, first_published, last_published, boilerplate) "
    "VALUES (?, ?, 1, ?, ?, 0) ON CONFLICT (source_id, sentence_key) DO UPDATE SET stories = stories + 1, "
    "first_published = CASE WHEN first_published IS NULL OR excluded.first_published < first_published "
    "THEN coalesce(excluded.first_published, first_published) ELSE first_published END, "
    "last_published = CASE WHEN last_published IS NULL OR excluded.last_published > last_published "
    "THEN coalesce(excluded.last_published, last_published) ELSE last_published END"
)


def is_empty(session: Session) -> bool:
    """True when no sentence has been counted yet (an archive stored before sentences were counted)."""
    return session.scalar(select(OutletSentence.source_id).limit(1)) is None


def forget_counts(session: Session) -> None:
    """Drop every count not yet learned as boilerplate (before counting the stored stories again)."""
    session.execute(delete(OutletSentence).where(OutletSentence.boilerplate.is_(False)))


def learned_keys(session: Session) -> dict[int, set[int]]:
    """Source id -> keys of its sentences learned as boilerplate."""
    found: dict[int, set[int]] = {}
    stmt = select(OutletSentence.source_id, OutletSentence.sentence_key).where(OutletSentence.boilerplate)
    for row in session.execute(stmt):
        found.setdefault(int(row.source_id), set()).add(int(row.sentence_key))
    return found


def count_sentences(session: Session, seen: Sequence[SentenceSeen]) -> list[tuple[int, int]]:
    """Count each (outlet, sentence) once more; return the (source id, key) pairs that just became boilerplate."""
    if not seen:
        return []
    conn = session.connection()
    conn.exec_driver_sql(_UPSERT, [(s.source_id, s.key, s.published, s.published) for s in seen])
    return promote_counted(session, seen)


def promote_counted(session: Session, seen: Sequence[SentenceSeen]) -> list[tuple[int, int]]:
    """Mark the just-counted sentences that now pass the boilerplate rule; their (source id, key)."""
    text_of = {(s.source_id, s.key): s.text for s in seen}
    promoted: list[tuple[int, int]] = []
    by_source: dict[int, list[int]] = {}
    for s in seen:
        by_source.setdefault(s.source_id, []).append(s.key)
    for source_id, keys in by_source.items():
        for part in in_batches(sorted(set(keys))):
            stmt = select(OutletSentence).where(
                OutletSentence.source_id == source_id,
                OutletSentence.sentence_key.in_(part),
                OutletSentence.boilerplate.is_(False),
            )
            for row in session.scalars(stmt):
                if is_boilerplate(row.stories, row.first_published, row.last_published):
                    promoted.append((source_id, int(row.sentence_key)))
    for source_id, key in promoted:
        session.execute(
            update(OutletSentence)
            .where(OutletSentence.source_id == source_id, OutletSentence.sentence_key == key)
            .values(boilerplate=True, text=text_of[(source_id, key)])
        )
    return promoted


def learned(session: Session, outlet: str | None = None) -> list[LearnedSentence]:
    """Learned boilerplate, by outlet then most stories first."""
    stmt = (
        select(Source.name, OutletSentence)
        .join(Source, Source.id == OutletSentence.source_id)
        .where(OutletSentence.boilerplate)
        .order_by(Source.name, OutletSentence.stories.desc(), OutletSentence.sentence_key)
    )
    if outlet is not None:
        stmt = stmt.where(Source.name == outlet)
    by_outlet: dict[str, list[OutletSentence]] = {}
    for name, row in session.execute(stmt):
        by_outlet.setdefault(name, []).append(row)
    found = []
    for name, rows in by_outlet.items():
        for row, opening in zip(rows, longest_only([row.text or "" for row in rows]), strict=True):
            if opening is not None:
                shortest = rows[opening].text if rows[opening] is not row else None
                found.append(
                    LearnedSentence(
                        name, row.text or "", row.stories, row.first_published, row.last_published, shortest
                    )
                )
    return found
