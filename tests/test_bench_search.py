"""scripts/bench_search.py: the recall's truth is the float32 scan, never a compact matrix held by the run before."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from archive import Archive
from archive.store.sqlite import matrix
from tests.helpers import city_reports

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_search


def test_the_exact_run_loads_float32_vectors_after_a_prefiltered_run_held_bfloat16(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.ingest_records(city_reports(0, 40))
    loads: list[bool] = []
    original = matrix.load_matrix

    def recording(conn: Any, table: str, dimension: int, *, compact: bool = False) -> matrix.VectorMatrix:
        loads.append(compact)
        return original(conn, table, dimension, compact=compact)

    monkeypatch.setattr(matrix, "load_matrix", recording)
    with bench_search._prefilter(archive, 0):
        assert archive.search("shelling in Kharkiv", k=5, mode="semantic")
    assert loads and all(loads)  # the prefilter serves every table: held compact
    del loads[:]
    with bench_search._prefilter(archive, None):
        assert archive.search("shelling in Kharkiv", k=5, mode="semantic")
    assert loads and not any(loads)  # reloaded, as float32
