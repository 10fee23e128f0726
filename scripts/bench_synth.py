"""Synthetic archives for the search benchmarks: real schema, real-looking text, clustered vectors.

Rows go in through the store (``archive.store.sqlite.writes``), so the files have the
exact schema, triggers (FTS5) and prefilter tables of a real archive. Passage
texts are three random sentences from the ukraine_media articles, so keyword
search sees a news vocabulary. Vectors come from a hierarchy of random unit
directions (a shared component, 20 topics, 200 subtopics, 2,000 stories, 20,000
threads), one direction per article and noise per passage, weighted so that
the statistics match all-MiniLM-L6-v2 on 2,136 real ukraine_media passages:
median pair cosine 0.27 (real 0.27), nearest neighbour 0.72 (0.72), 10th
neighbour 0.54 (0.58), a query's top-10 mean 0.43 (0.35-0.43 for real queries).
Built files are cached under ``<cache>/synthetic-<n>-r<revision>-<GENERATOR>.db``.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from archive import Archive
from archive.embedding.model_files import DEFAULT_MODEL
from archive.store import migrate
from archive.store.sqlite import article_vectors, writes
from archive.store.sqlite.vtables import VEC_TABLE
from archive.store.sqlite.writes import ChunkRow


def _shared_data() -> Path:
    """``shared/data`` beside this checkout or beside a folder holding it (worktrees live one level deeper)."""
    repo = Path(__file__).resolve().parents[1]
    for parent in repo.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return repo.parent / "shared" / "data"


DATA = _shared_data() / "ukraine_media" / "ukraine_media_r2nery.jsonl.gz"
DIMENSION = 384
GENERATOR = "g5"  # g5: article vectors too  # bump when the vectors or texts change, so cached files are rebuilt
FANOUT = (20, 10, 10, 10)  # topics, subtopics, stories, threads: fixed, so bigger archives are denser
SHARED, LEVEL_WEIGHTS, ARTICLE_WEIGHT, PASSAGE_NOISE = 0.56, (0.42, 0.35, 0.3, 0.25), 0.2, 0.6
QUERY_OWN, QUERY_NOISE = 0.3, 1.0
CHUNKS_PER_ARTICLE = 8
SENTENCES_PER_CHUNK = 3
OUTLETS = ("Reuters", "AP", "BBC", "CNN", "Guardian", "Kyiv Independent", "Al Jazeera", "DW", "NYT", "WaPo")
ARTICLES_PER_TX = 2000
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[A-Za-z]{4,}")


class _StubEmbedder:
    """Stands in for all-MiniLM-L6-v2 while the file is created: same name and size, never embeds."""

    name = DEFAULT_MODEL
    dimension = DIMENSION
    max_tokens = 254

    def embed(self, texts: object, **_: object) -> np.ndarray:
        raise RuntimeError("the synthetic builder never embeds text")

    def embed_query(self, text: str) -> np.ndarray:
        raise RuntimeError("the synthetic builder never embeds text")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@dataclass
class Space:
    """The direction hierarchy of a synthetic vector space, shared by its passages and its queries."""

    shared: np.ndarray
    levels: list[np.ndarray]
    rng: np.random.Generator

    @classmethod
    def make(cls, seed: int) -> Space:
        rng = np.random.default_rng(seed)
        shared = _unit(rng.standard_normal(DIMENSION))
        sizes = np.cumprod(FANOUT)
        return cls(shared, [_unit(rng.standard_normal((int(n), DIMENSION))) for n in sizes], rng)

    def _base(self, n: int) -> np.ndarray:
        index = self.rng.integers(0, len(self.levels[-1]), n)
        vectors = np.repeat(SHARED * self.shared[None, :], n, axis=0)
        for level in range(len(FANOUT) - 1, -1, -1):
            vectors += LEVEL_WEIGHTS[level] * self.levels[level][index]
            index = index // FANOUT[level]
        return vectors

    def _noise(self, n: int) -> np.ndarray:
        return self.rng.standard_normal((n, DIMENSION)).astype(np.float32) / np.float32(np.sqrt(DIMENSION))

    def articles(self, n_articles: int, per_article: int) -> np.ndarray:
        """``n_articles * per_article`` passage vectors, an article's passages consecutive."""
        own = ARTICLE_WEIGHT * _unit(self.rng.standard_normal((n_articles, DIMENSION)))
        vectors = np.repeat(self._base(n_articles) + own, per_article, axis=0)
        return _unit(vectors + PASSAGE_NOISE * self._noise(len(vectors)))

    def queries(self, n: int) -> np.ndarray:
        """``n`` query vectors: near a thread, further from any passage than passages are from each other."""
        own = QUERY_OWN * _unit(self.rng.standard_normal((n, DIMENSION)))
        return _unit(self._base(n) + own + QUERY_NOISE * self._noise(n))


