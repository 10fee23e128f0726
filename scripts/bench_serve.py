"""Load on `archive serve`: concurrent clients for a while, during an ingest into the same archive.

The server and the ingests are separate `archive` processes on one SQLite file (WAL), as in
production; the clients are threads of this process, each with its own HTTP connection, asking
the pages and the JSON API in turn. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
WORDS = [
    "drone",
    "strike",
    "power",
    "grid",
    "shelling",
    "artillery",
    "ceasefire",
    "talks",
    "grain",
    "deal",
    "port",
    "convoy",
    "refugees",
    "evacuation",
    "missile",
    "air",
    "defence",
    "frontline",
    "village",
    "offensive",
    "sanctions",
    "nuclear",
    "plant",
    "inspectors",
    "governor",
    "officials",
    "said",
    "overnight",
    "region",
    "city",
    "river",
    "bridge",
    "railway",
    "station",
    "hospital",
    "school",
]
QUERIES = ("drone strike", "power grid", "grain deal port", "nuclear plant inspectors", "evacuation convoy", "shelling")


@dataclass
class ServeLoad:
    clients: int
    duration_s: float
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0
    requests_per_s: float = 0.0
    articles_before: int = 0
    articles_after: int = 0
    ingest_runs: int = 0
    ingest_failures: int = 0
    load_average_start: float = 0.0
    load_average_end: float = 0.0


def _article(rng: random.Random, n: int) -> dict[str, str]:
    sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "." for _ in range(6)]
    return {
        "title": f"Report {n}: " + " ".join(rng.choice(WORDS) for _ in range(5)),
        "text": f"Dispatch {n}. " + " ".join(sentences),
        "outlet": f"Outlet {n % 7}",
        "published": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "url": f"https://news.example.org/{n}",
    }


def _write_batch(path: Path, rng: random.Random, start: int, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n in range(start, start + count):
            out.write(json.dumps(_article(rng, n)) + "\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _archive(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archive", *args], env=env, capture_output=True, text=True)


def _client(base: str, deadline: float, seed: int, latencies: list[float], errors: list[str]) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60) as http:
        while time.monotonic() < deadline:
            q = rng.choice(QUERIES)
            url = rng.choice(
                (
                    f"/api/search?q={q}&k=10",
                    f"/?q={q}",
                    f"/api/timeline?q={q}&by=week",
                    f"/api/facets?q={q}",
                    "/api/outlets",
                )
            )
            started = time.perf_counter()
            try:
                status = http.get(url).status_code
            except httpx.HTTPError as exc:
                errors.append(f"{url}: {exc!r}")
                continue
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(f"{url}: HTTP {status}")


def _ingest_loop(db: Path, work: Path, env: dict[str, str], deadline: float, result: ServeLoad) -> None:
    rng, start = random.Random(3), 100_000
    while time.monotonic() < deadline:
        batch = work / f"batch-{start}.jsonl"
        _write_batch(batch, rng, start, 300)
        done = _archive("ingest", str(batch), "-d", str(db), "-q", "--batch-chunks", "100", "--wait", "30", env=env)
        result.ingest_runs += 1
        result.ingest_failures += done.returncode != 0
        start += 300


def _wait_for(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"archive serve exited: {server.stderr.read() if server.stderr else ''}")
        try:
            if httpx.get(base + "/api/stats", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("archive serve did not answer within 60 s")


def _articles(base: str) -> int:
    return int(httpx.get(base + "/api/stats", timeout=60).json()["articles"])


def run(work: Path, *, clients: int = 20, duration: float = 60.0, initial: int = 2000) -> ServeLoad:
    """Build a fake-embedder archive of ``initial`` articles, then load the server while ingesting."""
    work.mkdir(parents=True, exist_ok=True)
    db = work / "serve.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "ARCHIVE_MODEL": "fake"}
    seed_file = work / "seed.jsonl"
    _write_batch(seed_file, random.Random(1), 0, initial)
    built = _archive("ingest", str(REPO / "archive" / "sample"), str(seed_file), "-d", str(db), "-q", env=env)
    if built.returncode != 0:
        raise RuntimeError(built.stderr)
    env.pop("ARCHIVE_MODEL")  # the server takes the model the archive records
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    result = ServeLoad(clients=clients, duration_s=duration, load_average_start=os.getloadavg()[0])
    server = subprocess.Popen(
        [sys.executable, "-m", "archive", "serve", "-d", str(db), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(base, server)
        result.articles_before = _articles(base)
        latencies: list[float] = []
        errors: list[str] = []
        deadline = time.monotonic() + duration
        threads = [
            threading.Thread(target=_client, args=(base, deadline, i, latencies, errors)) for i in range(clients)
        ]
        ingest_env = {**env, "ARCHIVE_MODEL": "fake"}
        threads.append(threading.Thread(target=_ingest_loop, args=(db, work, ingest_env, deadline, result)))
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=duration + 300)
        elapsed = time.monotonic() - started
        result.articles_after = _articles(base)
    finally:
        server.terminate()
        server.wait(timeout=30)
    ordered = sorted(latencies)
    result.requests = len(ordered)
    result.errors = len(errors)
    result.error_samples = errors[:5]
    if ordered:
        result.p50_ms = 1000 * ordered[len(ordered) // 2]
        result.p95_ms = 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        result.max_ms = 1000 * ordered[-1]
    result.requests_per_s = result.requests / elapsed if elapsed else 0.0
    result.load_average_end = os.getloadavg()[0]
    return result


def rows(load: dict[str, Any]) -> list[str]:
    """Markdown rows for bench_report's table."""
    grew = load["articles_after"] - load["articles_before"]
    return [
        f"| serve: {load['clients']} clients for {load['duration_s']:.0f} s during an ingest (+{grew} articles) | "
        f"{load['requests']} requests, {load['errors']} errors; p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms, "
        f"{load['requests_per_s']:.1f} req/s | 0 errors |"
    ]


if __name__ == "__main__":
    print(json.dumps(asdict(run(REPO / ".archive-home" / "bench" / "serve")), indent=2))
