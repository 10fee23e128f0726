"""Search latency (semantic, hybrid) and prefilter recall on synthetic archives; query embedding time.

Latency is ``Archive.search(..., k=10)`` end to end (KNN, FTS5, fusion, duplicate
collapse, hit details) with the query vector already computed: embedding is
timed on its own (:func:`query_embedding`), since it does not depend on size.
Recall@10 compares the default path with the exact float scan on the same
queries (the prefilter threshold patched away).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import median

import bench_synth
import numpy as np

from archive import Archive
from archive.config import Settings
from archive.embedding.query_encoder import QueryEncoder
from archive.store.sqlite import knn
from archive.store.sqlite.matrix_cache import CACHE


class EncodingEmbedder:
    """Embeds each query with the NumPy query encoder of all-MiniLM-L6-v2, as ``archive search`` does."""

    name = bench_synth.DEFAULT_MODEL
    dimension = bench_synth.DIMENSION
    max_tokens = 254

    def __init__(self, encoder: QueryEncoder) -> None:
        self.encoder = encoder
        self.next = 0

    def embed_query(self, text: str) -> np.ndarray:
        return self.encoder.encode(text)

    def embed(self, texts: Sequence[str], **_: object) -> np.ndarray:
        raise RuntimeError("search benchmarks never embed passages")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _encoder(home: Path | None) -> QueryEncoder | None:
    from archive.embedding.model_files import resolve_model_path
    from archive.embedding.query_encoder import load_query_encoder
    from archive.errors import ArchiveError

    try:
        source = resolve_model_path(None, home) if home is not None else None
    except ArchiveError:  # no model unpacked or packaged here: the embedded figures stay 0
        return None
    return load_query_encoder(source) if isinstance(source, Path) else None


class ReplayEmbedder:
    """Hands out precomputed query vectors in turn; named like the model the archive records."""

    name = bench_synth.DEFAULT_MODEL
    dimension = bench_synth.DIMENSION
    max_tokens = 254

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.next = 0

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.vectors[self.next % len(self.vectors)]
        self.next += 1
        return vector

    def embed(self, texts: Sequence[str], **_: object) -> np.ndarray:
        raise RuntimeError("search benchmarks never embed passages")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@dataclass
class SizeResult:
    """Latencies (ms) and recall for one archive size."""

    chunks: int
    path: str  # "exact" or "bits prefilter"
    semantic_p50: float
    semantic_p95: float
    hybrid_p50: float
    hybrid_p95: float
    recall_at_10: float | None  # None where the default path is the exact scan
    similarity_ratio: float | None  # summed cosine of the top 10 found / of the exact top 10
    exact_semantic_p50: float | None
    db_mb_per_1k: float
    peak_rss_mb: float
    first_ms: float = 0.0  # the first (hybrid) search of a fresh process: reads the prefilter's bit blocks
    keyword_p50: float = 0.0
    keyword_p95: float = 0.0
    # hybrid with each query embedded by the NumPy query encoder inside the timing (0: no model here)
    embedded_hybrid_p50: float = 0.0
    embedded_hybrid_p95: float = 0.0


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50) * 1000), float(np.percentile(values, 95) * 1000)


def _timed_searches(archive: Archive, texts: list[str], mode: str) -> tuple[list[float], list[list[int]]]:
    latencies, ids, _ = _searches(archive, texts, mode)
    return latencies, ids


def _searches(archive: Archive, texts: list[str], mode: str) -> tuple[list[float], list[list[int]], list[float]]:
    """Latencies, result chunk ids and summed semantic scores of one search per text."""
    archive.embedder.next = 0  # type: ignore[attr-defined]
    latencies, ids, similarity = [], [], []
    for text in texts:
        began = time.perf_counter()
        hits = archive.search(text, k=10, mode=mode)
        latencies.append(time.perf_counter() - began)
        ids.append([h.chunk_id for h in hits])
        similarity.append(sum(h.scores.get("semantic", 0.0) for h in hits))
    return latencies, ids, similarity


def _recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(found, truth)]))


@contextmanager
def _prefilter(archive: Archive, min_rows: int | None, candidates: int | None = None) -> Iterator[None]:
    """Force the prefilter threshold (None: exact) and, optionally, the float-rescored candidate count.

    The store's readers take the threshold from the store (set when it was opened), so both change. The held
    matrices are let go on the way in and out: a table the prefilter serves is held compact (bfloat16), and the
    exact run's truth must come from float32 vectors."""
    store = archive.store()
    saved = archive.settings, store.prefilter_min_rows, knn.NARROW_MIN, knn.NARROW_PER_K  # type: ignore[attr-defined]
    archive.settings = replace(archive.settings, prefilter_min_rows=min_rows)
    store.prefilter_min_rows = min_rows  # type: ignore[attr-defined]
    if candidates:
        knn.NARROW_MIN, knn.NARROW_PER_K = candidates, 0
    CACHE.clear()
    try:
        yield
    finally:
        archive.settings, store.prefilter_min_rows, knn.NARROW_MIN, knn.NARROW_PER_K = saved  # type: ignore[attr-defined]
        CACHE.clear()


