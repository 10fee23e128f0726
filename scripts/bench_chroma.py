"""Side by side with chromadb: the same passages, the same vectors, the same queries.

chromadb is not a dependency of the archive: it lives in its own virtual
environment (``--chroma-venv``, created on first use with ``pip install chromadb``).
Only the store is compared: the passages and vectors come from the archive the
ingest benchmark built (one all-MiniLM-L6-v2 for both), so chromadb never embeds.

Run as a script (with the chroma venv's Python) it loads an export file into a
persistent chromadb collection and times the inserts and the queries.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

EXPORT_NAME = "chroma-export.npz"
ADD_BATCH = 5000  # chromadb refuses batches above ~5,461


def export_archive(db: Path, target: Path, query_vectors: np.ndarray) -> int:
    """Write the archive's passages, vectors and metadata plus the query vectors to ``target``; return the count."""
    from archive.store.sqlite.engine import create_archive_engine

    engine = create_archive_engine(db)
    sql = (
        "SELECT c.id, c.text, v.embedding, coalesce(s.name, ''), coalesce(a.published_at, '') FROM chunks c "
        "JOIN articles a ON a.id = c.article_id LEFT JOIN sources s ON s.id = a.source_id "
        "CROSS JOIN vec_chunks v ON v.chunk_id = c.id ORDER BY c.id"
    )
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(sql).all()
    engine.dispose()
    np.savez(
        target,
        ids=np.array([r[0] for r in rows]),
        vectors=np.stack([np.frombuffer(r[2], np.float32) for r in rows]),
        texts=np.array(json.dumps([r[1] for r in rows])),
        outlets=np.array(json.dumps([r[3] for r in rows])),
        published=np.array(json.dumps([r[4] for r in rows])),
        queries=query_vectors.astype(np.float32),
    )
    return len(rows)


def ensure_venv(venv: Path) -> Path:
    """The chroma venv's python, creating the venv (``pip install chromadb``) if it is missing."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "chromadb", "numpy"], check=True)
    return python


def run_chroma(python: Path, export: Path, store: Path) -> dict[str, float]:
    """Run this file under the chroma venv and return its measurements."""
    done = subprocess.run([str(python), __file__, str(export), str(store)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromadb run failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _chroma_main(export: Path, store: Path) -> None:
    import chromadb

    data = np.load(export)
    ids = [str(i) for i in data["ids"]]
    texts, outlets, published = (json.loads(str(data[k])) for k in ("texts", "outlets", "published"))
    shutil.rmtree(store, ignore_errors=True)
    client = chromadb.PersistentClient(path=str(store))
    collection = client.create_collection("passages", metadata={"hnsw:space": "cosine"})
    began = time.perf_counter()
    for start in range(0, len(ids), ADD_BATCH):
        end = start + ADD_BATCH
        collection.add(
            ids=ids[start:end],
            embeddings=data["vectors"][start:end].tolist(),
            documents=texts[start:end],
            metadatas=[{"outlet": o, "published": p} for o, p in zip(outlets[start:end], published[start:end])],
        )
    add_s = time.perf_counter() - began
    latencies = []
    for query in data["queries"]:
        began = time.perf_counter()
        collection.query(query_embeddings=[query.tolist()], n_results=10)
        latencies.append(time.perf_counter() - began)
    print(
        json.dumps(
            {
                "chunks": len(ids),
                "add_s": add_s,
                "query_p50_ms": float(np.percentile(latencies, 50) * 1000),
                "query_p95_ms": float(np.percentile(latencies, 95) * 1000),
                "disk_bytes": _dir_bytes(store),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "version": chromadb.__version__,
                "load_average": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    _chroma_main(Path(sys.argv[1]), Path(sys.argv[2]))
