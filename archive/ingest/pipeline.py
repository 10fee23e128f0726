"""The ingest pipeline: decide duplicates, embed new passages, write a batch, commit.

Work is done per batch, with a handful of set-based queries rather than a few
per article, so the database adds little to the cost of embedding. A batch is
committed as one transaction: an ingest killed mid-run loses nothing already
committed, and a rerun skips what is stored (content hash).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from archive.dedup.minhash import MinHasher, jaccard_of_shingles, word_shingles
from archive.embedding.base import Embedder
from archive.embedding.precision import precision_of
from archive.ingest.decide import decide_batch
from archive.ingest.prepare import IngestOptions, Prepared
from archive.results import IngestReport
from archive.store.interface import ArchiveWriter, Store
from archive.store.records import ChunkRow, SentenceSeen, vector_row
from archive.text.context import article_input, passage_input

ProgressFn = Callable[[int], None]
VectorKey = tuple[str, str]  # (passage text hash, headline or "" when headlines are not embedded)


class BatchWriter:
    """Accepts prepared articles and writes them in batches of about ``options.batch_chunks`` chunks."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        options: IngestOptions,
        report: IngestReport,
        *,
        hasher: MinHasher,
        run_id: int | None,
        on_chunks: ProgressFn | None = None,
        passage_format: str = "text",
    ) -> None:
        self.passage_format = passage_format
        self.store = store
        self.embedder = embedder
        self.options = options
        self.report = report
        self.hasher = hasher
        self.run_id = run_id
        self.on_chunks = on_chunks
        self.pending: list[Prepared] = []
        with store.reader() as reader:
            self.learned = reader.learned_keys()  # source id -> learned sentence keys
        self._source_ids: dict[str, int | None] = {}
        self._pending_chunks = 0

    def boilerplate_of(self, outlet: str | None) -> set[int]:
        """Keys of the sentences learned as ``outlet``'s furniture so far."""
        if not outlet:
            return set()
        if outlet not in self._source_ids:
            with self.store.reader() as reader:
                self._source_ids[outlet] = reader.source_ids_by_name([outlet]).get(outlet)
        source_id = self._source_ids[outlet]
        return self.learned.get(source_id, set()) if source_id is not None else set()

    def add(self, item: Prepared) -> None:
        self.pending.append(item)
        self._pending_chunks += len(item.chunks)
        if self._pending_chunks >= self.options.batch_chunks:
            self.flush()

    def flush(self) -> None:
        """Decide, embed and write the pending batch in one transaction."""
        items, self.pending, self._pending_chunks = self.pending, [], 0
        if not items:
            return
        with self.store.reader() as reader:
            decide_batch(reader, items, self.hasher, self.options.near_threshold)
        kept = [p for p in items if p.decision != "skip"]
        vectors = self._vectors([p for p in kept if p.keeps_text])
        article_vectors = self._article_vectors([p for p in kept if p.keeps_text])
        with self.store.writer() as writer:
            _BatchWrite(self, writer, vectors, article_vectors).write(kept)
            if article_vectors:  # the embedder ran (every new article gets its article vector)
                writer.note_precision(precision_of(self.embedder))
            self.report.skipped += len(items) - len(kept)
            for item in kept:
                self._count(item)
            if self.run_id is not None:
                writer.update_run(self.run_id, self.report)

    def _count(self, item: Prepared) -> None:
        if item.decision == "exact":
            self.report.duplicates += 1
            return
        self.report.added += 1
        self.report.near_duplicates += item.decision == "near"
        self.report.chunks += len(item.chunks)

    def input_key(self, item: Prepared, digest: str) -> VectorKey:
        """What identifies a passage vector: its text, and its headline when the headline is embedded too."""
        return digest, item.cleaned.title if self.passage_format == "title" else ""

    def _vectors(self, items: list[Prepared]) -> dict[VectorKey, np.ndarray]:
        """One vector per distinct embedded text; passages already stored reuse their vector."""
        texts: dict[VectorKey, str] = {}
        for item in items:
            for chunk, digest in zip(item.chunks, item.chunk_hashes):
                key = self.input_key(item, digest)
                if key not in texts:
                    texts[key] = passage_input(chunk.text, item.cleaned.title, self.passage_format)
        with self.store.reader() as reader:
            known = reader.vectors_for_hashes([h for h, _ in texts], with_titles=self.passage_format == "title")
        todo = [h for h in texts if h not in known]
        if todo:
            matrix = self.embedder.embed(
                [texts[h] for h in todo], batch_size=self.options.embed_batch_size, progress=self.on_chunks
            )
            known.update(zip(todo, matrix))
        return known

    def _article_vectors(self, items: list[Prepared]) -> dict[int, np.ndarray]:
        """One article vector (headline and lead) per article that keeps its text, by ``id(item)``."""
        if not items:
            return {}
        inputs = [article_input(item.cleaned.title, item.cleaned.text) for item in items]
        matrix = self.embedder.embed(inputs, batch_size=self.options.embed_batch_size)
        return {id(item): vector for item, vector in zip(items, matrix, strict=True)}


