"""scripts/bench_search.py: the recall's truth is the float32 scan, never a compact matrix held by the run before."""

from __future__ import annotations

import sys
from pathlib import Path

from archive import Archive
from tests.helpers import city_reports

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_search


def test_the_exact_run_loads_float32_vectors_after_a_prefiltered_run_held_bfloat16(
    archive: Archive, compact_loads: list[bool]
) -> None:
    archive.ingest_records(city_reports(0, 40))
    with bench_search._prefilter(archive, 0):
        assert archive.search("shelling in Kharkiv", k=5, mode="semantic")
    assert compact_loads and all(compact_loads)  # the prefilter serves every table: held compact
    del compact_loads[:]
    with bench_search._prefilter(archive, None):
        assert archive.search("shelling in Kharkiv", k=5, mode="semantic")
    assert compact_loads and not any(compact_loads)  # reloaded, as float32
