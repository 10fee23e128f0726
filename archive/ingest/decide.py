"""Duplicate decisions for a batch: skip (already stored), exact copy, near-duplicate or new.

Lookups are made once per batch; articles earlier in the same batch count too,
so a file holding the same story twice is handled like two files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from archive.dedup import MinHasher
from archive.ingest.prepare import Prepared
from archive.store import reads
from archive.store.reads import StoredCopy

Ref = int | Prepared


@dataclass
class _Seen:
    """What the batch has decided so far, for lookups by later articles."""

    copies: set[tuple[str, str | None, str | None]] = field(default_factory=set)
    text_by_hash: dict[str, Ref] = field(default_factory=dict)
    by_band: dict[int, list[tuple[Ref, np.ndarray]]] = field(default_factory=dict)


def decide_batch(session: Session, items: list[Prepared], hasher: MinHasher, threshold: float) -> None:
    """Set ``decision``, ``canonical`` and ``score`` on every item, in order."""
    stored = reads.copies_by_hash(session, [p.content_hash for p in items])
    bands = reads.band_candidates(session, [k for p in items for k in p.band_keys])
    outlets = {p.raw.outlet for p in items if p.raw.outlet}
    source_ids = reads.source_ids_by_name(session, sorted(outlets)) if outlets else {}
    seen = _Seen()
    for item in items:
        _decide(item, stored.get(item.content_hash, []), source_ids.get(item.raw.outlet or ""), bands, seen, hasher, threshold)


def _decide(
    item: Prepared, stored: list[StoredCopy], source_id: int | None, bands: dict[int, list[tuple[int, bytes]]],
    seen: _Seen, hasher: MinHasher, threshold: float,
) -> None:
    identity = (item.content_hash, item.canonical_url, item.raw.outlet)
    already = any(c.canonical_url == item.canonical_url and c.source_id == source_id for c in stored)
    if already or identity in seen.copies:
        item.decision = "skip"
        return
    seen.copies.add(identity)
    holder: Ref | None = next((c.id for c in stored if c.has_text), None) or seen.text_by_hash.get(item.content_hash)
    if holder is not None:
        item.decision, item.canonical, item.score = "exact", holder, 1.0
        return
    best = _best_near(item, bands, seen, hasher, threshold)
    if best is not None:
        item.decision, item.canonical, item.score = "near", best[0], best[1]
    seen.text_by_hash[item.content_hash] = item
    root: Ref = item.canonical if item.decision == "near" and item.canonical is not None else item
    for key in item.band_keys:
        seen.by_band.setdefault(key, []).append((root, item.signature))


def _best_near(
    item: Prepared, bands: dict[int, list[tuple[int, bytes]]], seen: _Seen, hasher: MinHasher, threshold: float
) -> tuple[Ref, float] | None:
    best: tuple[Ref, float] | None = None
    checked: set[int] = set()
    for key in item.band_keys:
        candidates: list[tuple[Ref, np.ndarray | bytes]] = [*bands.get(key, []), *seen.by_band.get(key, [])]
        for ref, signature in candidates:
            if id(signature) in checked:
                continue
            checked.add(id(signature))
            sig = hasher.from_bytes(signature) if isinstance(signature, bytes) else signature
            score = hasher.similarity(item.signature, sig)
            if score >= threshold and (best is None or score > best[1]):
                best = (ref, score)
    return best
