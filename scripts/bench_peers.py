"""Warm search side by side in one run: this archive, chromadb and txtai, every query embedded inside the timing.

All three search the same ukraine_media articles with the same all-MiniLM-L6-v2 folder and
the same 64 natural-language queries (``news_queries.json`` and ``known_items.json``), k = 10,
one fresh process each (peak RSS is that process's alone):

* ours: ``Archive.search`` in semantic, keyword and hybrid mode on the archive the ingest
  benchmark built (``ingest-N.db``), queries embedded by the NumPy encoder, as ``archive search`` does;
* chromadb (HNSW): the archive's passages and vectors loaded into a persistent collection
  (chromadb embeds no passage: same vectors); each query embedded by the same NumPy encoder
  (the chroma venv has no torch), then ``collection.query``; semantic only;
* txtai (faiss + BM25, ``content=True, hybrid=True``): its own index of the same articles, one
  document per article (title and text, ``maxlength`` 256, the model's limit), built offline from
  the model folder under ``--index-root`` on first use; ``embeddings.search`` with weights
  [1, 0] (semantic), [0, 1] (keyword) and txtai's default (hybrid), its own torch query embedding.

    python scripts/bench_peers.py --articles 2000          # after `bench.py --sections ingest --articles 2000`
    python scripts/bench_peers.py --db news.db --data articles.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
MODES = ("semantic", "keyword", "hybrid")
TXTAI_WEIGHTS: dict[str, list[float] | None] = {"semantic": [1.0, 0.0], "keyword": [0.0, 1.0], "hybrid": None}
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
MAX_TOKENS = 256
WARMUP = 3
K = 10


def query_texts(count: int = 64) -> list[str]:
    """The news evaluation's queries, then the known-item ones, ``count`` in all."""
    news = [q["query"] for q in json.loads((SCRIPTS / "news_queries.json").read_text(encoding="utf-8"))]
    known = [q["query"] for q in json.loads((SCRIPTS / "known_items.json").read_text(encoding="utf-8"))]
    return (news + known)[:count]


def _figures(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": float(np.percentile(latencies, 50) * 1000), "p95_ms": float(np.percentile(latencies, 95) * 1000)}


def _timed(search: Any, texts: list[str]) -> dict[str, float]:
    for text in texts[:WARMUP]:
        search(text)
    latencies = []
    for text in texts:
        began = time.perf_counter()
        search(text)
        latencies.append(time.perf_counter() - began)
    return _figures(latencies)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- children: each prints one JSON line ---------------------------------------------------------------------------
def ours_child(db: Path, model: Path, texts: list[str]) -> dict[str, Any]:
    sys.path[:0] = [str(REPO), str(SCRIPTS)]
    import bench_search

    from archive import Archive
    from archive.embedding.query_encoder import load_query_encoder

    encoder = load_query_encoder(model)
    if encoder is None:
        raise SystemExit(f"no NumPy query encoder for {model}")
    out: dict[str, Any] = {}
    with Archive.open(db, embedder=bench_search.EncodingEmbedder(encoder)) as archive:  # type: ignore[arg-type]
        out["passages"] = archive.stats().get("chunks")
        for mode in MODES:
            out[mode] = _timed(lambda text, mode=mode: archive.search(text, k=K, mode=mode), texts)
    return {**out, "peak_rss_mb": _rss_mb(), "load_average": os.getloadavg()[0]}


def chroma_child(export: Path, store: Path, model: Path, texts: list[str]) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))  # the NumPy query encoder needs only numpy and tokenizers
    import chromadb

    from archive.embedding.query_encoder import load_query_encoder

    encoder = load_query_encoder(model)
    assert encoder is not None
    data = np.load(export)
    ids = [str(i) for i in data["ids"]]
    documents = json.loads(str(data["texts"]))
    shutil.rmtree(store, ignore_errors=True)
    client = chromadb.PersistentClient(path=str(store))
    collection = client.create_collection("passages", metadata={"hnsw:space": "cosine"})
    began = time.perf_counter()
    for start in range(0, len(ids), 5000):  # chromadb refuses batches above ~5,461
        end = start + 5000
        collection.add(
            ids=ids[start:end], embeddings=data["vectors"][start:end].tolist(), documents=documents[start:end]
        )
    add_s = time.perf_counter() - began

    def search(text: str) -> object:
        return collection.query(query_embeddings=[encoder.encode(text).tolist()], n_results=K)

    semantic = _timed(search, texts)
    return {
        "passages": len(ids),
        "add_s": add_s,
        "semantic": semantic,
        "peak_rss_mb": _rss_mb(),
        "version": chromadb.__version__,
        "load_average": os.getloadavg()[0],
    }


