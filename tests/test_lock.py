"""The single-writer lock: refused at once by default, --wait, re-entrant, gone with a killed holder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archive import Archive
from archive.errors import ConfigError, LockedError
from archive.ops.lock import lock_holder, lock_path, pid_alive, read_holder, writer_lock
from tests.conftest import REPO, SAMPLE

_HOLD = """
import sys, time
from archive.ops.lock import writer_lock
with writer_lock(sys.argv[1], command="archive ingest drop/"):
    print("held", flush=True)
    time.sleep(60)
"""


@contextmanager
def _held_in_thread(db: Path, *, release: threading.Event | None = None) -> Iterator[None]:
    """Hold the writer lock in another thread (refused to this one like another process)."""
    taken, done = threading.Event(), release or threading.Event()

    def hold() -> None:
        with writer_lock(db, command="archive ingest other/"):
            taken.set()
            done.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        done.set()
        thread.join(10)


def _start_holder(db: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(db)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_lock_file_records_pid_start_and_command_and_is_emptied_on_release(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with writer_lock(db, command="archive ingest drop/") as holder:
        data = json.loads(lock_path(db).read_text(encoding="utf-8"))
        assert data["pid"] == os.getpid() == holder.pid
        assert data["command"] == "archive ingest drop/" and data["started"]
        assert holder.kind == "ingest"
    assert lock_path(db).read_text(encoding="utf-8") == ""
    assert read_holder(db) is None and lock_holder(db) is None


def test_second_writer_in_another_process_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    proc = _start_holder(db)
    try:
        with pytest.raises(LockedError) as caught, writer_lock(db):
            pass
        message = str(caught.value)
        assert f"another ingest (pid {proc.pid}, started " in message
        assert str(db) in message and "--wait SECONDS" in message
        assert caught.value.exit_code == 75
        assert caught.value.holder is not None and caught.value.holder.pid == proc.pid  # type: ignore[attr-defined]
    finally:
        proc.kill()
        proc.wait()


def test_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    proc = _start_holder(db)
    holder = lock_holder(db)
    assert holder is not None and holder.pid == proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not pid_alive(proc.pid)
    assert lock_holder(db) is None  # the file still names the dead pid, but nobody holds it
    with writer_lock(db) as mine:
        assert mine.pid == os.getpid()


def test_lock_is_reentrant_in_the_same_thread(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with writer_lock(db, command="archive feeds poll"):
        with writer_lock(db) as inner:
            assert inner.command == "archive feeds poll" and inner.kind == "feeds poll"
        holder = lock_holder(db)
        assert holder is not None and holder.pid == os.getpid()  # the outer hold survives the inner release
    assert lock_holder(db) is None


def test_another_thread_is_refused_like_another_process(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with _held_in_thread(db), pytest.raises(LockedError, match="another ingest"), writer_lock(db):
        pass


def test_wait_gives_up_with_a_message_saying_how_long_it_waited(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with _held_in_thread(db), pytest.raises(LockedError, match=r"waited 0\.2 s"), writer_lock(db, wait=0.2):
        pass


def test_wait_gets_the_lock_once_the_holder_finishes(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    release = threading.Event()
    with _held_in_thread(db, release=release):
        threading.Timer(0.3, release.set).start()
        with writer_lock(db, wait=30) as holder:
            assert holder.pid == os.getpid()


def test_negative_wait_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--wait"), writer_lock(tmp_path / "news.db", wait=-1):
        pass


def test_pid_alive_tells_a_live_process_from_a_finished_one() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert pid_alive(os.getpid())
    assert not pid_alive(proc.pid) and not pid_alive(None)


def test_ingest_is_refused_while_another_writer_holds_the_lock_and_records_no_run(archive: Archive) -> None:
    with _held_in_thread(archive.path), pytest.raises(LockedError, match="try again later or pass --wait SECONDS"):
        archive.ingest([SAMPLE])
    assert archive.runs() == []
    assert archive.ingest([SAMPLE]).added > 0  # and works once the lock is free


def test_ingest_records_inside_a_held_lock_reenters_it(archive: Archive) -> None:
    with writer_lock(archive.path, command="archive feeds poll"):
        report = archive.ingest([SAMPLE])
    assert report.added > 0 and archive.runs()[0].status == "ok"


def test_a_lock_that_cannot_be_created_is_a_config_error_naming_it(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x", encoding="utf-8")
    with (
        pytest.raises(ConfigError, match=r"cannot open the writer lock .*file\.txt/news\.db\.lock"),
        writer_lock(not_a_folder / "news.db"),
    ):
        pass
