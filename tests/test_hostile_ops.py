"""Faults and misuse: planted lock files, backups aimed at the archive's own files, a corrupt file after a
killed run, NaN and out-of-range numbers, terminal escapes in stored text, hostile queries and wrong types.

Every case runs under a time limit and may only fail with an ArchiveError (CLI: a one-line error, no traceback).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from archive import Archive, ArchiveError
from archive.cli import cli
from archive.errors import ConfigError, InvalidQueryError, NotFoundError, OperationError
from archive.ingest.prepare import IngestOptions
from archive.ops.lock import lock_holder, lock_path, writer_lock
from archive.store.sqlite import reads as sqlite_reads
from archive.store.sqlite import writes
from archive.text.chunk import bounded_counter
from tests.helpers import CASE_TIMEOUT_S, time_limit


@pytest.fixture(autouse=True)
def _whole_case_time_limit() -> Iterator[None]:
    """Every case of this file, setup included, runs under a time limit: a hang fails instead of blocking."""
    with time_limit(2 * CASE_TIMEOUT_S):
        yield


BODY = (
    "Shelling hit the eastern city overnight, local officials said on Tuesday. "
    "Rescue teams searched the rubble of two buildings near the {tag} market. "
    "Power and water were cut in several districts while repairs went on."
)
DEAD_PID = 4_194_000  # above the default pid_max of most systems: no such process


def _ingest_text(archive: Archive, tmp_path: Path, name: str, text: str, **extra: str) -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_text(json.dumps({"text": text, "title": extra.pop("title", name), **extra}) + "\n")
    report = archive.ingest([path])
    assert report.added == 1, report.errors


# --- the writer lock --------------------------------------------------------------------------------


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    db = tmp_path / "a.db"
    lock_path(db).symlink_to(target)
    with time_limit(), pytest.raises(ConfigError, match="symbolic link"), writer_lock(db):
        pass
    assert target.read_text() == "keep me"


def test_a_lock_file_that_is_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    os.mkfifo(lock_path(db))
    with time_limit(), pytest.raises(ConfigError, match="not a regular file"), writer_lock(db):
        pass
    with time_limit():
        assert lock_holder(db) is None


def test_a_lock_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    lock_path(db).mkdir()
    with time_limit(), pytest.raises(ConfigError), writer_lock(db):
        pass


@pytest.mark.parametrize("wait", [math.nan, math.inf, -1.0, -math.inf, "10", None])
def test_writer_lock_refuses_a_bad_wait(tmp_path: Path, wait: Any) -> None:
    with (
        time_limit(),
        pytest.raises(ConfigError, match="finite number of seconds"),
        writer_lock(tmp_path / "a.db", wait=wait),
    ):
        pass


# --- backup -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", ".lock"])
def test_backup_never_writes_onto_the_archives_own_files(archive: Archive, tmp_path: Path, suffix: str) -> None:
    _ingest_text(archive, tmp_path, "a", BODY.format(tag="a"))
    own = Path(f"{archive.path}{suffix}")
    if not own.exists():
        own.write_bytes(b"")
    before = own.read_bytes()
    with time_limit(), pytest.raises(OperationError, match=r"archive's own files|the archive itself"):
        archive.backup(own, force=True)
    link = tmp_path / f"link{suffix or '-db'}"
    link.symlink_to(own)
    with time_limit(), pytest.raises(OperationError, match=r"archive's own files|the archive itself"):
        archive.backup(link, force=True)
    assert own.read_bytes() == before or suffix in ("-wal", "-shm")  # the live WAL may move on its own


@pytest.mark.parametrize("special", ["/dev/null", "fifo"])
def test_backup_never_replaces_a_special_file(archive: Archive, tmp_path: Path, special: str) -> None:
    target = Path(special)
    if special == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    with time_limit(), pytest.raises(OperationError, match="not a regular file"):
        archive.backup(target, force=True)
    assert target.exists() and not target.is_file()


def test_backup_removes_partial_files_of_killed_backups_only(archive: Archive, tmp_path: Path) -> None:
    dead = tmp_path / f".b.db.{DEAD_PID}.partial"
    live = tmp_path / f".b.db.{os.getppid()}.partial"  # our parent is alive: its copy may be in progress
    dead.write_bytes(b"half")
    live.write_bytes(b"half")
    with time_limit():
        report = archive.backup(tmp_path / "b.db")
    assert report.bytes > 0 and not dead.exists() and live.exists()


def test_backup_over_a_regular_file_needs_force(archive: Archive, tmp_path: Path) -> None:
    target = tmp_path / "b.db"
    target.write_bytes(b"old")
    with pytest.raises(OperationError, match="--force"):
        archive.backup(target)
    with time_limit():
        assert archive.backup(target, force=True).bytes > 3


# --- a corrupt archive after an unfinished run -----------------------------------------------------------


def _leave_an_unfinished_run(archive: Archive) -> None:
    with Session(archive.engine) as session, session.begin():
        writes.start_run(session, "ingest killed.jsonl", DEAD_PID)


def test_ingest_refuses_a_corrupt_archive_after_an_unfinished_run(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _leave_an_unfinished_run(archive)
    monkeypatch.setattr(sqlite_reads, "quick_check", lambda session: ["Page 7: btreeInitPage() returns error 11"])
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"text": BODY.format(tag="a")}) + "\n")
    with time_limit(), pytest.raises(OperationError, match=r"quick_check.*Restore it from a backup.*\.recover"):
        archive.ingest([path])
    assert archive.stats()["articles"] == 0


def test_ingest_goes_on_after_an_unfinished_run_when_the_file_is_sound(archive: Archive, tmp_path: Path) -> None:
    _leave_an_unfinished_run(archive)
    _ingest_text(archive, tmp_path, "a", BODY.format(tag="a"))
    assert [r.status for r in archive.runs()][-1] == "interrupted"


def test_a_really_corrupted_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    from archive.embedding.fake import FakeEmbedder

    db = tmp_path / "c.db"
    with Archive.open(db, embedder=FakeEmbedder()) as opened:
        for n in range(30):
            _ingest_text(opened, tmp_path, f"n{n}", BODY.format(tag=f"t{n}") * 3)
        _leave_an_unfinished_run(opened)
    data = bytearray(db.read_bytes())
    page = 4096
    for offset in range(len(data) - 6 * page, len(data) - page, page):  # scribble over the last pages (b-tree data)
        data[offset + 8 : offset + 200] = b"\xa5" * 192
    db.write_bytes(bytes(data))
    path = tmp_path / "new.jsonl"
    path.write_text(json.dumps({"text": BODY.format(tag="new")}) + "\n")
    with time_limit():
        try:
            with Archive.open(db, embedder=FakeEmbedder()) as opened:
                opened.ingest([path])
        except OperationError as exc:
            assert "quick_check" in str(exc) and len(str(exc)) < 600
        else:
            pytest.fail("ingest wrote into a file that fails quick_check")


# --- numbers: NaN, infinities, out of range ---------------------------------------------------------------

CLI_BAD_NUMBERS = (
    [
        (["ingest", "x.jsonl", "--near-threshold", value], "near-threshold")
        for value in ("nan", "inf", "-inf", "1.5", "-0.1", "NaN")
    ]
    + [(["ingest", "x.jsonl", "--wait", value], "wait") for value in ("nan", "inf", "-1")]
    + [(["ingest", "x.jsonl", "--max-tokens", value], "max-tokens") for value in ("0", "4", "-3", "10000000")]
    + [
        (["ingest", "x.jsonl", "--overlap", "-1"], "overlap"),
        (["feeds", "poll", "--wait", "nan"], "wait"),
        (["vacuum", "--wait", "inf"], "wait"),
    ]
    + [
        (["search", "q", option, value], option.lstrip("-"))
        for option in ("--semantic-weight", "--keyword-weight")
        for value in ("nan", "inf", "-1", "1e300")
    ]
    + [(["search", "q", "-k", value], "k") for value in ("0", "-5", "nan", "100000")]
)


@pytest.mark.parametrize(("args", "option"), CLI_BAD_NUMBERS, ids=[" ".join(a) for a, _ in CLI_BAD_NUMBERS])
def test_the_cli_refuses_bad_numbers_with_the_valid_range(
    runner: CliRunner, tmp_path: Path, args: list[str], option: str
) -> None:
    with time_limit():
        result = runner.invoke(cli, [*args, "-d", str(tmp_path / "c.db"), "--model", "fake"])
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output
    assert not (tmp_path / "c.db").exists()  # refused before anything was opened


@pytest.mark.parametrize(
    "kwargs",
    [
        {"semantic_weight": math.nan},
        {"keyword_weight": math.inf},
        {"semantic_weight": -1.0},
        {"k": 0},
        {"k": math.nan},
        {"k": 2.5},
        {"k": "10"},
        {"keyword_weight": "1"},
    ],
    ids=str,
)
def test_search_refuses_bad_numbers(archive: Archive, kwargs: dict[str, Any]) -> None:
    with time_limit(), pytest.raises(InvalidQueryError, match="must be"):
        archive.search("shelling", **kwargs)


@pytest.mark.parametrize("max_tokens", [math.nan, math.inf, 0, -1, 1.5, "100", True])
def test_context_refuses_a_bad_budget(archive: Archive, max_tokens: Any) -> None:
    with time_limit(), pytest.raises(InvalidQueryError, match="max_tokens must be"):
        archive.context("shelling", max_tokens=max_tokens)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"near_threshold": math.nan},
        {"near_threshold": 1.5},
        {"passage_threshold": -math.inf},
        {"max_tokens": 3},
        {"overlap_tokens": -1},
        {"batch_chunks": 0},
        {"embed_batch_size": math.nan},
        {"max_article_chars": 0},
    ],
    ids=str,
)
def test_ingest_options_refuse_bad_numbers(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="must be"):
        IngestOptions(**kwargs)


# --- what reaches the terminal ------------------------------------------------------------------------------

ESCAPES = "\x1b]8;;http://evil.example/\x07click me\x1b]8;;\x07 \x1b[2J\x1b]0;owned\x07 \x9b31m \u202egnp.exe"


@pytest.fixture
def escaped_db(tmp_path: Path) -> Path:
    from archive.embedding.fake import FakeEmbedder

    db = tmp_path / "esc.db"
    with Archive.open(db, embedder=FakeEmbedder()) as opened:
        _ingest_text(
            opened,
            tmp_path,
            "esc",
            BODY.format(tag="escapes") + " " + ESCAPES,
            title="Title " + ESCAPES,
            url="http://example.org/" + ESCAPES,
            outlet="Outlet " + ESCAPES,
        )
    return db


@pytest.mark.parametrize(
    "args",
    [
        ["search", "rubble escapes market"],
        ["search", "rubble", "--mode", "keyword"],
        ["show", "1"],
        ["show", "1", "--chunk", "1"],
        ["duplicates"],
        ["runs", "1"],
        ["runs"],
    ],
    ids=" ".join,
)
def test_text_output_never_carries_terminal_control_sequences(
    runner: CliRunner, escaped_db: Path, args: list[str]
) -> None:
    with time_limit():
        result = runner.invoke(cli, [*args, "-d", str(escaped_db), "--model", "fake"], color=True)
    assert result.exit_code == 0, result.output
    printed = result.output.replace("\x1b[0m", "").replace("\x1b[1m", "").replace("\x1b[36m", "")
    printed = printed.replace("\x1b[33m", "").replace("\x1b[32m", "").replace("\x1b[31m", "")
    assert "\x1b]" not in printed and "\x1b[2J" not in printed and "\x07" not in printed
    assert "\x9b" not in printed and "\u202e" not in printed
    if args[0] in ("search", "show"):
        assert "\\x1b]8;;http://evil.example/" in printed  # shown, harmless


def test_json_output_keeps_the_stored_text_exactly(runner: CliRunner, escaped_db: Path) -> None:
    result = runner.invoke(cli, ["show", "1", "--json", "-d", str(escaped_db), "--model", "fake"])
    assert ESCAPES in json.loads(result.output)["url"]


def test_show_refuses_a_passage_of_another_article(archive: Archive, tmp_path: Path, runner: CliRunner) -> None:
    _ingest_text(archive, tmp_path, "a", BODY.format(tag="first"))
    _ingest_text(archive, tmp_path, "b", "A different story entirely about grain exports. " * 5)
    with pytest.raises(NotFoundError, match="passage 2 is not in article 1"):
        archive.chunk_span(2, article_id=1)
    assert archive.chunk_span(1, article_id=1)[0] == 0
    result = runner.invoke(cli, ["show", "1", "--chunk", "2", "-d", str(archive.path), "--model", "fake"])
    assert result.exit_code == 1 and "not in article 1" in result.output


# --- tokens: runs without spaces -------------------------------------------------------------------------------


def test_a_run_without_spaces_is_bounded_in_passages_and_context(archive: Archive, tmp_path: Path) -> None:
    _ingest_text(archive, tmp_path, "long", BODY.format(tag="runs") + " " + "x" * 999_000)
    with time_limit():
        context = archive.context("rubble runs market", max_tokens=100, k=8)
    count = bounded_counter(archive.embedder.count_tokens)
    assert context.text and count(context.text) == context.token_count <= 100
    assert len(context.text) <= 100 * 100
    with time_limit():
        hits = archive.search("x" * 500, k=50, mode="keyword") + archive.search("rubble", k=50)
    assert hits and max(len(h.text) for h in hits) <= 126 * 100


# --- hostile queries and wrong types ------------------------------------------------------------------------------

HOSTILE_QUERIES = [
    "AND",
    "OR NOT",
    "*",
    '"',
    '""',
    "NEAR(a b)",
    "a:b",
    "col:text",
    "(",
    ")",
    "^",
    "-",
    "U.S.",
    "'; DROP TABLE articles;--",
    "\x00",
    "\x1b[2J",
    "\ud800",
    "🙂" * 50,
    "a" * 20_000,
    "word " * 3000,
    "\u202e",
    "\t\n\r",
    "%",
    "_",
    "\\",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES, ids=lambda q: repr(q)[:30])
@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_hostile_queries_return_results_or_a_query_error(
    archive: Archive, tmp_path: Path, query: str, mode: str
) -> None:
    _ingest_text(archive, tmp_path, "a", BODY.format(tag="q"))
    with time_limit():
        try:
            hits = archive.search(query, mode=mode, k=5)
        except InvalidQueryError as exc:
            assert str(exc)
            return
    assert isinstance(hits, list)
    assert archive.stats()["articles"] == 1  # nothing was dropped


MISUSE = [
    ("ingest a string instead of a list", lambda a, p: a.ingest(str(p))),
    ("ingest None", lambda a, p: a.ingest(None)),
    ("ingest a missing file", lambda a, p: a.ingest([p / "missing.jsonl"])),
    ("ingest an empty list", lambda a, p: a.ingest([])),
    ("unknown field", lambda a, p: a.ingest([p], field_map={"bogus": "x"})),
    ("search None", lambda a, p: a.search(None)),
    ("search a number", lambda a, p: a.search(42)),
    ("search an empty query", lambda a, p: a.search("   ")),
    ("search a bad mode", lambda a, p: a.search("q", mode="magic")),
    ("search a bad date", lambda a, p: a.search("q", since="2022-13")),
    ("search an outlet string", lambda a, p: a.search("q", outlets="Reuters")),
    ("article of a string id", lambda a, p: a.article("1")),
    ("article of a missing id", lambda a, p: a.article(999)),
    ("chunk span of a missing id", lambda a, p: a.chunk_span(-1)),
    ("duplicates of a missing id", lambda a, p: a.duplicates(999)),
    ("run of a missing id", lambda a, p: a.run(999)),
    ("backup to a folder", lambda a, p: a.backup(p)),
    ("backup to an empty name", lambda a, p: a.backup("")),
    ("delete with no filter", lambda a, p: a.select_for_delete()),
    ("poll a missing feed", lambda a, p: a.poll_feeds(feed_ids=[999])),
    ("add an ftp feed", lambda a, p: a.add_feed("ftp://example.org/feed.xml")),
    ("add an empty feed url", lambda a, p: a.add_feed("")),
    ("remove a missing feed", lambda a, p: a.remove_feed(999)),
    ("context of a number", lambda a, p: a.context(7)),
]


@pytest.mark.parametrize("call", [c for _, c in MISUSE], ids=[n for n, _ in MISUSE])
def test_library_misuse_raises_an_archive_error_or_works(archive: Archive, tmp_path: Path, call: Any) -> None:
    with time_limit():
        try:
            call(archive, tmp_path)
        except ArchiveError as exc:
            assert str(exc)