def txtai_child(data: Path, index_root: Path, model: Path, texts: list[str]) -> dict[str, Any]:
    sys.path.insert(0, str(SCRIPTS))
    from importlib.metadata import version as installed

    import eval_txtai
    from txtai import Embeddings

    version = installed("txtai")
    target = eval_txtai.index_folder(index_root, data, version, MAX_TOKENS)
    built: dict[str, Any] | None = None
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        built = eval_txtai.build_index(model, data, target, MAX_TOKENS)
    meta = json.loads((target / "eval-meta.json").read_text())
    embeddings = Embeddings()
    embeddings.load(str(target), config={"path": str(model)})
    out: dict[str, Any] = {"articles": embeddings.count(), "index_s": meta["index_seconds"], "built_now": bool(built)}
    for mode, weights in TXTAI_WEIGHTS.items():
        out[mode] = _timed(lambda text, weights=weights: embeddings.search(text, K, weights=weights), texts)
    return {**out, "peak_rss_mb": _rss_mb(), "version": version, "load_average": os.getloadavg()[0]}


# -- the parent: export, run each child, print the table ------------------------------------------------------------
def export_passages(db: Path, target: Path) -> int:
    """The archive's passage ids, texts and stored vectors, for chromadb."""
    sys.path[:0] = [str(REPO)]
    from archive.store.sqlite.engine import create_archive_engine

    engine = create_archive_engine(db, create=False)
    sql = "SELECT c.id, c.text, v.embedding FROM chunks c CROSS JOIN vec_chunks v ON v.chunk_id = c.id ORDER BY c.id"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(sql).all()
    engine.dispose()
    vectors = np.stack([np.frombuffer(r[2], np.float32) for r in rows])
    np.savez(
        target, ids=np.array([r[0] for r in rows]), vectors=vectors, texts=np.array(json.dumps([r[1] for r in rows]))
    )
    return len(rows)


def first_articles(data: Path, count: int, target: Path) -> Path:
    """The first ``count`` records of ``data`` (what the ingest benchmark took), for txtai; written once,
    so that txtai's cached index (named by the file's size and time) is reused."""
    if target.is_file():
        return target
    partial = target.with_name(target.name + ".partial")
    with gzip.open(data, "rt", encoding="utf-8") as lines, gzip.open(partial, "wt", encoding="utf-8") as out:
        taken = 0
        for line in lines:
            if taken == count:
                break
            if line.strip():
                out.write(line)
                taken += 1
    partial.rename(target)
    return target


