"""Benchmarks: ingest throughput, search latency and recall, CLI cold start, memory, size, chromadb.

Not a test: it prints a table (Markdown) and, with ``--json``, writes every figure.
Each section runs in its own process so that peak memory (RSS high-water mark)
belongs to that section alone. Synthetic archives are cached under
``--cache`` (default ``.archive-home/bench``, gitignored); reruns reuse them.

    python scripts/bench.py                          # everything, 2,000 articles (about an hour here)
    python scripts/bench.py --articles 200 --sizes 10000,100000 --sections ingest,search
    ARCHIVE_TORCH_THREADS=1 python scripts/bench.py --sections ingest
    python scripts/bench.py --sections serve          # 20 clients for 60 s on `archive serve` during an ingest
    python scripts/bench.py --sections peers          # ours vs chromadb vs txtai, queries embedded, same run

The machine this was written on has 2 cores shared with other people's test
runs: every figure is a median of repeated runs, and the table shows the load
average next to the timings that depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
sys.path[:0] = [str(REPO), str(SCRIPTS)]

SECTIONS = ("ingest", "search", "tradeoff", "embed", "cold", "chroma", "peers", "serve")


def _counts(text: str) -> str:
    """An argparse type: comma-separated positive whole numbers, kept as given (the children parse them again)."""
    parts = [part for part in text.split(",") if part]
    if not parts or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated positive numbers, e.g. 10000,100000")
    return text


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000, help="ukraine_media articles to ingest (default 2000)")
    parser.add_argument("--segments", type=int, default=10, help="interleaved ingest/encode segments")
    parser.add_argument(
        "--sizes", type=_counts, default="10000,100000,1000000", help="synthetic archive sizes (passages)"
    )
    parser.add_argument("--queries", type=int, default=50, help="queries per size and mode")
    parser.add_argument(
        "--tradeoff-sizes", type=_counts, default="100000,1000000", help="sizes for the prefilter tradeoff table"
    )
    parser.add_argument(
        "--candidates",
        type=_counts,
        default="200,400,800,1600",
        help="prefilter candidates rescored with float vectors, to compare",
    )
    parser.add_argument("--cold-runs", type=int, default=7, help="fresh `archive search` processes per variant")
    parser.add_argument(
        "--cold-sizes",
        type=_counts,
        default="10000",
        help="synthetic archive sizes (passages) for the one-shot search; the first gets the torch variant too",
    )
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"any of {','.join(SECTIONS)}")
    parser.add_argument("--cache", type=Path, default=REPO / ".archive-home" / "bench")
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("ARCHIVE_HOME", REPO / ".archive-home")))
    parser.add_argument("--chroma-venv", type=Path, default=REPO / ".archive-home" / "bench" / "chroma-venv")
    parser.add_argument("--txtai-venv", type=Path, default=REPO / ".archive-home" / "bench" / "txtai-venv")
    parser.add_argument("--serve-clients", type=int, default=20, help="serve: concurrent HTTP clients")
    parser.add_argument("--serve-seconds", type=float, default=60, help="serve: how long the clients run")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--backend",
        help="sqlite, postgres or both: the store benchmark of scripts/bench_backend.py at --sizes (synthetic passages)",
    )
    parser.add_argument(
        "--bulk",
        action="store_true",
        help="--backend: build each archive inside bulk_load (PostgreSQL: HNSW after the rows), then time "
        "4,000 passages written into it",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="run nothing: merge earlier --json files (later ones win) and print their table",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -- children: one section each, printing one JSON line ---------------------------
def _child(args: argparse.Namespace) -> dict[str, Any]:
    if args.child == "ingest":
        import bench_ingest
        import bench_synth

        result = bench_ingest.run(
            bench_synth.DATA,
            args.cache / f"ingest-{args.articles}.db",
            articles=args.articles,
            segments=args.segments,
            home=args.home,
        )
        return {
            **asdict(result),
            "pipeline_rate": result.pipeline_rate,
            "baseline_rate": result.baseline_rate,
            "ratio": result.ratio,
            "median_segment_ratio": bench_ingest.median_ratio(result),
            "articles_rate": result.articles_rate,
            "float32_articles_rate": result.float32_articles_rate,
            "precision_speedup": result.precision_speedup,
        }
    if args.child == "search":
        import bench_search

        return asdict(bench_search.measure_size(args.cache, args.size, queries=args.queries, home=args.home))
    if args.child == "tradeoff":
        import bench_search

        counts = [int(f) for f in args.candidates.split(",")]
        return {
            "chunks": args.size,
            "data": "synthetic",
            "rows": bench_search.tradeoff(args.cache, args.size, queries=args.queries, candidates=counts),
        }
    if args.child == "tradeoff-real":
        return _real_tradeoff(args)
    if args.child == "embed":
        import bench_search
        import bench_synth

        texts = bench_synth.query_texts(bench_synth.sentence_pool(300), args.queries, seed=11)
        return asdict(bench_search.query_embedding(args.home, texts))
    if args.child == "chroma-ours":
        return _ours_for_chroma(args)
    raise SystemExit(f"unknown child section {args.child!r}")


def _run_child(args: argparse.Namespace, section: str, **extra: Any) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        section,
        "--articles",
        str(args.articles),
        "--segments",
        str(args.segments),
        "--queries",
        str(args.queries),
        "--cache",
        str(args.cache),
        "--home",
        str(args.home),
        "--candidates",
        args.candidates,
    ]
    for key, value in extra.items():
        command += [f"--{key}", str(value)]
    last = ""
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:  # progress lines pass through; the last line is the JSON result
            if last:
                print(last, end="", flush=True)
            last = line
    if child.returncode != 0:
        raise SystemExit(f"section {section} failed (exit {child.returncode})")
    return json.loads(last)  # type: ignore[no-any-return]


def _query_vectors(home: Path, count: int) -> Any:
    import bench_synth
    import numpy as np

    from archive.embedding.model_files import resolve_model_path
    from archive.embedding.query_encoder import load_query_encoder

    encoder = load_query_encoder(resolve_model_path(None, home))  # type: ignore[arg-type]
    assert encoder is not None
    texts = bench_synth.query_texts(bench_synth.sentence_pool(300), count, seed=11)
    return np.stack([encoder.encode(t) for t in texts]), texts


def _real_tradeoff(args: argparse.Namespace) -> dict[str, Any]:
    """The tradeoff on the real ingested passages, with the natural-language queries of scripts/news_queries.json."""
    import bench_search
    import numpy as np

    from archive.embedding.model_files import resolve_model_path
    from archive.embedding.query_encoder import load_query_encoder
    from archive.store.sqlite.engine import create_archive_engine

    db = args.cache / f"ingest-{args.articles}.db"
    texts = [q["query"] for q in json.loads((SCRIPTS / "news_queries.json").read_text(encoding="utf-8"))]
    encoder = load_query_encoder(resolve_model_path(None, args.home))  # type: ignore[arg-type]
    assert encoder is not None
    vectors = np.stack([encoder.encode(t) for t in texts])
    counts = [int(f) for f in args.candidates.split(",")]
    engine = create_archive_engine(db)
    with engine.connect() as conn:
        chunks = int(conn.exec_driver_sql("SELECT count(*) FROM chunks").scalar() or 0)
    engine.dispose()
    return {"chunks": chunks, "data": "real", "rows": bench_search.tradeoff_on(db, texts, vectors, counts)}


def _ours_for_chroma(args: argparse.Namespace) -> dict[str, Any]:
    """Export for chromadb, then time the same semantic queries on the archive (precomputed vectors)."""
    import resource

    import bench_chroma
    import bench_search

    from archive import Archive

    db = args.cache / f"ingest-{args.articles}.db"
    if not db.exists():
        raise SystemExit(f"{db} is missing: run the ingest section first (same --articles)")
    vectors, texts = _query_vectors(args.home, args.queries)
    chunks = bench_chroma.export_archive(db, args.cache / bench_chroma.EXPORT_NAME, vectors)
    with Archive.open(db, embedder=bench_search.ReplayEmbedder(vectors)) as archive:  # type: ignore[arg-type]
        bench_search._timed_searches(archive, texts[:3], "semantic")
        latencies, _ = bench_search._timed_searches(archive, texts, "semantic")
    p50, p95 = bench_search._percentiles(latencies)
    return {
        "chunks": chunks,
        "queries": len(texts),
        "query_p50_ms": p50,
        "query_p95_ms": p95,
        "disk_bytes": db.stat().st_size,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- the parent: run the sections, print the table -----------------------------------
def _cold(args: argparse.Namespace) -> list[dict[str, Any]]:
    import bench_cold
    import bench_synth

    out = []
    for label, arguments in bench_cold.STARTUP_COMMANDS:
        result = bench_cold.measure_command(
            arguments, home=args.home, cache=args.cache, runs=args.cold_runs, label=label
        )
        out.append({**asdict(result), "startup": True})
        print(f"  cold start, {label}: {result.wall_s:.3f} s wall, {result.cpu_s:.3f} s CPU", flush=True)
    sizes = [int(x) for x in args.cold_sizes.split(",") if x]
    for number, size in enumerate(sizes):
        try:
            db = bench_synth.cached_db(args.cache, size)
        except FileNotFoundError as exc:  # the synthetic archive's sentences come from ../shared/data
            print(f"  cold start of search skipped: {exc}", flush=True)
            return out
        variants = [("numpy query encoder (default)", {})]
        if number == 0:
            variants.append(("torch query encoder", {"ARCHIVE_QUERY_ENCODER": "torch"}))
        for label, env in variants:
            result = bench_cold.measure(
                db, home=args.home, cache=args.cache, runs=args.cold_runs, label=label, extra_env=env
            )
            out.append({**asdict(result), "passages": size})
            print(
                f"  cold start, {size:,} passages, {label}: {result.wall_s:.2f} s wall, {result.cpu_s:.2f} s CPU",
                flush=True,
            )
    return out


def _chroma(args: argparse.Namespace) -> dict[str, Any]:
    import bench_chroma

    ours = _run_child(args, "chroma-ours")
    try:
        python = bench_chroma.ensure_venv(args.chroma_venv)
        theirs = bench_chroma.run_chroma(python, args.cache / bench_chroma.EXPORT_NAME, args.cache / "chroma-store")
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        return {"ours": ours, "error": str(exc)}
    return {"ours": ours, "chroma": theirs}


def main(argv: list[str] | None = None) -> None:
    """Run the chosen sections and print the table."""
    args = _parse(argv)
    if args.child:
        print(json.dumps(_child(args)))
        return
    if args.from_json:
        from bench_report import table

        merged: dict[str, Any] = {}
        for path in args.from_json:
            merged.update(json.loads(path.read_text(encoding="utf-8")))
        print(table(merged))
        return
    if args.backend:
        import bench_backend

        sizes = [int(s) for s in args.sizes.split(",") if s]
        for size in sizes:
            extra = ["--bulk"] if args.bulk else []
            if args.json:  # one file per size when there are several
                path = (
                    args.json if len(sizes) == 1 else args.json.with_name(f"{args.json.stem}-{size}{args.json.suffix}")
                )
                extra += ["--json", str(path)]
            bench_backend.main(["--backend", args.backend, "--size", str(size), "--queries", str(args.queries), *extra])
        return
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    results: dict[str, Any] = {"load_average_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    if "ingest" in wanted:
        print(f"ingest: {args.articles} articles in {args.segments} interleaved segments", flush=True)
        results["ingest"] = _run_child(args, "ingest")
    if "search" in wanted:
        results["search"] = []
        for size in [int(s) for s in args.sizes.split(",") if s]:
            print(f"search: {size:,} passages", flush=True)
            results["search"].append(_run_child(args, "search", size=size))
    if "tradeoff" in wanted:
        results["tradeoff"] = []
        for size in [int(s) for s in args.tradeoff_sizes.split(",") if s]:
            print(f"prefilter tradeoff: {size:,} passages", flush=True)
            results["tradeoff"].append(_run_child(args, "tradeoff", size=size, queries=min(args.queries, 20)))
        if (args.cache / f"ingest-{args.articles}.db").exists():
            print("prefilter tradeoff: real passages of the ingest benchmark", flush=True)
            results["tradeoff"].append(_run_child(args, "tradeoff-real"))
    if "embed" in wanted:
        results["embed"] = _run_child(args, "embed")
    if "cold" in wanted:
        results["cold"] = _cold(args)
    if "chroma" in wanted:
        print("chromadb side by side", flush=True)
        results["chroma"] = _chroma(args)
    if "peers" in wanted:
        import bench_peers

        print("peers: ours, chromadb and txtai side by side, queries embedded (scripts/bench_peers.py)", flush=True)
        results["peers"] = bench_peers.run_section(
            args.cache,
            args.home,
            articles=args.articles,
            queries=64,
            chroma_venv=args.chroma_venv,
            txtai_venv=args.txtai_venv,
        )
        print(bench_peers.table(results["peers"]), flush=True)
    if "serve" in wanted:
        import bench_serve

        print(f"serve: {args.serve_clients} clients for {args.serve_seconds:.0f} s during an ingest", flush=True)
        load = bench_serve.run(args.cache / "serve", clients=args.serve_clients, duration=args.serve_seconds)
        results["serve"] = asdict(load)
    results["load_average_end"] = os.getloadavg()[0]
    from bench_report import table

    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
