"""archive.ingest.files: regular files only, reads and decompression capped."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.errors import IngestError
from archive.ingest.files import gunzip_capped, read_regular_file
from tests.helpers import CASE_TIMEOUT_S, time_limit


@pytest.fixture(autouse=True)
def _whole_case_time_limit() -> Iterator[None]:
    """Every case of this file, setup included, runs under a time limit: a hang fails instead of blocking."""
    with time_limit(2 * CASE_TIMEOUT_S):
        yield


def test_reads_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello")
    assert read_regular_file(path) == b"hello"


def test_a_file_one_byte_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 101)
    assert read_regular_file(path, max_bytes=101) == b"x" * 101
    with pytest.raises(IngestError, match="larger than 100 bytes"):
        read_regular_file(path, max_bytes=100)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    with time_limit(10), pytest.raises(IngestError, match="FIFO"):
        read_regular_file(fifo)


def test_a_device_and_a_folder_are_refused(tmp_path: Path) -> None:
    with time_limit(10), pytest.raises(IngestError, match="device"):
        read_regular_file(Path("/dev/zero"))
    with pytest.raises(IngestError, match="directory"):
        read_regular_file(tmp_path)
    with pytest.raises(IngestError, match="no such file"):
        read_regular_file(tmp_path / "missing")


def test_gunzip_stops_at_the_cap_and_reads_every_member() -> None:
    data = gzip.compress(b"a" * 1000) + gzip.compress(b"b" * 1000)
    assert gunzip_capped(data, max_bytes=2000, where="x") == b"a" * 1000 + b"b" * 1000
    with pytest.raises(IngestError, match="decompresses to more than 1,999 bytes"):
        gunzip_capped(data, max_bytes=1999, where="x")


@pytest.mark.parametrize("data", [b"not gzip at all", gzip.compress(b"abc" * 100)[:-5], b"\x1f\x8b"])
def test_invalid_or_truncated_gzip_is_an_error(data: bytes) -> None:
    with pytest.raises(IngestError, match="not a valid gzip file"):
        gunzip_capped(data, max_bytes=10_000, where="x")