def measure_size(cache: Path, chunks: int, *, queries: int, home: Path | None = None) -> SizeResult:
    """Build (or reuse) a synthetic archive of ``chunks`` passages and time ``queries`` searches per mode.

    With the model under ``home``, hybrid is also timed with each query embedded inside the timing.
    """
    path = bench_synth.cached_db(cache, chunks)
    texts = bench_synth.query_texts(bench_synth.sentence_pool(300), queries, seed=11)
    embedded = _embedded_hybrid(path, texts, _encoder(home))
    embedder = ReplayEmbedder(bench_synth.query_vectors(queries))
    threshold = Settings.resolve().prefilter_min_rows  # the default threshold, or ARCHIVE_PREFILTER_MIN_ROWS
    quantized = threshold is not None and chunks > threshold
    with Archive.open(path, embedder=embedder) as archive:  # type: ignore[arg-type]
        first = _timed_searches(archive, texts[:3], "hybrid")[0][0]  # loads the bit blocks, warms caches
        semantic, found, similarity = _searches(archive, texts, "semantic")
        hybrid, _ = _timed_searches(archive, texts, "hybrid")
        keyword, _ = _timed_searches(archive, texts, "keyword")
        recall = ratio = exact_p50 = None
        if quantized:
            with _prefilter(archive, None):
                exact, truth, best = _searches(archive, texts, "semantic")
            recall, ratio, exact_p50 = _recall(found, truth), sum(similarity) / sum(best), _percentiles(exact)[0]
    size_mb = sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if p.exists()) / 1e6
    return SizeResult(
        chunks,
        "bits prefilter" if quantized else "exact",
        *_percentiles(semantic),
        *_percentiles(hybrid),
        recall,
        ratio,
        exact_p50,
        size_mb / (chunks / 1000),
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        first * 1000,
        *_percentiles(keyword),
        *embedded,
    )


def _embedded_hybrid(path: Path, texts: list[str], encoder: QueryEncoder | None) -> tuple[float, float]:
    """p50 / p95 (ms) of hybrid searches that embed their query; (0, 0) without a model."""
    if encoder is None:
        return 0.0, 0.0
    with Archive.open(path, embedder=EncodingEmbedder(encoder)) as archive:  # type: ignore[arg-type]
        _timed_searches(archive, texts[:3], "hybrid")
        latencies, _ = _timed_searches(archive, texts, "hybrid")
    return _percentiles(latencies)


def tradeoff(cache: Path, chunks: int, *, queries: int, candidates: Sequence[int]) -> list[dict[str, float]]:
    """Latency and recall of the prefilter forced on at each float-rescored candidate count, on a synthetic archive."""
    path = bench_synth.cached_db(cache, chunks)
    texts = bench_synth.query_texts(bench_synth.sentence_pool(300), queries, seed=11)
    return tradeoff_on(path, texts, bench_synth.query_vectors(queries), candidates)


def tradeoff_on(path: Path, texts: list[str], vectors: np.ndarray, candidates: Sequence[int]) -> list[dict[str, float]]:
    """Latency and recall of the prefilter forced on at each candidate count (and of the exact scan)."""
    rows: list[dict[str, float]] = []
    with Archive.open(path, embedder=ReplayEmbedder(vectors)) as archive:  # type: ignore[arg-type]
        _timed_searches(archive, texts[:3], "hybrid")
        with _prefilter(archive, None):
            exact, truth, _ = _searches(archive, texts, "semantic")
            hybrid, _ = _timed_searches(archive, texts, "hybrid")
        rows.append(
            {
                "candidates": 0,
                "semantic_p50": _percentiles(exact)[0],
                "hybrid_p50": _percentiles(hybrid)[0],
                "recall_at_10": 1.0,
            }
        )
        for count in candidates:
            with _prefilter(archive, 0, count):
                semantic, found, _ = _searches(archive, texts, "semantic")
                hybrid, _ = _timed_searches(archive, texts, "hybrid")
            rows.append(
                {
                    "candidates": count,
                    "semantic_p50": _percentiles(semantic)[0],
                    "hybrid_p50": _percentiles(hybrid)[0],
                    "recall_at_10": _recall(found, truth),
                }
            )
    return rows


@dataclass
class EmbedResult:
    """Per-query embedding time (ms, median) of the NumPy encoder and of torch, and their agreement."""

    numpy_load_ms: float
    numpy_ms: float
    torch_load_ms: float
    torch_ms: float
    min_cosine: float


def query_embedding(home: Path, texts: list[str]) -> EmbedResult:
    """Time one-query embedding with the NumPy encoder and with SentenceTransformer.encode."""
    from archive.embedding.model_files import resolve_model_path
    from archive.embedding.query_encoder import load_query_encoder

    source = resolve_model_path(None, home)
    assert isinstance(source, Path)
    began = time.perf_counter()
    encoder = load_query_encoder(source)
    numpy_load = time.perf_counter() - began
    assert encoder is not None, "the default model should take the NumPy path"
    began = time.perf_counter()
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    torch_load = time.perf_counter() - began
    fast, slow, cosines = [], [], []
    for text in texts:
        began = time.perf_counter()
        a = encoder.encode(text)
        fast.append(time.perf_counter() - began)
        began = time.perf_counter()
        b = model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]
        slow.append(time.perf_counter() - began)
        cosines.append(float(np.dot(a, b)))
    return EmbedResult(numpy_load * 1000, median(fast) * 1000, torch_load * 1000, median(slow) * 1000, min(cosines))
