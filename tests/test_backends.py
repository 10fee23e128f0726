"""The same archive on every backend: SQLite and PostgreSQL + pgvector give the same answers.

Each test runs once per backend (the ``location`` fixture: a SQLite file, or a fresh database on
the session's PostgreSQL server; the postgres runs are marked ``postgres``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive, NotFoundError
from archive.cli import cli
from archive.embedding.fake import FakeEmbedder
from archive.errors import LockedError
from tests.conftest import SAMPLE
from tests.helpers import synthetic_articles as _synthetic


@pytest.fixture
def filled(location: str) -> Archive:
    archive = Archive.open(location, embedder=FakeEmbedder())
    archive.ingest([SAMPLE])
    return archive


def test_ingest_counts_and_reingest_are_the_same_on_every_backend(location: str) -> None:
    with Archive.open(location, embedder=FakeEmbedder()) as archive:
        first = archive.ingest([SAMPLE])
        again = archive.ingest([SAMPLE])
        stats = archive.stats()
    assert (first.added, first.duplicates, first.near_duplicates) == (7, 1, 1)
    assert again.added == 0 and again.skipped == first.added + first.duplicates
    assert stats["articles"] == 8 and stats["exact_duplicates"] == 1 and stats["outlets"] == 3
    assert stats["chunks"] == first.chunks and stats["model"] == "fake-embedder"


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
def test_every_search_mode_finds_the_aleppo_convoy(filled: Archive, mode: str) -> None:
    hits = filled.search("aid convoy Aleppo", k=3, mode=mode)
    assert hits and hits[0].title.startswith("Aid convoy")
    assert hits[0].text in filled.article(hits[0].article_id).text


def test_keyword_phrases_and_exclusions_are_never_syntax(filled: Archive) -> None:
    assert filled.search('"aid convoy"', k=5, mode="keyword")[0].title.startswith("Aid convoy")
    assert not [h for h in filled.search("convoy -Aleppo", k=5, mode="keyword") if "Aleppo" in h.title]
    for hostile in ("U.S. AND (", "*:* OR ''", "!! & | <->", 'a"b'):
        filled.search(hostile, k=3, mode="keyword")  # no syntax error, whatever it matches


def test_filters_apply_on_every_backend(location: str, tmp_path: Path) -> None:
    with Archive.open(location, embedder=FakeEmbedder()) as archive:
        archive.ingest([_synthetic(tmp_path / "synthetic.jsonl")])
        for mode in ("semantic", "keyword", "hybrid"):
            dated = archive.search("shelling Kharkiv", k=10, mode=mode, since="2023-01", until="2023-06")
            assert dated and all("2023-01-01" <= (h.published or "")[:10] <= "2023-06-30" for h in dated)
            daily = archive.search("shelling Kharkiv", k=10, mode=mode, outlets=["Daily"])
            assert daily and {h.outlet for h in daily} == {"Daily"}
            ukrainian = archive.search("shelling Kharkiv", k=10, mode=mode, language="uk")
            assert ukrainian and all(int(h.url.rsplit("/", 1)[1]) % 5 == 0 for h in ukrainian if h.url)


def test_a_filtered_semantic_search_still_returns_k_results(location: str, tmp_path: Path) -> None:
    with Archive.open(location, embedder=FakeEmbedder()) as archive:
        archive.ingest([_synthetic(tmp_path / "synthetic.jsonl")])
        hits = archive.search("evacuation", k=15, mode="semantic", outlets=["Gazette"], dedup=False)
    assert len(hits) == 15 and {h.outlet for h in hits} == {"Gazette"}


def test_exact_copies_collapse_into_one_result_with_every_source(filled: Archive) -> None:
    hits = filled.search("drones hit the Odesa power grid", k=5)
    odesa = [h for h in hits if h.title.startswith("Drones hit Odesa")]
    assert len(odesa) == 1
    assert {"Example Wire", "Example Daily"} <= {s.outlet for s in odesa[0].sources}


def test_passage_stories_agree_with_the_passages_on_every_backend(filled: Archive) -> None:
    """What ranking reads before any text: each passage's story (a near copy's is its canonical article) and group."""
    hits = filled.search("war", k=200, mode="semantic", passages=True, dedup=False)  # every passage
    with filled.store().reader() as reader:
        ids = [h.chunk_id for h in hits] + [10**9]  # an unknown id is left out
        located = reader.passage_stories(ids)
        details = reader.passages(ids)
    assert len(located) == len(hits) > 10
    assert located == {cid: (p.story_id, p.group_id) for cid, p in details.items()}
    assert any(story != details[cid].article_id for cid, (story, _) in located.items())  # a near copy's passage


def test_show_duplicates_and_spans_agree(filled: Archive) -> None:
    hit = filled.search("IAEA inspectors mines", k=1)[0]
    view = filled.article(hit.article_id)
    assert view.title.startswith("IAEA") and view.outlet == "Example Daily"
    assert filled.chunk_span(hit.chunk_id, article_id=hit.article_id) == (hit.char_start, hit.char_end)
    groups = filled.duplicates()
    assert groups and any(len(g.copies) >= 1 for g in groups)
    with pytest.raises(NotFoundError):
        filled.article(10**6)


def test_delete_removes_articles_with_their_copies_and_vectors(filled: Archive) -> None:
    doomed = filled.select_for_delete(outlets=["Example Wire"])
    assert doomed
    deleted = filled.delete_articles([a.article_id for a in doomed])
    stats = filled.stats()
    assert deleted == len(doomed) and stats["articles"] == 8 - len(doomed)
    assert not [h for h in filled.search("Odesa drones", k=10, mode="semantic") if h.outlet == "Example Wire"]
    assert filled.doctor().ok


def test_doctor_runs_and_feeds_list_on_every_backend(filled: Archive) -> None:
    report = filled.doctor()
    assert report.ok and {"model", "index counts"} <= {c.name for c in report.checks}
    assert [r.status for r in filled.runs()] == ["ok"]
    assert filled.feeds() == []


def test_reembed_switches_the_model_on_every_backend(filled: Archive) -> None:
    # 64-d: at 32 the fake model's hash collisions make another article's headline and lead the nearest
    report = filled.reembed(FakeEmbedder(64, name="fake-embedder:64"))
    assert report.dimension == 64 and report.chunks == filled.stats()["chunks"]
    assert filled.search("aid convoy Aleppo", k=1, mode="semantic")[0].title.startswith("Aid convoy")
    assert filled.doctor().ok


@pytest.mark.postgres
def test_sqlite_and_postgres_give_the_same_top_10(pg_url: str, tmp_path: Path) -> None:
    synthetic = _synthetic(tmp_path / "synthetic.jsonl", count=120)
    queries = [
        "shelling Kharkiv",
        "aid delivery Odesa",
        "prisoner exchange",
        "power outage Sumy",
        "evacuation",
        "drone strike Kherson",
        "Odesa drones power grid",
        "aid convoy Aleppo",
        "IAEA mines Zaporizhzhia",
        "grain corridor",
    ]
    found: dict[str, dict[str, list[list[int]]]] = {}
    for name, where in (("sqlite", str(tmp_path / "a.db")), ("postgres", pg_url)):
        with Archive.open(where, embedder=FakeEmbedder()) as archive:
            archive.ingest([SAMPLE, synthetic])
            found[name] = {
                mode: [[h.article_id for h in archive.search(q, k=10, mode=mode)] for q in queries]
                for mode in ("semantic", "hybrid")
            }
    for mode in ("semantic", "hybrid"):  # keyword ranking differs (FTS5 BM25 + porter vs ts_rank_cd, simple)
        pairs = list(zip(found["sqlite"][mode], found["postgres"][mode]))
        assert all(len(a) == 10 for a, _ in pairs)
        overlap = sum(len(set(a) & set(b)) / 10 for a, b in pairs) / len(pairs)
        assert overlap >= (1.0 if mode == "semantic" else 0.9), (mode, overlap)


@pytest.mark.postgres
def test_a_second_writer_on_postgres_exits_75_and_wait_gives_up(pg_url: str) -> None:
    with Archive.open(pg_url, embedder=FakeEmbedder()) as holder, holder.store().writer_lock():
        result = CliRunner().invoke(cli, ["ingest", "-d", pg_url, "--model", "fake", str(SAMPLE)])
        assert result.exit_code == 75, result.output
        with Archive.open(pg_url, embedder=FakeEmbedder()) as other, pytest.raises(LockedError):
            other.ingest([SAMPLE], wait=0.3)


@pytest.mark.postgres
def test_the_cli_reads_a_postgres_url_from_db_and_archive_db(pg_url: str) -> None:
    runner = CliRunner()
    ingest = runner.invoke(cli, ["--db", pg_url, "ingest", "--model", "fake", str(SAMPLE)])
    assert ingest.exit_code == 0, ingest.output
    stats = runner.invoke(cli, ["stats", "--json"], env={"ARCHIVE_DB": pg_url})
    assert stats.exit_code == 0 and json.loads(stats.output)["articles"] == 8
    search = runner.invoke(cli, ["search", "-d", pg_url, "aid convoy", "--json"])
    assert search.exit_code == 0 and "Aleppo" in search.output
    assert "Traceback" not in search.output + stats.output


@pytest.mark.postgres
def test_copy_sqlite_to_postgres_and_back_keeps_counts_vectors_and_search(pg_url: str, tmp_path: Path) -> None:
    from archive.ops.copy import copy_archive

    original = tmp_path / "original.db"
    with Archive.open(original, embedder=FakeEmbedder()) as archive:
        archive.ingest([SAMPLE, _synthetic(tmp_path / "synthetic.jsonl")])
        expected = {k: v for k, v in archive.stats().items() if k not in ("db_path", "db_bytes", "driver")}
        top = [h.chunk_id for h in archive.search("aid delivery Odesa", k=10, mode="semantic")]
    there = copy_archive(original, pg_url)
    assert there.rows["articles"] == expected["articles"] and there.vectors == expected["chunks"]
    assert there.article_vectors == expected["articles"] - expected["exact_duplicates"]  # copies hold no text
    back = tmp_path / "back.db"
    result = CliRunner().invoke(cli, ["copy", pg_url, str(back), "--json"])
    assert result.exit_code == 0, result.output
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text(
        json.dumps({"title": "Ferry resumes", "text": "A ferry service resumed on the Dnipro today."}) + "\n"
    )
    for where in (pg_url, str(back)):
        with Archive.open(where, create=False) as copied:  # the recorded fake model, no embedder given
            stats = {k: v for k, v in copied.stats().items() if k not in ("db_path", "db_bytes", "driver")}
            assert stats == expected
            assert [h.chunk_id for h in copied.search("aid delivery Odesa", k=10, mode="semantic")] == top
            assert copied.doctor().ok
            assert copied.ingest([fresh]).added == 1  # new ids continue after the copied ones
    with Archive.open(back) as reopened:
        assert reopened.stats()["articles"] == expected["articles"] + 1


@pytest.mark.postgres
def test_copy_refuses_a_target_that_is_not_empty(pg_url: str, tmp_path: Path) -> None:
    from archive.errors import OperationError
    from archive.ops.copy import copy_archive

    with Archive.open(pg_url, embedder=FakeEmbedder()) as target:
        target.ingest([SAMPLE])
    with Archive.open(tmp_path / "a.db", embedder=FakeEmbedder()) as source:
        source.ingest([SAMPLE])
    with pytest.raises(OperationError, match="not empty"):
        copy_archive(tmp_path / "a.db", pg_url)


def test_a_postgres_url_without_the_driver_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from archive.errors import ConfigError
    from archive.store.postgres import engine

    real = engine.importlib.util.find_spec
    monkeypatch.setattr(engine.importlib.util, "find_spec", lambda name: None if name == "psycopg" else real(name))
    with pytest.raises(ConfigError, match=r"pip install 'conflict-archive\[postgres\]'"):
        Archive.open("postgresql://archive@db.example.org/news", embedder=FakeEmbedder())
    result = CliRunner().invoke(cli, ["stats", "-d", "postgresql://archive@db.example.org/news"])
    assert result.exit_code != 0 and "conflict-archive[postgres]" in result.output
    assert "Traceback" not in result.output


def test_the_web_api_serves_search_read_only_on_every_backend(location: str) -> None:
    from starlette.testclient import TestClient

    from archive.web.app import create_app, open_read_only

    with Archive.open(location, embedder=FakeEmbedder()) as archive:
        archive.ingest([SAMPLE])
    served = open_read_only(location)
    try:
        response = TestClient(create_app(served)).get("/api/search", params={"q": "aid convoy Aleppo", "k": 2})
        assert response.status_code == 200 and response.json()["results"][0]["title"].startswith("Aid convoy")
        with pytest.raises(Exception, match=r"(?i)read-only"):
            served.ingest([SAMPLE])
    finally:
        served.close()


@pytest.mark.postgres
def test_an_ingest_killed_on_postgres_keeps_its_committed_batches_and_a_rerun_finishes(
    pg_url: str, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import create_engine

    corpus = _synthetic(tmp_path / "corpus.jsonl", count=300)
    Archive.open(pg_url, embedder=FakeEmbedder()).close()
    env = {
        **os.environ,
        "ARCHIVE_MODEL": "fake",
        "ARCHIVE_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(SAMPLE.parents[1]),
    }
    args = [sys.executable, "-m", "archive", "ingest", str(corpus), "-d", pg_url, "-q", "--batch-chunks", "20"]
    monitor = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def added() -> int:
        with monitor.connect() as conn:
            return int(conn.exec_driver_sql("SELECT coalesce(max(added), 0) FROM ingest_runs").scalar() or 0)

    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while added() == 0:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the ingest never committed a batch"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    kept = added()
    assert 0 < kept < 300
    with Archive.open(pg_url, embedder=FakeEmbedder()) as archive:
        assert archive.stats()["articles"] >= kept
        assert archive.runs()[0].status == "interrupted"  # the advisory lock died with the process
    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    monitor.dispose()
    with Archive.open(pg_url, embedder=FakeEmbedder()) as archive:
        stats = archive.stats()
        assert stats["articles"] == 300 and archive.doctor().ok


@pytest.mark.postgres
def test_alembic_upgrade_check_and_downgrade_on_postgres(pg_url: str) -> None:
    import subprocess
    import sys

    from sqlalchemy import create_engine, inspect

    def alembic(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "alembic", "-x", f"db={pg_url}", *args]
        return subprocess.run(command, cwd=SAMPLE.parents[1], capture_output=True, text=True, timeout=120)

    assert alembic("upgrade", "head").returncode == 0
    check = alembic("check")
    assert check.returncode == 0 and "No new upgrade operations detected" in check.stdout + check.stderr
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("vec_chunks")}
        kinds = conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'vec_chunks_hnsw'").scalar()
    assert "vec_chunks_hnsw" in indexes and "hnsw" in str(kinds) and "vector_cosine_ops" in str(kinds)
    down = alembic("downgrade", "base")
    assert down.returncode == 0, down.stderr
    with engine.connect() as conn:
        left = set(inspect(conn).get_table_names())
    engine.dispose()
    assert left <= {"alembic_version"}
