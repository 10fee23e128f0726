"""Warm search p50 of two checkouts, interleaved: for before/after figures on a shared, loaded machine.

Each round runs one fresh process per checkout (the ``archive`` package of that tree,
this tree's benchmark timers), on the same synthetic archive and queries; the rounds
alternate, so a burst of load from other jobs hits both sides.

    python scripts/bench_compare.py OLD_TREE . --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent


def measure(tree: Path, cache: Path, home: Path, chunks: int, queries: int) -> dict[str, float]:
    """This process: p50 (ms) per mode, of the hybrid with the query embedded, and of the encoder alone."""
    sys.path[:0] = [str(tree), str(SCRIPTS)]
    import time

    import bench_search
    import bench_synth
    import numpy as np

    from archive import Archive

    db = bench_synth.cached_db(cache, chunks)
    texts = bench_synth.query_texts(bench_synth.sentence_pool(300), queries, seed=11)
    out: dict[str, float] = {}
    with Archive.open(db, embedder=bench_search.ReplayEmbedder(bench_synth.query_vectors(queries))) as archive:  # type: ignore[arg-type]
        bench_search._timed_searches(archive, texts[:3], "hybrid")
        for mode in ("semantic", "keyword", "hybrid"):
            latencies, _ = bench_search._timed_searches(archive, texts, mode)
            out[mode] = float(np.percentile(latencies, 50) * 1000)
    encoder = bench_search._encoder(home)
    if encoder is not None:
        out["embedded_hybrid"] = bench_search._embedded_hybrid(db, texts, encoder)[0]
        times = []
        for text in texts:
            began = time.perf_counter()
            encoder.encode(text)
            times.append(time.perf_counter() - began)
        out["encode"] = float(np.median(times) * 1000)
    out["load"] = os.getloadavg()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", type=Path, nargs="*", help="the two checkouts (before, after)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--cache", type=Path, default=REPO / ".archive-home" / "bench")
    parser.add_argument("--home", type=Path, default=REPO / ".archive-home")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child.resolve(), args.cache, args.home, args.chunks, args.queries)))
        return
    if len(args.trees) != 2:
        parser.error("give two checkouts: before and after")
    for round_number in range(1, args.rounds + 1):
        for tree in args.trees:
            command = [sys.executable, __file__, "--child", str(tree), "--chunks", str(args.chunks)]
            command += ["--queries", str(args.queries), "--cache", str(args.cache), "--home", str(args.home)]
            env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"round {round_number} {tree}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()), flush=True)


if __name__ == "__main__":
    main()
