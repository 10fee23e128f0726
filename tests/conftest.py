"""Shared fixtures: a temp database per test, the fake embedder, the CLI runner, data paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive
from archive.embedding.fake import FakeEmbedder

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "archive" / "sample"
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test saying why."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: these tests need ../shared/data next to the checkout")
    return path


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Never touch the user's archive or model cache; the model is unpacked once per session.
    home = tmp_path_factory.getbasetemp() / "archive-home"
    monkeypatch.setenv("ARCHIVE_HOME", str(home))
    monkeypatch.delenv("ARCHIVE_DB", raising=False)
    monkeypatch.delenv("ARCHIVE_MODEL", raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


@pytest.fixture
def archive(db_path: Path) -> Iterator[Archive]:
    with Archive.open(db_path, embedder=FakeEmbedder()) as opened:
        yield opened


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