class _BatchWrite:
    """The write phase of one batch: articles, chunks and their groups, vectors, band keys."""

    def __init__(
        self,
        owner: BatchWriter,
        writer: ArchiveWriter,
        vectors: dict[VectorKey, np.ndarray],
        article_vectors: dict[int, np.ndarray],
    ) -> None:
        self.owner = owner
        self.writer = writer
        self.vectors = vectors
        self.article_vectors = article_vectors
        self.article_rows: list[tuple[int, bytes, int, int, str]] = []
        self.groups: dict[str, int] = {}
        self.chunk_group: dict[int, int] = {}
        self.group_updates: list[tuple[int, int]] = []
        self.vector_rows: list[tuple[int, bytes, int, int, str]] = []
        self.band_rows: list[tuple[int, int]] = []

    def write(self, items: list[Prepared]) -> None:
        hashes = [h for item in items if item.keeps_text for h in item.chunk_hashes]
        self.groups = self.writer.group_for_hash(hashes)
        outlets = {item.raw.outlet for item in items}
        source_ids = {name: self.writer.source_id_for(name) for name in outlets}
        for item in items:
            self._article(item, source_ids[item.raw.outlet])
        self._count_sentences(items, source_ids)
        self.writer.set_groups(self.group_updates)
        self.writer.add_vector_rows(self.vector_rows)
        self.writer.add_article_vectors(self.article_rows)
        self.writer.add_band_rows(self.band_rows)

    def _count_sentences(self, items: list[Prepared], source_ids: dict[str | None, int | None]) -> None:
        """New stories add to their outlet's sentence counts (copies do not: one story counts once)."""
        seen = [
            SentenceSeen(sid, s.key, item.published, s.text)
            for item in items
            if item.decision == "new" and (sid := source_ids[item.raw.outlet]) is not None
            for s in item.sentences
        ]
        for source_id, key in self.writer.count_sentences(seen):
            self.owner.learned.setdefault(source_id, set()).add(key)

    def _article(self, item: Prepared, source_id: int | None) -> None:
        canonical = item.canonical.stored_id if isinstance(item.canonical, Prepared) else item.canonical
        keeps = item.keeps_text
        item.stored_id = self.writer.add_article(
            source_id=source_id,
            url=item.raw.url,
            canonical_url=item.canonical_url,
            title=item.cleaned.title,
            published_at=item.published,
            language=item.raw.language,
            content_hash=item.content_hash,
            canonical_id=canonical,
            duplicate_kind=None if item.decision == "new" else item.decision,
            duplicate_score=item.score,
            origin=item.raw.origin or None,
            run_id=self.owner.run_id,
            text=item.cleaned.text if keeps else None,
            minhash=self.owner.hasher.to_bytes(item.signature) if keeps else None,
        )
        if not keeps:
            return
        rows = [
            ChunkRow(c.ordinal, c.text, c.char_start, c.char_end, c.token_count, h, None)
            for c, h in zip(item.chunks, item.chunk_hashes)
        ]
        chunk_ids = self.writer.add_chunks(item.stored_id, rows)
        self._assign_groups(item, chunk_ids, canonical)
        meta = (source_id, item.published, item.raw.language)
        for chunk_id, digest in zip(chunk_ids, item.chunk_hashes):
            vector = self.vectors[self.owner.input_key(item, digest)]
            self.vector_rows.append(vector_row(chunk_id, vector.astype(np.float32).tobytes(), *meta))
        article_vector = self.article_vectors[id(item)]
        self.article_rows.append(vector_row(item.stored_id, article_vector.astype(np.float32).tobytes(), *meta))
        self.band_rows.extend((key, item.stored_id) for key in item.band_keys)

    def _assign_groups(self, item: Prepared, chunk_ids: list[int], canonical: int | None) -> None:
        """Same text anywhere joins its group; else a close passage of the canonical article; else a new group."""
        originals = None
        for chunk, chunk_id, digest in zip(item.chunks, chunk_ids, item.chunk_hashes):
            group = self.groups.get(digest)
            if group is None and item.decision == "near" and canonical is not None:
                if originals is None:
                    originals = [
                        (self.chunk_group.get(cid, gid), word_shingles(t))
                        for cid, gid, t in self.writer.chunk_texts(canonical)
                    ]
                group = _closest_group(word_shingles(chunk.text), originals, self.owner.options.passage_threshold)
            group = group if group is not None else chunk_id
            self.groups.setdefault(digest, group)
            self.chunk_group[chunk_id] = group
            self.group_updates.append((group, chunk_id))


def _closest_group(
    shingles: np.ndarray, originals: list[tuple[int | None, np.ndarray]], threshold: float
) -> int | None:
    """The group of the closest original passage at or above ``threshold`` (None: none, or an ungrouped one)."""
    best, best_score = None, threshold
    for gid, theirs in originals:
        score = jaccard_of_shingles(shingles, theirs)
        if score >= best_score:
            best, best_score = gid, score
    return best
