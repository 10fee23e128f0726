"""``archive clean``: remove the boilerplate learned since articles were stored, keeping their ids.

An outlet's furniture is learned as its articles arrive, so the first articles of an outlet were
stored before it was known. Re-cleaning takes each stored text, removes the furniture ingest now
finds by its form (``archive.text.furniture``: an archive stored before a rule existed gets it) and
the sentences now known as that outlet's boilerplate, and re-chunks the articles that changed:
passages whose text is unchanged keep their vector and duplicate group, only new passages are embedded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from archive.dedup.minhash import MinHasher, content_hash
from archive.embedding.base import Embedder
from archive.embedding.precision import precision_of
from archive.store.interface import ArchiveWriter, Store
from archive.store.records import ChunkRow, SentenceSeen, vector_row
from archive.text.boilerplate import remove_sentences, sentences
from archive.text.chunk import chunk_text
from archive.text.context import article_input, passage_input
from archive.text.furniture import remove_furniture

ARTICLES_PER_BATCH = 200
DEFAULT_MAX_TOKENS = 128  # as ingest: min(model limit, 128)
OVERLAP_TOKENS = 24


@dataclass
class CleanReport:
    """What ``archive clean`` did."""

    articles: int = 0  # articles holding text that were looked at
    changed: int = 0  # articles that lost furniture or learned boilerplate
    sentences: int = 0  # sentences removed
    passages_kept: int = 0  # passages whose text was unchanged (vector reused)
    passages_embedded: int = 0  # new passages embedded
    relearned: int = 0  # stories whose sentences were counted first (0: the counts were already there)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reclean(
    store: Store,
    *,
    embedder: Embedder,
    passage_format: str,
    progress: Callable[[int], None] | None = None,
    wait: float = 0,
    relearn: bool = False,
) -> CleanReport:
    """Re-clean every stored article with the boilerplate learned so far; one transaction per batch.

    An archive whose sentences were never counted (stored before counting existed), or any with
    ``relearn``, first counts the sentences of every stored story.
    """
    report = CleanReport()
    hasher = MinHasher()
    max_tokens = min(embedder.max_tokens, DEFAULT_MAX_TOKENS)
    with store.writer_lock(wait=wait, command="clean"), store.bounded_memory():
        with store.writer() as writer:
            if relearn or writer.boilerplate_is_empty():
                report.relearned = _count_stored(writer)
        with store.reader() as reader:
            learned = reader.learned_keys()
        last_id = 0
        while True:
            with store.reader() as reader:
                rows = reader.articles_with_text(last_id, ARTICLES_PER_BATCH)
            if not rows:
                return report
            last_id = rows[-1].id
            report.articles += len(rows)
            changed = []
            for row in rows:
                text, removed = remove_furniture(row.text)  # as ingest: the fixed forms, then what was learned
                text, learned_removed = remove_sentences(text, learned.get(row.source_id or -1, set()))
                removed += learned_removed
                if removed and text.strip():
                    changed.append((row, text))
                    report.sentences += removed
            if changed:
                with store.writer() as writer:
                    for row, text in changed:
                        _rewrite(writer, row, text, embedder, hasher, passage_format, max_tokens, report)
                report.changed += len(changed)
            if progress is not None:
                progress(len(rows))


def _count_stored(writer: ArchiveWriter) -> int:
    """Count the sentences of every stored story (copies count once: only articles that are no copy)."""
    writer.forget_counts()
    stories, last_id = 0, 0
    while True:
        rows = writer.articles_with_text(last_id, ARTICLES_PER_BATCH * 5)
        if not rows:
            return stories
        last_id = rows[-1].id
        seen = [
            SentenceSeen(row.source_id, s.key, row.published_at, s.text)
            for row in rows
            if row.duplicate_kind is None and row.source_id is not None
            for s in {s.key: s for s in sentences(row.text)}.values()
        ]
        stories += sum(1 for row in rows if row.duplicate_kind is None)
        writer.count_sentences(seen)


def _rewrite(
    writer: ArchiveWriter,
    row: Any,
    text: str,
    embedder: Embedder,
    hasher: MinHasher,
    passage_format: str,
    max_tokens: int,
    report: CleanReport,
) -> None:
    """Store ``text`` as the article's text: re-chunk, reuse unchanged passages' vectors, embed the rest."""
    old = {text_hash: (group, vector) for text_hash, group, vector in writer.chunk_vectors(row.id)}
    chunks = chunk_text(
        text,
        max_tokens=max_tokens,
        overlap_tokens=min(OVERLAP_TOKENS, max_tokens // 2),
        count_tokens=embedder.count_tokens,
    )
    hashes = [content_hash(c.text) for c in chunks]
    rows = [
        ChunkRow(c.ordinal, c.text, c.char_start, c.char_end, c.token_count, h, old[h][0] if h in old else None)
        for c, h in zip(chunks, hashes)
    ]
    ids = writer.replace_chunks(row.id, rows)
    fresh = [i for i, h in enumerate(hashes) if h not in old]
    vectors: dict[int, bytes] = {i: old[h][1] for i, h in enumerate(hashes) if h in old}
    if fresh:
        inputs = [passage_input(chunks[i].text, row.title, passage_format) for i in fresh]
        matrix = np.asarray(embedder.embed(inputs), dtype=np.float32)
        vectors.update({i: matrix[n].tobytes() for n, i in enumerate(fresh)})
    meta = (row.source_id, row.published_at, row.language)
    writer.add_vector_rows([vector_row(ids[i], vectors[i], *meta) for i in range(len(ids))])
    lead = article_input(row.title, text)
    lead_changed = lead != article_input(row.title, row.text)  # furniture left the lead: its vector changes
    if lead_changed:
        vector = np.asarray(embedder.embed([lead]), dtype=np.float32)[0]
        writer.add_article_vectors([vector_row(row.id, vector.tobytes(), *meta)])
    if fresh or lead_changed:  # the embedder ran
        writer.note_precision(precision_of(embedder))
    writer.set_groups([(ids[i], ids[i]) for i in fresh])
    signature = hasher.signature(text)
    writer.update_article_text(
        row.id,
        text=text,
        content_hash=content_hash(text),
        minhash=hasher.to_bytes(signature),
        band_keys=hasher.band_keys(signature),
    )
    report.passages_kept += len(ids) - len(fresh)
    report.passages_embedded += len(fresh)
