"""Cold start of ``archive search "..." -k 5`` and of ``--help`` / ``--version``: a fresh process per run.

Each run is a new interpreter (imports, opening the archive, loading the query
encoder, the search, printing; for the help and version commands only the CLI). Bytecode is cached under ``<cache>/pycache`` as
an installed package would have it, and one unmeasured run warms it and the
page cache. CPU time (user + sys) is reported beside wall time because on a
shared machine the wall clock also measures other people's work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]


@dataclass
class ColdResult:
    """Medians over runs of one cold-start variant."""

    label: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    runs: int
    load_average: float


def _env(home: Path, cache: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(REPO), PYTHONPYCACHEPREFIX=str(cache / "pycache"), ARCHIVE_HOME=str(home), **extra)
    return env


def _one_run(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    began = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(
    db: Path,
    *,
    home: Path,
    cache: Path,
    runs: int,
    label: str,
    extra_env: dict[str, str] | None = None,
    query: str = "shelling of Kharkiv",
) -> ColdResult:
    """Run ``archive search`` ``runs`` times (after one warm-up) and return the medians."""
    return measure_command(
        ["search", query, "-k", "5", "-d", str(db)], home=home, cache=cache, runs=runs, label=label, extra_env=extra_env
    )


def measure_command(
    arguments: list[str],
    *,
    home: Path,
    cache: Path,
    runs: int,
    label: str,
    extra_env: dict[str, str] | None = None,
) -> ColdResult:
    """Run ``archive ARGUMENTS...`` ``runs`` times (after one warm-up) and return the medians."""
    command = [sys.executable, "-m", "archive", *arguments]
    env = _env(home, cache, extra_env or {})
    _one_run(command, env)
    samples = [_one_run(command, env) for _ in range(runs)]
    walls, cpus, rss = zip(*samples)
    return ColdResult(label, median(walls), median(cpus), max(rss), runs, os.getloadavg()[0])


# What `archive --help`, `--version` and a command's `--help` cost: the CLI alone, no library (target < 0.3 s).
STARTUP_COMMANDS = (
    ("archive --help", ["--help"]),
    ("archive --version", ["--version"]),
    ("archive search --help", ["search", "--help"]),
    ("archive ingest --help", ["ingest", "--help"]),
)
