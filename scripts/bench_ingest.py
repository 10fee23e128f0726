"""Ingest throughput against plain ``SentenceTransformer.encode``, interleaved in one process.

The articles are split into segments. Each segment is ingested into a fresh
archive (``Archive.ingest_records``: clean, chunk, dedup, embed, write) and the
same passages are encoded with the archive's own SentenceTransformer (same
weights and batch size); the order rotates per segment, so a burst of load
from other processes on this shared machine hits every side.

Where the pipeline embeds in another precision than float32 (``ARCHIVE_PRECISION``, whose
``auto`` takes bfloat16 on a CPU with AMX-BF16 or AVX512-BF16: archive/embedding/precision.py), each segment is
also ingested into a second fresh archive by a float32 pipeline on the same loaded model:
the float32 / reduced-precision ratio of articles per second is the speed-up at equal input.

The pipeline embeds on ARCHIVE_EMBED_WORKERS threads x 1 torch thread each
(archive/encode_pool.py; default one per core). The baseline is plain
``model.encode(texts, batch_size=32, normalize_embeddings=True)`` with torch's
default thread count, whatever ARCHIVE_TORCH_THREADS says; both counts are recorded.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import median

from archive import Archive, IngestOptions, RawArticle
from archive.config import Settings
from archive.dedup.minhash import MinHasher
from archive.embedding.pool import default_workers
from archive.embedding.sentence import SentenceTransformerEmbedder
from archive.ingest.prepare import prepare
from archive.ingest.readers import read_file


@dataclass
class IngestResult:
    """Totals of the interleaved runs."""

    articles: int = 0
    chunks: int = 0  # passages stored by the pipeline
    distinct: int = 0  # distinct passage texts (what the pipeline actually embeds)
    pipeline_s: float = 0.0
    baseline_s: float = 0.0
    segment_ratios: list[float] = field(default_factory=list)
    torch_threads: int | None = None  # ARCHIVE_TORCH_THREADS (None: torch's default)
    embed_workers: int = 1  # the pipeline's embedding threads (ARCHIVE_EMBED_WORKERS or one per core)
    baseline_threads: int = 0  # torch.get_num_threads() while the baseline encoded
    precision: str = "float32"  # what the pipeline embedded in
    float32_s: float = 0.0  # the float32 pipeline's time, when the pipeline's precision is another
    peak_rss_mb: float = 0.0
    db_bytes: int = 0

    @property
    def pipeline_rate(self) -> float:
        return self.chunks / self.pipeline_s if self.pipeline_s else 0.0

    @property
    def baseline_rate(self) -> float:
        return self.chunks / self.baseline_s if self.baseline_s else 0.0

    @property
    def articles_rate(self) -> float:
        return self.articles / self.pipeline_s if self.pipeline_s else 0.0

    @property
    def float32_articles_rate(self) -> float:
        return self.articles / self.float32_s if self.float32_s else 0.0

    @property
    def precision_speedup(self) -> float:
        """Articles/s of the pipeline over the float32 pipeline's (0 when both are float32)."""
        return self.float32_s / self.pipeline_s if self.pipeline_s and self.float32_s else 0.0

    @property
    def ratio(self) -> float:
        return self.pipeline_rate / self.baseline_rate if self.baseline_rate else 0.0


def read_articles(path: Path, limit: int) -> list[RawArticle]:
    """The first ``limit`` articles of a JSON Lines file."""
    out: list[RawArticle] = []
    for record in read_file(path):
        if isinstance(record, RawArticle):
            out.append(record)
            if len(out) >= limit:
                break
    return out


def stored_texts(articles: list[RawArticle], embedder: SentenceTransformerEmbedder, seen: set[str]) -> list[str]:
    """The passages a fresh archive stores for ``articles`` (exact copies store none), in order."""
    hasher, options = MinHasher(), IngestOptions()
    texts: list[str] = []
    for article in articles:
        item = prepare(article, embedder=embedder, hasher=hasher, options=options)
        if item.content_hash not in seen:
            seen.add(item.content_hash)
            texts.extend(chunk.text for chunk in item.chunks)
    return texts