def query_vectors(n: int, *, seed: int = 7, stream: int = 1) -> np.ndarray:
    """``n`` query vectors in the space of the archive built with ``seed`` (other draws than its passages)."""
    space = Space.make(seed)
    space.rng = np.random.default_rng([seed, stream])
    return space.queries(n)


def sentence_pool(limit_articles: int = 3000) -> list[str]:
    """Sentences (40-300 characters) from the first ``limit_articles`` ukraine_media articles."""
    pool: list[str] = []
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number >= limit_articles:
                break
            text = json.loads(line).get("text") or ""
            pool.extend(s for s in _SENTENCE.split(text) if 40 <= len(s) <= 300)
    return pool


def query_texts(pool: list[str], n: int, seed: int) -> list[str]:
    """``n`` short keyword queries (three content words of a random sentence)."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        words = _WORD.findall(rng.choice(pool))
        if len(words) >= 3:
            out.append(" ".join(rng.sample(words, 3)))
    return out


def cached_db(cache: Path, n_chunks: int, *, seed: int = 7, log: bool = True) -> Path:
    """Path of a synthetic archive with ``n_chunks`` passages, built on first use."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"synthetic-{n_chunks}-r{migrate.head_revision()}-{GENERATOR}.db"
    if path.exists():
        return path
    partial = path.with_suffix(".partial.db")
    for stale in cache.glob(partial.name + "*"):
        stale.unlink()
    started = time.perf_counter()
    build(partial, n_chunks, seed=seed)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.rename(path)
    if log:
        print(f"  built {path.name} in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def build(path: Path, n_chunks: int, *, seed: int) -> None:
    """Create ``path`` with ``n_chunks`` passages in articles of eight."""
    pool = sentence_pool()
    space = Space.make(seed)
    rng = random.Random(seed)
    with Archive.open(path, embedder=_StubEmbedder()) as archive:
        writer = archive.engine.execution_options(sqlite_begin="IMMEDIATE")
        n_articles = -(-n_chunks // CHUNKS_PER_ARTICLE)
        for start in range(0, n_articles, ARTICLES_PER_TX):
            count = min(ARTICLES_PER_TX, n_articles - start)
            with Session(writer) as session, session.begin():
                _write_articles(session, list(_articles(rng, pool, start, count, n_chunks)), space)
        with Session(writer) as session, session.begin():
            article_vectors.mark_complete(session, VEC_TABLE)
        with archive.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _articles(rng: random.Random, pool: list[str], start: int, count: int, n_chunks: int) -> Iterator[tuple]:
    for number in range(start, start + count):
        size = min(CHUNKS_PER_ARTICLE, n_chunks - number * CHUNKS_PER_ARTICLE)
        chunks = [" ".join(rng.choices(pool, k=SENTENCES_PER_CHUNK)) for _ in range(size)]
        day = f"{rng.randint(2022, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        yield number, rng.choice(OUTLETS), day, chunks


def _write_articles(session: Session, articles: list[tuple], space: Space) -> None:
    sources = {name: writes.source_id_for(session, name) for name in OUTLETS}
    vectors = space.articles(len(articles), CHUNKS_PER_ARTICLE)
    rows: list[tuple[int, bytes, int, int, str]] = []
    article_rows: list[tuple[int, bytes, int, int, str]] = []
    groups: list[tuple[int, int]] = []
    for number, outlet, day, chunks in articles:
        text = "\n\n".join(chunks)
        article_id = writes.add_article(
            session,
            source_id=sources[outlet],
            url=f"https://example.org/{number}",
            title=f"Synthetic article {number}",
            published_at=day,
            language="en",
            content_hash=f"synthetic-{number}",
            text=text,
        )
        offsets, chunk_rows = 0, []
        for ordinal, chunk in enumerate(chunks):
            chunk_rows.append(
                ChunkRow(
                    ordinal, chunk, offsets, offsets + len(chunk), len(chunk.split()), f"h{number}-{ordinal}", None
                )
            )
            offsets += len(chunk) + 2
        meta = (sources[outlet] or 0, int(day.replace("-", "")), "en")
        first = len(rows)
        for chunk_id in writes.add_chunks(session, article_id, chunk_rows):
            groups.append((chunk_id, chunk_id))
            rows.append((chunk_id, vectors[len(rows)].tobytes(), *meta))
        # The article vector (headline and lead): near its opening passages, as the real one is.
        lead = _unit(vectors[first : first + 2].mean(axis=0, keepdims=True))[0].astype(np.float32)
        article_rows.append((article_id, lead.tobytes(), *meta))
    writes.set_groups(session, groups)
    writes.add_vector_rows(session, rows)
    article_vectors.add(session, article_rows, VEC_TABLE)
