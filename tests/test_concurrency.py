"""Ingest as cron runs it: searches during an ingest, kill -9 and rerun, a second ingest refused with 75.

Each test drives `python -m archive ingest` in a subprocess (fake model) on a
generated corpus, against a database the test created first.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.ops.lock import pid_alive
from archive.store.sqlite import reads
from archive.store.sqlite.engine import pick_driver
from tests.conftest import REPO

_WORDS = [f"w{i}" for i in range(2000)] + ["shelling", "drone", "strike", "ceasefire", "convoy", "grid"]
_SETTLE_S = 60  # upper bound on waits for a subprocess to reach a state (never a timing assertion)


def _write_corpus(path: Path, count: int, *, seed: int = 7) -> Path:
    """``count`` small articles (one passage each); every 10th is an exact copy from another outlet."""
    rng = random.Random(seed)
    texts: list[str] = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            if i % 10 == 9:
                text, outlet = texts[i - 5], "Copy Wire"
            else:
                sentences = (" ".join(rng.choice(_WORDS) for _ in range(12)) for _ in range(8))
                text, outlet = f"Report number {i}. " + ". ".join(sentences) + ".", "Gen News"
            texts.append(text)
            record = {"title": f"Article {i}", "text": text, "url": f"https://example.org/{i}", "outlet": outlet}
            out.write(json.dumps(record) + "\n")
    return path


def _new_db(path: Path) -> Path:
    Archive.open(path, embedder=FakeEmbedder()).close()  # created and migrated before any subprocess
    return path


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "archive", *args]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "ARCHIVE_MODEL": "fake", "ARCHIVE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(_cli(*args), env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _latest_run(db: Path) -> tuple[str, int, int | None] | None:
    """(status, added, pid) of the newest run, read with plain SQL as any monitoring script could.

    Through the archive's own driver: two SQLite libraries in one process (stdlib
    sqlite3 and sqlean) release each other's POSIX locks on close, which breaks WAL.
    """
    conn = pick_driver().module.connect(str(db), timeout=30)
    try:
        return conn.execute("SELECT status, added, pid FROM ingest_runs ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()


def _wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + _SETTLE_S
    while not condition():
        if proc.poll() is not None:
            pytest.fail(
                f"ingest ended (rc {proc.returncode}) before the test could act: {proc.stderr.read() if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            pytest.fail("ingest never reached the expected state")
        time.sleep(0.02)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def _counts(db: Path) -> dict[str, object]:
    with Archive.open(db, embedder=FakeEmbedder()) as archive, Session(archive.engine) as session:
        conn = session.connection()
        stats = archive.stats()
        return {
            **reads.consistency_counts(session, archive.vector_table),
            "articles": stats["articles"],
            "exact_duplicates": stats["exact_duplicates"],
            "near_duplicates": stats["near_duplicates"],
            "passage_groups": stats["passage_groups"],
            "vec_chunks": conn.exec_driver_sql("SELECT count(*) FROM vec_chunks").scalar(),
            "fts_chunks": conn.exec_driver_sql("SELECT count(*) FROM fts_chunks").scalar(),
            "integrity": conn.exec_driver_sql("PRAGMA integrity_check").scalar(),
        }


def _chunk_rows(archive: Archive) -> int:
    with Session(archive.engine) as session:
        return int(reads.consistency_counts(session, archive.vector_table)["chunks"])


def test_searches_during_an_ingest_never_fail_and_see_a_growing_archive(tmp_path: Path) -> None:
    corpus = _write_corpus(tmp_path / "corpus.jsonl", 1500)
    db = _new_db(tmp_path / "news.db")
    proc = _start(["ingest", str(corpus), "-d", str(db), "-q", "--batch-chunks", "100"], tmp_path)
    seen: list[int] = []
    errors: list[str] = []
    try:
        with Archive.open(db, embedder=FakeEmbedder()) as archive:
            _wait_until(lambda: _latest_run(db) is not None, proc)
            for i in range(200):
                try:
                    hits = archive.search(f"report number {i} drone strike", k=5)
                    assert len(hits) <= 5
                    seen.append(_chunk_rows(archive))
                except Exception as exc:
                    errors.append(repr(exc))
                time.sleep(0.02)
            assert proc.wait(timeout=_SETTLE_S * 2) == 0, proc.stderr.read() if proc.stderr else ""
            final = _chunk_rows(archive)
            assert len(archive.search("report number 7 drone strike", k=5)) == 5
    finally:
        _stop(proc)
    assert errors == []
    assert seen == sorted(seen), "a later search saw fewer rows than an earlier one"
    assert len(set(seen)) >= 2, "the searches never saw the archive grow"
    assert final == 1350 and seen[-1] <= final  # 150 exact copies hold no passages of their own


def test_an_ingest_killed_mid_run_and_rerun_matches_a_clean_run(tmp_path: Path) -> None:
    corpus = _write_corpus(tmp_path / "corpus.jsonl", 400)
    killed_db, clean_db = _new_db(tmp_path / "killed.db"), _new_db(tmp_path / "clean.db")
    args = ["ingest", str(corpus), "-d", str(killed_db), "-q", "--batch-chunks", "25"]
    proc = _start(args, tmp_path)
    try:
        _wait_until(lambda: (_latest_run(killed_db) or ("", 0, None))[1] > 0, proc)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=_SETTLE_S) == -signal.SIGKILL
    finally:
        _stop(proc)
    status, added, pid = _latest_run(killed_db) or ("", 0, None)
    assert status == "running" and 0 < added < 400 and not pid_alive(pid)
    with Archive.open(killed_db, embedder=FakeEmbedder()) as archive:
        assert archive.runs()[0].status == "interrupted"
    rerun = subprocess.run(_cli(*args), env=_env(tmp_path), capture_output=True, text=True, timeout=_SETTLE_S * 2)
    assert rerun.returncode == 0, rerun.stderr
    clean = subprocess.run(
        _cli("ingest", str(corpus), "-d", str(clean_db), "-q"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=_SETTLE_S * 2,
    )
    assert clean.returncode == 0, clean.stderr
    after_kill, after_clean = _counts(killed_db), _counts(clean_db)
    assert after_kill == after_clean
    assert after_kill["articles"] == 400 and after_kill["integrity"] == "ok"
    assert after_kill["chunks"] == after_kill["vectors"] == after_kill["fts_rows"] == after_kill["vec_chunks"]


def test_a_second_ingest_exits_75_at_once_and_sigterm_interrupts_the_first(tmp_path: Path) -> None:
    corpus = _write_corpus(tmp_path / "corpus.jsonl", 1500)
    db = _new_db(tmp_path / "news.db")
    first = _start(["ingest", str(corpus), "-d", str(db), "-q", "--batch-chunks", "100"], tmp_path)
    try:
        _wait_until(lambda: (_latest_run(db) or ("",))[0] == "running", first)
        second = subprocess.run(
            _cli("ingest", str(corpus), "-d", str(db)),
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=_SETTLE_S,
        )
        assert second.returncode == 75, second.stderr
        assert f"another ingest (pid {first.pid}, started " in second.stderr
        assert f"is writing to {db}; try again later or pass --wait SECONDS" in second.stderr
        first.send_signal(signal.SIGTERM)  # what `timeout` or a shutdown sends
        assert first.wait(timeout=_SETTLE_S) == 128 + signal.SIGTERM
    finally:
        _stop(first)
    status, added, _pid = _latest_run(db) or ("", 0, None)
    assert status == "interrupted"  # recorded by the process itself on SIGTERM
    with Archive.open(db, embedder=FakeEmbedder()) as archive:
        assert archive.runs()[0].added == added
