"""Peak memory of ingesting one hostile file stays under 1 GB (an RSS bound, measured in a child process).

Each file goes through ``archive ingest`` (fake model) in a fresh interpreter that
reports its children's ``ru_maxrss``; ``pytest -m slow -s`` prints the figures.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO

LIMIT_KB = 1024 * 1024  # 1 GiB
_MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, timeout=600)\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _gzip_bomb(path: Path) -> Path:  # 3 MB on disk, 1 GB of text inside
    member = gzip.compress(b"a" * (10 * 1024 * 1024), compresslevel=9)
    path.write_bytes(member * 100)
    return path


def _invalid_lines(path: Path) -> Path:  # 60 MB of lines that are not JSON: 600,000 errors
    path.write_bytes((b"{" + b"x" * 98 + b"\n") * 600_000)
    return path


def _one_huge_line(path: Path) -> Path:  # a 60 MB record, non-ASCII (4 bytes a character in memory)
    path.write_text(json.dumps({"text": "\U0001f600 " * 7_000_000}, ensure_ascii=False) + "\n")
    return path


def _huge_csv_field(path: Path) -> Path:
    path.write_text('title,text\nBig,"' + "word " * 12_000_000 + '"\n')
    return path


def _zero_link(path: Path) -> Path:
    path.mkdir()
    (path / "zero.txt").symlink_to("/dev/zero")
    return path


def _run_without_spaces(path: Path) -> Path:  # 999,000 characters without a space, under the article limit
    path.write_text("Shelling hit the city overnight, officials said. " + "x" * 999_000)
    return path


FILES: dict[str, tuple[str, Callable[[Path], Path], list[str]]] = {
    "gzip bomb": ("bomb.jsonl.gz", _gzip_bomb, []),
    "invalid lines": ("junk.jsonl", _invalid_lines, []),
    "one huge line": ("huge.jsonl", _one_huge_line, []),
    "huge csv field": ("big.csv", _huge_csv_field, []),
    "link to /dev/zero": ("drop", _zero_link, ["--follow-links"]),
    "run without spaces": ("run.txt", _run_without_spaces, []),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FILES))
def test_peak_rss_of_ingesting_a_hostile_file_stays_under_1_gb(tmp_path: Path, name: str) -> None:
    filename, make, options = FILES[name]
    target = make(tmp_path / filename)
    env = {**os.environ, "ARCHIVE_MODEL": "fake", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "archive", "ingest", str(target), "-d", str(tmp_path / "a.db"), "-q", *options]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, timeout=660, env=env
    )
    code, peak_kb = (int(x) for x in done.stdout.split())
    print(f"\n{name}: exit {code}, peak RSS {peak_kb / 1024:.0f} MiB")
    assert code in (0, 1)
    assert peak_kb < LIMIT_KB
