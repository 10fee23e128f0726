"""archive.store.sqlite.errors: every failure of the database file becomes one typed error with its fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from archive import Archive, RawArticle
from archive.cli import cli
from archive.errors import (
    ArchiveError,
    CorruptArchiveError,
    DiskFullError,
    LockedError,
    NotAnArchiveError,
    ReadOnlyArchiveError,
    SchemaOutOfDateError,
)
from archive.store.sqlite import engine as engine_module
from archive.store.sqlite.engine import pick_driver
from archive.store.sqlite.errors import classify_error, translate_errors
from tests.conftest import SAMPLE


class _DriverError(Exception):
    """A DB-API error as Python 3.11+ raises it (with SQLite's result code)."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        if code is not None:
            self.sqlite_errorcode = code


@pytest.mark.parametrize(
    ("message", "code", "kind", "fix"),
    [
        ("file is not a database", 26, NotAnArchiveError, "archive ingest -d NEW.db"),
        ("database disk image is malformed", 11, CorruptArchiveError, "archive backup"),
        ("attempt to write a readonly database", 8, ReadOnlyArchiveError, "chmod u+w"),
        ("attempt to write a readonly database", 1032, ReadOnlyArchiveError, "chmod u+w"),  # SQLITE_READONLY_DBMOVED
        ("database or disk is full", 13, DiskFullError, "batches committed before this one are kept"),
        ("database is locked", 5, LockedError, "--wait"),
        ("file is not a database", None, NotAnArchiveError, "check -d/--db"),  # no code: read the message
        ("vectors blob read error for 1", 1, CorruptArchiveError, "archive doctor"),
    ],
)
def test_a_driver_error_is_classified_with_its_fix(message: str, code: int | None, kind: type, fix: str) -> None:
    typed = classify_error(_DriverError(message, code), "news.db")
    assert isinstance(typed, kind) and fix in str(typed) and "news.db" in str(typed)


def test_an_error_that_is_not_about_the_file_is_left_alone(tmp_path: Path) -> None:
    assert classify_error(_DriverError("no such column: nope", 1), "news.db") is None
    with pytest.raises(ZeroDivisionError), translate_errors(tmp_path / "absent.db"):
        _ = 1 / 0


def test_a_real_sqlite_error_is_translated(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("not a database " * 100, encoding="utf-8")
    conn = pick_driver().module.connect(str(notes))  # the archive's own SQLite, never a second copy
    try:
        with pytest.raises(NotAnArchiveError, match=r"notes\.db is not an archive"), translate_errors(notes):
            conn.execute("SELECT * FROM sqlite_master").fetchall()
    finally:
        conn.close()


def _big_jsonl(path: Path, articles: int = 120) -> Path:
    lines = (
        json.dumps(
            {"title": f"Report {i}", "text": f"Report {i} on shelling. " + " ".join(f"w{i}x{j}" for j in range(300))}
        )
        for i in range(articles)
    )
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _cap_pages(dbapi_conn: Any, extra: int) -> None:
    # max_page_count makes SQLite raise SQLITE_FULL, the very error a full disk gives.
    pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
    dbapi_conn.execute(f"PRAGMA max_page_count = {pages + extra}")


def test_disk_full_names_the_path_and_keeps_what_was_committed(archive: Archive, tmp_path: Path) -> None:
    archive.ingest([SAMPLE])
    event.listen(archive.engine, "connect", lambda conn, _record: _cap_pages(conn, 8))
    archive.engine.dispose()  # new connections get the cap
    with pytest.raises(DiskFullError) as caught:
        archive.ingest([_big_jsonl(tmp_path / "big.jsonl")])
    assert str(archive.path) in str(caught.value) and "committed" in str(caught.value)
    assert isinstance(caught.value, ArchiveError)
    assert archive.stats()["articles"] >= 8  # the earlier run is intact


def test_disk_full_in_the_cli_is_one_line_with_the_path(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"ARCHIVE_DB": str(tmp_path / "full.db"), "ARCHIVE_MODEL": "fake"}
    assert runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=env).exit_code == 0
    prepare = engine_module.prepare_connection

    def capped(dbapi_conn: Any) -> None:
        prepare(dbapi_conn)
        _cap_pages(dbapi_conn, 8)

    monkeypatch.setattr(engine_module, "prepare_connection", capped)
    result = runner.invoke(cli, ["ingest", str(_big_jsonl(tmp_path / "big.jsonl"))], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, (SystemExit, type(None)))
    assert "Traceback" not in result.output
    assert f"the disk holding {tmp_path / 'full.db'} is full" in result.output
    assert "batches committed before this one are kept" in result.output


def test_an_index_dropped_by_hand_is_one_line_and_doctor_gives_the_statement_that_makes_it(
    archive: Archive, runner: CliRunner
) -> None:
    archive.ingest_records([RawArticle(text="Shelling hit the district overnight.", title="Shelling", outlet="Wire")])
    with archive.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_chunks_story")  # the revision still says 0007
    with pytest.raises(SchemaOutOfDateError, match=r"lacks an index .*archive doctor"):
        archive.search("shelling district", k=3)
    result = runner.invoke(cli, ["search", "shelling district", "-d", str(archive.path)], env={"ARCHIVE_MODEL": "fake"})
    assert result.exit_code != 0 and "archive doctor" in result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    doctor = runner.invoke(cli, ["doctor", "-d", str(archive.path), "--json"])
    schema = next(c for c in json.loads(doctor.output)["checks"] if c["name"] == "schema")
    assert schema["status"] == "fail" and "ix_chunks_story" in schema["detail"]
    assert "CREATE INDEX ix_chunks_story ON chunks (id, article_id, group_id)" in schema["fix"]
    with archive.engine.begin() as conn:
        conn.exec_driver_sql(schema["fix"].split('"')[1])  # the statement doctor gave
    assert archive.search("shelling district", k=3)
    again = runner.invoke(cli, ["doctor", "-d", str(archive.path), "--json"])
    assert next(c for c in json.loads(again.output)["checks"] if c["name"] == "schema")["status"] == "ok"
