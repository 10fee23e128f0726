"""Nearest-vector scans over the shared matrix (archive.store.sqlite.knn): what loading it leaves mapped."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from archive import Archive, RawArticle
from archive.store.interface import Filters
from archive.store.sqlite import knn
from archive.store.sqlite.driver import MMAP_BYTES
from archive.store.sqlite.vtables import VEC_TABLE
from tests.helpers import mapped_resident

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")

VECTOR_BLOCK_BYTES = 1024 * 384 * 4  # one vec0 block of float[384]: written whole, however few rows it holds


@pytest.fixture
def filled(archive: Archive) -> Archive:
    archive.ingest_records(
        [
            RawArticle(title=f"Report {i}", text=f"Shelling near town{i} on day {i}. Convoy{i % 7} passed.", outlet="A")
            for i in range(30)
        ]
    )
    with archive.engine.connect() as conn:  # into the main file, which is what a map covers (not the WAL)
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").close()
    return archive


def test_loading_the_matrix_leaves_none_of_the_vector_blobs_mapped(
    filled: Archive, matrix_loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An archive past the passage matrix's limit reads through the map (its article matrix still loads);
    # smaller ones are read unmapped (archive.store.sqlite.store).
    monkeypatch.setattr(knn, "MATRIX_MAX_ROWS", -1)
    path = Path(filled.store().path).resolve()
    query = np.asarray(filled.embedder.embed_query("shelling convoy"), dtype=np.float32)
    with filled.engine.connect() as conn:
        mapped = int(conn.exec_driver_sql("PRAGMA mmap_size").scalar_one())  # MMAP_BYTES, or this SQLite's cap
        if mapped <= 0:
            pytest.skip("this SQLite build maps no file")
        assert mapped <= MMAP_BYTES
        conn.exec_driver_sql("SELECT count(*) FROM chunks").scalar_one()  # the map is in use before the load
        found = knn._knn_matrix(conn, VEC_TABLE, query, 5, Filters())
        assert found is not None and len(found) == 5 and matrix_loads == [VEC_TABLE]
        # The load read a whole vector block through the map; a fresh map holds only what came after.
        assert mapped_resident(path) < VECTOR_BLOCK_BYTES // 2
        assert int(conn.exec_driver_sql("PRAGMA mmap_size").scalar_one()) == mapped  # mapped again
        assert knn._knn_matrix(conn, VEC_TABLE, query, 5, Filters()) == found
        assert matrix_loads == [VEC_TABLE]  # the held matrix answered: no second load
