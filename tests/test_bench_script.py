"""Tests for scripts/bench.py's command line: a bad size list is a usage error, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "scripts" / "bench.py"


@pytest.mark.parametrize(
    ("option", "value"),
    [("--cold-sizes", "x"), ("--sizes", "10000,0"), ("--tradeoff-sizes", "1e5"), ("--candidates", ",")],
)
def test_a_list_that_is_not_positive_numbers_is_refused_before_any_work(option: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), option, value, "--sections", "cold"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"argument {option}: '{value}': expected comma-separated positive numbers" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
