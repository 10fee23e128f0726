"""Duplicate decisions for a batch: skip (already stored), exact copy, near-duplicate or new.

Already stored: the same outlet holds the same canonical URL with the same cleaned text, or with a
text that becomes this one once the boilerplate learned since is removed from it (cleaning learns
from the archive, so an article ingested early was cleaned with less: a re-run must still skip it).
Lookups are made once per batch; articles earlier in the same batch count too,
so a file holding the same story twice is handled like two files. Near-duplicate
candidates come from MinHash LSH; the link is confirmed with the exact Jaccard
similarity of word 5-gram shingles, so the estimate's noise never links
articles below the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archive.dedup.minhash import MinHasher, jaccard_of_shingles, word_shingles
from archive.ingest.prepare import Prepared
from archive.store.interface import ArchiveReader
from archive.store.records import Candidate, StoredCopy
from archive.text.boilerplate import remove_sentences

Ref = int | Prepared
# LSH estimates are noisy (±0.09 at 128 permutations); look a little below the
# threshold so exact verification, not the estimate, decides borderline pairs.
ESTIMATE_MARGIN = 0.12


@dataclass
class _Seen:
    """What the batch has decided so far, for lookups by later articles."""

    copies: set[tuple[str, str | None, str | None]] = field(default_factory=set)
    text_by_hash: dict[str, Ref] = field(default_factory=dict)
    by_band: dict[int, list[Prepared]] = field(default_factory=dict)


@dataclass
class _Context:
    reader: ArchiveReader
    hasher: MinHasher
    threshold: float
    bands: dict[int, list[Candidate]]
    earlier: dict[tuple[str, int], list[str]] = field(default_factory=dict)  # see _earlier_texts
    seen: _Seen = field(default_factory=_Seen)


def decide_batch(reader: ArchiveReader, items: list[Prepared], hasher: MinHasher, threshold: float) -> None:
    """Set ``decision``, ``canonical`` and ``score`` on every item, in order."""
    stored = reader.copies_by_hash([p.content_hash for p in items])
    outlets = sorted({p.raw.outlet for p in items if p.raw.outlet})
    source_ids = reader.source_ids_by_name(outlets) if outlets else {}
    bands = reader.band_candidates([k for p in items for k in p.band_keys])
    ctx = _Context(reader, hasher, threshold, bands, _earlier_texts(reader, items, source_ids))
    for item in items:
        _decide(item, stored.get(item.content_hash, []), source_ids.get(item.raw.outlet or ""), ctx)


def _earlier_texts(
    reader: ArchiveReader, items: list[Prepared], source_ids: dict[str, int]
) -> dict[tuple[str, int], list[str]]:
    """(canonical URL, source id) -> texts of the stored articles there whose content hash differs from the
    item's (an exact copy's: the text of the article holding it), for items of outlets with learned
    boilerplate (the only way one article's cleaned text changes)."""
    learned = [p for p in items if p.boilerplate and p.canonical_url and (p.raw.outlet or "") in source_ids]
    if not learned:
        return {}
    by_url = reader.copies_by_url([p.canonical_url for p in learned if p.canonical_url])
    places: dict[int, set[tuple[str, int]]] = {}
    for item in learned:
        source_id = source_ids[item.raw.outlet or ""]
        for copy in by_url.get(item.canonical_url or "", []):
            holder = copy.id if copy.has_text else copy.canonical_id
            if holder is not None and copy.source_id == source_id and copy.content_hash != item.content_hash:
                places.setdefault(holder, set()).add((item.canonical_url or "", source_id))
    texts = reader.article_texts(sorted(places)) if places else {}
    earlier: dict[tuple[str, int], list[str]] = {}
    for article_id, text in texts.items():
        for place in places[article_id]:
            earlier.setdefault(place, []).append(text)
    return earlier


def _stored_before(item: Prepared, source_id: int | None, ctx: _Context) -> bool:
    """Whether this outlet stored this URL with a text that is this one once the boilerplate known now is
    removed from it: the same article, ingested before that boilerplate was learned."""
    if source_id is None or item.canonical_url is None:  # _earlier_texts read nothing for it
        return False
    texts = ctx.earlier.get((item.canonical_url, source_id), [])
    return any(remove_sentences(text, item.boilerplate)[0] == item.cleaned.text for text in texts)


def _decide(item: Prepared, stored: list[StoredCopy], source_id: int | None, ctx: _Context) -> None:
    seen = ctx.seen
    identity = (item.content_hash, item.canonical_url, item.raw.outlet)
    already = any(c.canonical_url == item.canonical_url and c.source_id == source_id for c in stored)
    already = already or _stored_before(item, source_id, ctx)
    if already or identity in seen.copies:
        item.decision = "skip"
        return
    seen.copies.add(identity)
    holder: Ref | None = next((c.id for c in stored if c.has_text), None) or seen.text_by_hash.get(item.content_hash)
    if holder is not None:
        item.decision, item.canonical, item.score = "exact", holder, 1.0
        return
    best = _best_near(item, ctx)
    if best is not None:
        item.decision, item.canonical, item.score = "near", best[0], best[1]
    seen.text_by_hash[item.content_hash] = item
    for key in item.band_keys:
        seen.by_band.setdefault(key, []).append(item)


def _best_near(item: Prepared, ctx: _Context) -> tuple[Ref, float] | None:
    """The most similar earlier article at or above the threshold (exact Jaccard), if any."""
    floor = ctx.threshold - ESTIMATE_MARGIN
    stored: dict[int, Candidate] = {}
    pending: dict[int, Prepared] = {}
    for key in item.band_keys:
        for cand in ctx.bands.get(key, []):
            stored.setdefault(cand.id, cand)
        for other in ctx.seen.by_band.get(key, []):
            pending.setdefault(id(other), other)
    likely_stored = [c for c in stored.values() if _estimate(ctx, item, ctx.hasher.from_bytes(c.minhash)) >= floor]
    likely_pending = [p for p in pending.values() if _estimate(ctx, item, p.signature) >= floor]
    if not likely_stored and not likely_pending:
        return None
    mine = word_shingles(item.cleaned.text)
    scored: list[tuple[float, Ref]] = []
    texts = ctx.reader.article_texts([c.id for c in likely_stored]) if likely_stored else {}
    for cand in likely_stored:
        if cand.id in texts:
            scored.append((jaccard_of_shingles(mine, word_shingles(texts[cand.id])), cand.link_to))
    for other in likely_pending:
        root: Ref = other.canonical if other.decision == "near" and other.canonical is not None else other
        scored.append((jaccard_of_shingles(mine, word_shingles(other.cleaned.text)), root))
    score, ref = max(scored, key=lambda pair: pair[0], default=(0.0, None))
    return (ref, score) if ref is not None and score >= ctx.threshold else None


def _estimate(ctx: _Context, item: Prepared, signature: np.ndarray) -> float:
    return ctx.hasher.similarity(item.signature, signature)
