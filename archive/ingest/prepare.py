"""Turn a RawArticle into everything the store needs, without touching the database."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from archive.config import DEFAULT_BATCH_CHUNKS
from archive.dedup.minhash import MinHasher, canonical_url, content_hash
from archive.embedding.base import Embedder
from archive.errors import IngestError
from archive.ingest.records import RawArticle
from archive.text.boilerplate import Sentence, remove_sentences, sentences
from archive.text.chunk import MIN_MAX_TOKENS, Chunk, chunk_text
from archive.text.clean import CleanedArticle, clean_article
from archive.text.dates import normalize_published
from archive.text.furniture import remove_furniture
from archive.validation import check_number


@dataclass(frozen=True)
class IngestOptions:
    """Knobs of the ingest pipeline (all have sensible defaults)."""

    max_tokens: int | None = None  # None: min(model limit, 128), what MiniLM was trained on
    overlap_tokens: int = 24
    near_threshold: float = 0.5  # MinHash Jaccard (word 5-grams) for article near-duplicates
    passage_threshold: float = 0.6  # shingle Jaccard for passages of near-duplicate articles
    batch_chunks: int = DEFAULT_BATCH_CHUNKS  # chunks embedded and committed together
    embed_batch_size: int = 32
    outlet: str | None = None
    whole_documents: bool = False  # one chunk per article (the model truncates it), as BEIR evaluates
    # Longer is not one article (a whole book, a dump saved as .txt): ~2,000 passages, seconds of work.
    max_article_chars: int = 1_000_000
    learn_boilerplate: bool = True  # count sentences per outlet, remove those learned as furniture

    def __post_init__(self) -> None:
        if self.max_tokens is not None:
            check_number("--max-tokens", self.max_tokens, minimum=MIN_MAX_TOKENS, maximum=100_000, integer=True)
        check_number("--overlap", self.overlap_tokens, minimum=0, maximum=100_000, integer=True)
        check_number("--near-threshold", self.near_threshold, minimum=0, maximum=1)
        check_number("passage_threshold", self.passage_threshold, minimum=0, maximum=1)
        check_number("--batch-chunks", self.batch_chunks, minimum=1, maximum=1_000_000, integer=True)
        check_number("embed_batch_size", self.embed_batch_size, minimum=1, maximum=100_000, integer=True)
        check_number("max_article_chars", self.max_article_chars, minimum=1, integer=True)


@dataclass
class Prepared:
    """An article ready to store, plus the dedup decision taken for it."""

    raw: RawArticle
    cleaned: CleanedArticle
    content_hash: str
    canonical_url: str | None
    published: str | None
    chunks: list[Chunk]
    chunk_hashes: list[str]
    signature: np.ndarray
    band_keys: list[int]
    sentences: list[Sentence] = field(default_factory=list)  # distinct, before learned boilerplate was removed
    # the outlet's learned sentence keys this text was cleaned with (a copy: the outlet's set grows as batches land)
    boilerplate: frozenset[int] = frozenset()
    decision: str = "new"  # new | exact | near | skip
    canonical: int | Prepared | None = None
    score: float | None = None
    stored_id: int | None = field(default=None)

    @property
    def keeps_text(self) -> bool:
        return self.decision in ("new", "near")


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(raw: RawArticle) -> RawArticle:
    """Replace lone UTF-16 surrogates (JSON ``"\\ud800"``, undecodable file names) by U+FFFD.

    SQLite stores UTF-8, which cannot encode them: left in, one bad record
    would fail the insert of its whole batch.
    """
    fields = {name: value for name, value in vars(raw).items() if isinstance(value, str) and _SURROGATE.search(value)}
    if not fields:
        return raw
    # dict[str, Any]: only str fields are replaced, but RawArticle has non-str fields mypy cannot rule out
    cleaned: dict[str, Any] = {name: _SURROGATE.sub("\ufffd", value) for name, value in fields.items()}
    return replace(raw, **cleaned)


def prepare(
    raw: RawArticle,
    *,
    embedder: Embedder,
    hasher: MinHasher,
    options: IngestOptions,
    boilerplate: Collection[int] = (),
) -> Prepared:
    """Clean, hash, sign and chunk one article (pure CPU work, no I/O).

    ``boilerplate`` holds the keys of sentences learned as the outlet's furniture: they are removed.
    """
    raw = without_surrogates(raw)
    if len(raw.text) > options.max_article_chars:
        raise IngestError(
            f"article text is {len(raw.text):,} characters, over the limit of {options.max_article_chars:,} for one "
            "article: split it into articles (e.g. one JSON object per line in a .jsonl file)",
            path=raw.origin or None,
        )
    cleaned = clean_article(raw.text, raw.title)
    text, dropped = remove_furniture(cleaned.text)
    if dropped:
        cleaned = replace(cleaned, text=text, removed=cleaned.removed + dropped)
    seen = list({s.key: s for s in sentences(cleaned.text)}.values()) if options.learn_boilerplate else []
    if boilerplate:
        text, dropped = remove_sentences(cleaned.text, boilerplate)
        cleaned = replace(cleaned, text=text, removed=cleaned.removed + dropped)
    if not cleaned.text.strip():
        raise IngestError("no article text left after cleaning", path=raw.origin or None)
    max_tokens = options.max_tokens or min(embedder.max_tokens, 128)
    max_tokens = min(max_tokens, embedder.max_tokens)
    if options.whole_documents:
        text = cleaned.text
        chunks = [Chunk(0, text, 0, len(text), embedder.count_tokens(text))]
    else:
        chunks = chunk_text(
            cleaned.text,
            max_tokens=max_tokens,
            overlap_tokens=min(options.overlap_tokens, max_tokens // 2),
            count_tokens=embedder.count_tokens,
        )
    signature = hasher.signature(cleaned.text)
    return Prepared(
        raw=raw,
        cleaned=cleaned,
        content_hash=content_hash(cleaned.text),
        canonical_url=canonical_url(raw.url),
        published=normalize_published(raw.published),
        chunks=chunks,
        chunk_hashes=[content_hash(c.text) for c in chunks],
        signature=signature,
        band_keys=hasher.band_keys(signature),
        sentences=seen,
        boilerplate=frozenset(boilerplate),
    )
