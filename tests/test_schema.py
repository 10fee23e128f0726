"""`archive db check` (archive.ops.schema) and where the migrations are found (archive.store.migrate)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive, ArchiveError, NotFoundError, SchemaOutOfDateError
from archive.cli import cli
from archive.embedding.fake import FakeEmbedder
from archive.ops.schema import check_path
from archive.store import migrate
from archive.store.sqlite.engine import create_archive_engine

REPO = Path(__file__).resolve().parents[1]


def _sql(db: Path, statement: str) -> None:
    engine = create_archive_engine(db)
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def test_a_checkout_finds_its_own_top_level_migrations() -> None:
    assert migrate.migrations_dir() == REPO / "migrations"
    assert migrate.alembic_config().get_main_option("script_location") == str(REPO / "migrations")


def test_an_installed_package_prefers_the_migrations_shipped_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site-packages" / "archive"
    (package / "_migrations" / "versions").mkdir(parents=True)
    (package / "_migrations" / "env.py").write_text("", encoding="utf-8")
    monkeypatch.setattr(migrate, "_PACKAGE", package)
    monkeypatch.setattr(migrate, "PROJECT_ROOT", package.parent)
    migrate.migrations_dir.cache_clear()
    try:
        assert migrate.migrations_dir() == package / "_migrations"
    finally:
        migrate.migrations_dir.cache_clear()


def test_missing_migrations_say_to_reinstall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrate, "_PACKAGE", tmp_path / "archive")
    monkeypatch.setattr(migrate, "PROJECT_ROOT", tmp_path)
    migrate.migrations_dir.cache_clear()
    try:
        with pytest.raises(ArchiveError, match="reinstall conflict-archive"):
            migrate.migrations_dir()
    finally:
        migrate.migrations_dir.cache_clear()


def test_check_of_a_fresh_archive_finds_no_drift(db_path: Path) -> None:
    Archive.open(db_path, embedder=FakeEmbedder()).close()
    result = check_path(str(db_path))
    assert result.ok and result.differences == []
    assert result.revision == migrate.head_revision()


def test_check_reports_a_column_the_models_do_not_have(db_path: Path) -> None:
    Archive.open(db_path, embedder=FakeEmbedder()).close()
    _sql(db_path, "ALTER TABLE articles ADD COLUMN stray TEXT")
    result = check_path(str(db_path))
    assert not result.ok
    assert any("stray" in difference for difference in result.differences)


def test_check_of_an_old_schema_says_to_upgrade_first(db_path: Path) -> None:
    Archive.open(db_path, embedder=FakeEmbedder()).close()
    _sql(db_path, "UPDATE alembic_version SET version_num = '0001'")
    with pytest.raises(SchemaOutOfDateError, match="archive db upgrade"):
        check_path(str(db_path))


def test_check_of_a_missing_file_does_not_create_it(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(NotFoundError, match="no archive at"):
        check_path(str(missing))
    assert not missing.exists()


def test_db_check_cli_exit_codes_and_json(runner: CliRunner, db_path: Path) -> None:
    Archive.open(db_path, embedder=FakeEmbedder()).close()
    clean = runner.invoke(cli, ["db", "check", "-d", str(db_path)])
    assert clean.exit_code == 0, clean.output
    assert "no drift" in clean.output
    _sql(db_path, "ALTER TABLE articles ADD COLUMN stray TEXT")
    drifted = runner.invoke(cli, ["db", "check", "-d", str(db_path), "--json"])
    assert drifted.exit_code == 1
    data = json.loads(drifted.output)
    assert data["ok"] is False and any("stray" in d for d in data["differences"])
    missing = runner.invoke(cli, ["db", "check", "-d", str(db_path.with_name("nope.db"))])
    assert missing.exit_code != 0 and "Traceback" not in missing.output
    assert "no archive at" in missing.output
