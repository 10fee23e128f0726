"""Resident memory of a search process: what a long-running `archive serve` or a script holds after warm searches.

One fresh process on a synthetic archive (``bench_synth``) of ``--size`` passages: the NumPy
query encoder embeds every query (as ``archive search`` does), then ``--queries`` searches
per mode run on ``--threads`` threads at once (pooled connections, as the web server's), and
the peak RSS (high-water mark) and current RSS are printed after each step as one JSON line.

    python scripts/bench_memory.py --size 100000 --threads 4
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
sys.path[:0] = [str(REPO), str(SCRIPTS)]


def _rss() -> dict[str, float]:
    """Peak RSS, and the RSS now split into private memory (anon) and mapped file pages (the archive's
    ``mmap``: shared with the page cache, counted once per connection mapping it)."""
    fields = {"VmRSS:": "now_mb", "RssAnon:": "anon_mb", "RssFile:": "file_mb"}
    out = {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for line in Path("/proc/self/status").read_text().splitlines():
        name = line.split(maxsplit=1)[0] if line else ""
        if name in fields:
            out[fields[name]] = int(line.split()[1]) / 1024
    return out


def measure(size: int, *, cache: Path, home: Path, queries: int, threads: int, language: bool) -> dict[str, Any]:
    import bench_search
    import bench_synth

    from archive import Archive

    db = bench_synth.cached_db(cache, size)
    steps: dict[str, Any] = {"imported": _rss()}
    encoder = bench_search._encoder(home)
    if encoder is None:
        raise SystemExit(f"no model under {home}")
    steps["encoder_loaded"] = _rss()
    texts = bench_synth.query_texts(bench_synth.sentence_pool(300), queries, seed=11)
    with Archive.open(db, embedder=bench_search.EncodingEmbedder(encoder)) as archive:  # type: ignore[arg-type]
        errors: list[BaseException] = []
        for mode in ("semantic", "keyword", "hybrid"):

            def run(part: list[str], mode: str = mode) -> None:
                try:
                    for text in part:
                        archive.search(text, k=10, mode=mode)  # type: ignore[arg-type]
                except BaseException as exc:  # reported below
                    errors.append(exc)

            workers = [threading.Thread(target=run, args=(texts[i::threads],)) for i in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            if errors:
                raise errors[0]
            steps[mode] = _rss()
        if language:  # a language filter: the exact scan over the shared matrix at any size up to its limit
            for text in texts[:8]:
                archive.search(text, k=10, mode="hybrid", language="en")
            steps["hybrid_language_filter"] = _rss()
    return {"passages": size, "threads": threads, "queries": queries, **steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--language", action="store_true", help="also run hybrid searches with a language filter")
    parser.add_argument("--cache", type=Path, default=REPO / ".archive-home" / "bench")
    parser.add_argument("--home", type=Path, default=REPO / ".archive-home")
    args = parser.parse_args()
    result = measure(
        args.size, cache=args.cache, home=args.home, queries=args.queries, threads=args.threads, language=args.language
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