def _run(python: Path, child: str, args: list[str], texts: list[str], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(texts, handle)
    try:
        command = [str(python), __file__, "--child", child, "--texts", handle.name, *args]
        # No bytecode written into the peers' venvs: they may be shared, read-only folders.
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    finally:
        os.unlink(handle.name)
    if done.returncode != 0:
        raise RuntimeError(f"{child} failed: {done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> dict[str, Any]:
    texts = query_texts(args.queries)
    model = args.home / "models" / "all-MiniLM-L6-v2"
    scratch = args.cache / "peers"
    scratch.mkdir(parents=True, exist_ok=True)
    path_env = {"PYTHONPATH": str(REPO)}
    result: dict[str, Any] = {"queries": len(texts), "k": K}
    result["ours"] = _run(Path(sys.executable), "ours", ["--db", str(args.db), "--model", str(model)], texts, path_env)
    print(f"  ours: {result['ours']}", flush=True)
    if args.chroma_venv:
        export = scratch / "passages.npz"
        export_passages(args.db, export)
        child_args = ["--export", str(export), "--store", str(scratch / "chroma"), "--model", str(model)]
        result["chromadb"] = _run(args.chroma_venv / "bin" / "python", "chroma", child_args, texts, path_env)
        print(f"  chromadb: {result['chromadb']}", flush=True)
    if args.txtai_venv:
        data = args.data
        if not args.data_is_subset:
            data = first_articles(args.data, args.articles, scratch / f"articles-{args.articles}.jsonl.gz")
        child_args = ["--data", str(data), "--index-root", str(args.index_root), "--model", str(model)]
        result["txtai"] = _run(args.txtai_venv / "bin" / "python", "txtai", child_args, texts, OFFLINE_ENV)
        print(f"  txtai: {result['txtai']}", flush=True)
    return result


def run_section(
    cache: Path, home: Path, *, articles: int, queries: int, chroma_venv: Path | None, txtai_venv: Path | None
) -> dict[str, Any]:
    """``bench.py --sections peers``: the defaults of this script's command line."""
    sys.path.insert(0, str(SCRIPTS))
    import eval_txtai

    args = argparse.Namespace(
        cache=cache,
        home=home,
        articles=articles,
        queries=queries,
        db=cache / f"ingest-{articles}.db",
        data=eval_txtai.default_data_dir() / eval_txtai.NEWS_FILE,
        data_is_subset=False,
        index_root=cache / "peers" / "txtai-index",
        chroma_venv=chroma_venv,
        txtai_venv=txtai_venv,
    )
    if not args.db.exists():
        raise SystemExit(f"{args.db} is missing: run the ingest section first (same --articles)")
    return run(args)


def table(result: dict[str, Any]) -> str:
    """Markdown: p50 / p95 per system and mode, and each peer's p50 as a ratio of ours (>1: ours is faster)."""
    ours = result["ours"]
    lines = ["| system | " + " | ".join(f"{m} p50 / p95 ms" for m in MODES) + " | peak RSS MB |", "|---" * 5 + "|"]
    for name in ("ours", "chromadb", "txtai"):
        figures = result.get(name)
        if figures is None:
            continue
        cells = []
        for mode in MODES:
            if mode not in figures:
                cells.append("–")
                continue
            cell = f"{figures[mode]['p50_ms']:.1f} / {figures[mode]['p95_ms']:.1f}"
            if name != "ours":
                cell += f" ({figures[mode]['p50_ms'] / ours[mode]['p50_ms']:.2f}× ours)"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {figures['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def _child(args: argparse.Namespace) -> None:
    texts = json.loads(Path(args.texts).read_text())
    if args.child == "ours":
        out = ours_child(args.db, args.model, texts)
    elif args.child == "chroma":
        out = chroma_child(args.export, args.store, args.model, texts)
    else:
        out = txtai_child(args.data, args.index_root, args.model, texts)
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000, help="the first N ukraine_media articles (as ingested)")
    parser.add_argument("--cache", type=Path, default=REPO / ".archive-home" / "bench")
    parser.add_argument("--home", type=Path, default=REPO / ".archive-home")
    parser.add_argument("--db", type=Path, help="the archive (default: <cache>/ingest-<articles>.db)")
    parser.add_argument("--data", type=Path, help="the ukraine_media file the archive was ingested from")
    parser.add_argument("--data-is-subset", action="store_true", help="--data holds exactly the ingested articles")
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--chroma-venv", type=Path, default=REPO / ".archive-home" / "bench" / "chroma-venv")
    parser.add_argument("--txtai-venv", type=Path, default=REPO / ".archive-home" / "bench" / "txtai-venv")
    parser.add_argument("--index-root", type=Path, help="txtai index folder (default: <cache>/peers/txtai-index)")
    parser.add_argument("--no-chroma", action="store_true")
    parser.add_argument("--no-txtai", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    for hidden in ("--child", "--texts", "--export", "--store", "--model"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name in ("db", "export", "store", "model", "index_root"):
        if getattr(args, name) is not None:
            setattr(args, name, Path(getattr(args, name)))
    if args.child:
        _child(args)
        return
    args.db = args.db or args.cache / f"ingest-{args.articles}.db"
    if args.data is None:
        sys.path.insert(0, str(SCRIPTS))
        import eval_txtai

        args.data = eval_txtai.default_data_dir() / eval_txtai.NEWS_FILE
    args.index_root = args.index_root or args.cache / "peers" / "txtai-index"
    args.chroma_venv = None if args.no_chroma else args.chroma_venv
    args.txtai_venv = None if args.no_txtai else args.txtai_venv
    result = run(args)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