def run(data: Path, db: Path, *, articles: int, segments: int, home: Path, log: bool = True) -> IngestResult:
    """Ingest ``articles`` articles into a new archive ``db`` in ``segments`` parts, timing plain encoding beside each."""
    records = read_articles(data, articles)
    result = IngestResult(articles=len(records), torch_threads=Settings.resolve().embedding.torch_threads)
    seen: set[str] = set()
    size = -(-len(records) // segments)
    exact_db = db.with_name(db.stem + "-float32" + db.suffix)
    for stale in [*db.parent.glob(db.name + "*"), *db.parent.glob(exact_db.name + "*")]:
        stale.unlink()
    import torch

    default_threads = torch.get_num_threads()  # before loading the model applies ARCHIVE_TORCH_THREADS
    with Archive.open(db, home=home) as archive:
        embedder = archive.embedder
        assert isinstance(embedder, SentenceTransformerEmbedder), "the benchmark needs the real model"
        sides = _Sides(archive, embedder, default_threads)
        options = Settings.resolve().embedding
        result.precision = embedder.precision
        result.embed_workers = default_workers(
            str(sides.model.device), workers=options.workers, torch_threads=options.torch_threads
        )
        result.baseline_threads = default_threads
        if embedder.precision != "float32":
            sides.exact = _float32_archive(exact_db, home, embedder)
        # Warm up on real passages: the first batches of each padded length are slower, and
        # whichever side ran first would pay for them.
        sides.model.encode(stored_texts(records[:size], embedder, set())[:512], batch_size=32)
        try:
            for number, start in enumerate(range(0, len(records), size)):
                part = records[start : start + size]
                texts = stored_texts(part, embedder, seen)
                timings = sides.time(number, part, texts)
                _add(result, texts, timings)
                if log:
                    _log(number, texts, timings, result.precision)
        finally:
            if sides.exact is not None:
                sides.exact.close()
        with archive.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        result.db_bytes = db.stat().st_size
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


class _Sides:
    """What one segment is timed on: the pipeline, plain encode, and the float32 pipeline when there is one."""

    def __init__(self, archive: Archive, embedder: SentenceTransformerEmbedder, default_threads: int) -> None:
        import torch

        self.archive = archive
        self.model = embedder._load()  # the very instance ingest uses
        self.default_threads = default_threads
        self.pipeline_threads = torch.get_num_threads()
        self.exact: Archive | None = None

    def time(self, number: int, part: list[RawArticle], texts: list[str]) -> dict[str, float]:
        """Seconds per side, the order rotated by segment ``number``."""
        names = ["pipeline", "baseline"] + (["float32"] if self.exact is not None else [])
        timings: dict[str, float] = {}
        for side in names[number % len(names) :] + names[: number % len(names)]:
            began = time.perf_counter()
            if side == "baseline":
                self._encode(texts)
            else:
                target = self.archive if side == "pipeline" else self.exact
                assert target is not None
                report = target.ingest_records(part, options=IngestOptions(), command="bench")
                if report.chunks != len(texts):
                    print(f"  note: {side} stored {report.chunks} passages, baseline encoded {len(texts)}")
            timings[side] = time.perf_counter() - began
        return timings

    def _encode(self, texts: list[str]) -> None:
        import torch

        torch.set_num_threads(self.default_threads)
        self.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        torch.set_num_threads(self.pipeline_threads)


def _add(result: IngestResult, texts: list[str], timings: dict[str, float]) -> None:
    result.chunks += len(texts)
    result.distinct += len(set(texts))
    result.pipeline_s += timings["pipeline"]
    result.baseline_s += timings["baseline"]
    result.float32_s += timings.get("float32", 0.0)
    result.segment_ratios.append(timings["baseline"] / timings["pipeline"])


def _log(number: int, texts: list[str], timings: dict[str, float], precision: str) -> None:
    rates = {side: len(texts) / seconds for side, seconds in timings.items()}
    exact = f", float32 pipeline {rates['float32']:.1f}/s" if "float32" in rates else ""
    print(
        f"  segment {number + 1}: {len(texts)} passages, pipeline ({precision}) {rates['pipeline']:.1f}/s, "
        f"encode {rates['baseline']:.1f}/s{exact}",
        flush=True,
    )


def _float32_archive(path: Path, home: Path, embedder: SentenceTransformerEmbedder) -> Archive:
    """A second fresh archive whose pipeline embeds in float32, on ``embedder``'s loaded model."""
    exact = SentenceTransformerEmbedder(None, home=home, options=replace(embedder.options, precision="float32"))
    exact._model = embedder._load()  # one model in memory: the sides differ only in precision
    return Archive.open(path, embedder=exact)


def median_ratio(result: IngestResult) -> float:
    """Median over segments of pipeline rate / encode rate."""
    return median(result.segment_ratios) if result.segment_ratios else 0.0
