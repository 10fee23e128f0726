"""Every ingest run is recorded; dead runs show as interrupted; `archive runs`; `ingest --log-file`, exit 75."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import Archive
from archive.cli import cli
from archive.errors import NotFoundError
from archive.ops.lock import writer_lock
from archive.store.models import IngestRun
from tests.conftest import SAMPLE


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _add_running_row(archive: Archive, pid: int) -> int:
    """A run row as a killed ingest leaves it: status running, no end."""
    with Session(archive.engine) as session, session.begin():
        run = IngestRun(command="ingest drop/", pid=pid, status="running")
        session.add(run)
        session.flush()
        return run.id


def _stored_status(archive: Archive, run_id: int) -> str:
    with Session(archive.engine) as session:
        return str(session.scalar(select(IngestRun.status).where(IngestRun.id == run_id)))


def _bad_jsonl(tmp_path: Path) -> Path:
    bad = tmp_path / "broken.jsonl"
    bad.write_text(
        '{"title": "Fine", "text": "Shelling hit the city overnight, officials said."}\n{broken\n', encoding="utf-8"
    )
    return bad


def test_every_ingest_is_recorded_with_its_counts_status_and_command(archive: Archive) -> None:
    report = archive.ingest([SAMPLE], command="ingest sample/")
    again = archive.ingest([SAMPLE], command="ingest sample/")
    first, second = archive.runs()[::-1]
    assert (first.id, first.status, first.command, first.pid) == (report.run_id, "ok", "ingest sample/", os.getpid())
    assert (first.files, first.added, first.duplicates, first.chunks) == (
        report.files,
        report.added,
        report.duplicates,
        report.chunks,
    )
    assert first.finished_at is not None and first.finished_at >= first.started_at
    assert second.id == again.run_id and second.added == 0 and second.skipped == report.added + report.duplicates


def test_a_run_with_bad_input_is_partial_and_keeps_its_errors(archive: Archive, tmp_path: Path) -> None:
    report = archive.ingest([_bad_jsonl(tmp_path)])
    run = archive.run(report.run_id or 0)
    errors = json.loads(run.errors or "[]")
    assert run.status == "partial" and run.added == 1 and run.failed == 1
    assert len(errors) == 1 and "broken.jsonl:2" in errors[0]["where"]


def test_an_unknown_run_id_is_not_found(archive: Archive) -> None:
    with pytest.raises(NotFoundError, match="archive runs"):
        archive.run(99)


def test_limit_keeps_the_newest_runs(archive: Archive) -> None:
    ids = [archive.ingest([SAMPLE]).run_id for _ in range(3)]
    assert [r.id for r in archive.runs(limit=2)] == ids[:0:-1]


def test_a_dead_running_run_is_listed_and_recorded_as_interrupted(archive: Archive) -> None:
    run_id = _add_running_row(archive, _dead_pid())
    assert _stored_status(archive, run_id) == "running"
    assert archive.runs()[0].status == "interrupted"
    assert _stored_status(archive, run_id) == "interrupted"  # fixed in the file, not only shown


def test_while_a_writer_holds_the_lock_its_run_stays_running_and_dead_ones_show_interrupted(archive: Archive) -> None:
    dead = _add_running_row(archive, _dead_pid())
    with writer_lock(archive.path):
        live = _add_running_row(archive, os.getpid())
        shown = {r.id: r.status for r in archive.runs()}
        assert shown == {dead: "interrupted", live: "running"}
        assert _stored_status(archive, dead) == "running"  # a writer is busy: shown, not written
    assert archive.run(dead).status == "interrupted"


def test_the_next_ingest_marks_dead_runs_interrupted(archive: Archive) -> None:
    run_id = _add_running_row(archive, _dead_pid())
    archive.ingest([SAMPLE])
    assert _stored_status(archive, run_id) == "interrupted"


# -- CLI -------------------------------------------------------------------------
@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"ARCHIVE_DB": str(tmp_path / "cli.db"), "ARCHIVE_MODEL": "fake"}


def test_runs_command_lists_runs_and_prints_json(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    assert runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=env).exit_code == 0
    assert runner.invoke(cli, ["ingest", str(_bad_jsonl(tmp_path)), "-q"], env=env).exit_code == 1
    table = runner.invoke(cli, ["runs"], env=env)
    assert table.exit_code == 0, table.output
    assert "partial" in table.output and "ok" in table.output
    data = json.loads(runner.invoke(cli, ["runs", "--json", "-n", "1"], env=env).output)
    assert (
        len(data) == 1 and data[0]["status"] == "partial" and data[0]["errors"][0]["where"].endswith("broken.jsonl:2")
    )


def test_runs_with_an_id_shows_that_runs_errors(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    runner.invoke(cli, ["ingest", str(_bad_jsonl(tmp_path)), "-q"], env=env)
    result = runner.invoke(cli, ["runs", "1"], env=env)
    assert result.exit_code == 0, result.output
    assert "run 1: partial" in result.output and "broken.jsonl:2" in result.output and "invalid JSON" in result.output
    missing = runner.invoke(cli, ["runs", "7"], env=env)
    assert missing.exit_code == 1 and "no ingest run with id 7" in missing.output


def test_log_file_gets_a_line_per_run_and_per_error_in_new_folders(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "logs" / "cron" / "ingest.log"
    runner.invoke(cli, ["ingest", str(SAMPLE), "-q", "--log-file", str(log)], env=env)
    runner.invoke(cli, ["ingest", str(_bad_jsonl(tmp_path)), "-q", "--log-file", str(log)], env=env)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert " run 1 ok: files=" in lines[0] and "added=" in lines[0] and f"db={env['ARCHIVE_DB']}" in lines[0]
    assert " run 2 partial: " in lines[1] and "failed=1" in lines[1]
    assert " run 2 error: " in lines[2] and "broken.jsonl:2" in lines[2]
    assert all(line[:4].isdigit() and "T" in line.split()[0] for line in lines)  # ISO timestamp first


def test_a_locked_archive_exits_75_and_is_logged(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    Archive.open(env["ARCHIVE_DB"], model="fake").close()
    log = tmp_path / "ingest.log"
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(env["ARCHIVE_DB"], command="archive ingest other/"):
            taken.set()
            done.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert taken.wait(10)
        result = runner.invoke(cli, ["ingest", str(SAMPLE), "--log-file", str(log)], env=env)
    finally:
        done.set()
        thread.join(10)
    assert result.exit_code == 75, result.output
    assert f"another ingest (pid {os.getpid()}" in result.output and "--wait SECONDS" in result.output
    assert " locked: another ingest" in log.read_text(encoding="utf-8")
