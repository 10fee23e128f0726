"""Hostile input files: one bad record never costs its neighbours, no file hangs or floods memory.

Every case runs under a time limit (tests/helpers.py); a case passes when the
good records around the bad one are all stored, the bad one (if refused) is
reported with its file and line, and nothing but an ArchiveError is raised.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import socket
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.results import IngestReport
from archive.store.models import Article, Chunk
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

# name -> the fields of the bad record (its text holds the tag unless the case is about the text)
BAD_RECORDS: dict[str, Callable[[str], dict[str, object]]] = {
    "iso date past year 9999 in UTC": lambda t: {"text": BODY.format(tag=t), "published": "9999-12-31T23:00:00-05:00"},
    "rfc date past year 9999 in UTC": lambda t: {
        "text": BODY.format(tag=t),
        "published": "Fri, 31 Dec 9999 23:00:00 -1400",
    },
    "date of year 0": lambda t: {"text": BODY.format(tag=t), "published": "0000-00-00T00:00:00"},
    "date as a 30-digit number": lambda t: {"text": BODY.format(tag=t), "published": "9" * 30},
    "date with a huge offset": lambda t: {"text": BODY.format(tag=t), "published": "2022-03-01T10:00:00+99:99"},
    "no text field": lambda t: {"title": f"Title {t}", "story": "elsewhere"},
    "empty text": lambda t: {"text": "   ", "title": f"Title {t}"},
    "escape sequences in the title": lambda t: {"text": BODY.format(tag=t), "title": "\x1b[2J\x1b]0;pwned\x07Title"},
    "osc-8 link in the url": lambda t: {
        "text": BODY.format(tag=t),
        "url": "http://a/\x1b]8;;http://evil\x07x\x1b]8;;\x07",
    },
    "999,000 characters without a space": lambda t: {"text": BODY.format(tag=t) + " " + "a" * 999_000},
    "nul characters in the text": lambda t: {"text": BODY.format(tag=t).replace(" ", "\x00 ", 3)},
    "bidi override in the outlet": lambda t: {"text": BODY.format(tag=t), "outlet": "\u202eevil\u202c"},
    "a 100,000-character title": lambda t: {"text": BODY.format(tag=t), "title": "T" * 100_000},
    "text over the article limit": lambda t: {"text": (BODY.format(tag=t) + " ") * 6000},
    "only punctuation": lambda t: {"text": "!?." * 200},
    "carriage returns only": lambda t: {"text": "\r" * 500},
}
JSON_ONLY: dict[str, Callable[[str], object]] = {
    "text as a number": lambda t: {"text": 12345, "title": t},
    "text as a list nested 500 deep": lambda t: {"text": _nested(500)},
    "text as an object": lambda t: {"text": {"nested": {"deeper": BODY.format(tag=t)}}},
    "lone surrogate in the text": lambda t: {"text": BODY.format(tag=t) + " \ud800"},
    "a record that is a list": lambda t: [1, 2, 3],
    "a record that is null": lambda t: None,
    "a 5,000-digit number field": lambda t: {"text": BODY.format(tag=t), "views": int("7" * 4000)},
}


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def _good(tag: str) -> dict[str, object]:
    return {"title": f"Good {tag}", "text": BODY.format(tag=tag), "url": f"https://example.org/{tag}"}


def _jsonl(records: list[object]) -> bytes:
    lines = []
    for record in records:
        try:
            lines.append(json.dumps(record))
        except ValueError:  # a 5,000-digit int: json.dumps refuses above Python's limit too
            lines.append('{"text": "x", "views": ' + "7" * 5000 + "}")
    return ("\n".join(lines) + "\n").encode()


def _json(records: list[object]) -> bytes:
    return b"[" + b",\n".join(_jsonl([r]).strip() for r in records) + b"]"


def _csv(records: list[object]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["title", "text", "url", "published", "outlet"])
    for record in records:
        r = record if isinstance(record, dict) else {}
        # A raw NUL byte makes the whole file binary (refused as such): JSON carries it escaped instead.
        writer.writerow(
            [str(r.get(k, "")).replace("\x00", "") for k in ("title", "text", "url", "published", "outlet")]
        )
    return out.getvalue().encode("utf-8", "surrogatepass")


def _rss(records: list[object]) -> bytes:
    from xml.sax.saxutils import escape

    items = []
    for n, record in enumerate(records):
        r = record if isinstance(record, dict) else {}
        text = escape(str(r.get("text", "")).replace("\x00", "")).replace("\x1b", "").replace("\x07", "")
        date = f"<pubDate>{escape(str(r['published']))}</pubDate>" if "published" in r else ""
        items.append(
            f"<item><title>{escape(str(r.get('title', '')))}</title><guid>g{n}</guid>{date}"
            f"<description>{text}</description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{"".join(items)}</channel></rss>'.encode()
    )


WRITERS = {".jsonl": _jsonl, ".json": _json, ".csv": _csv, ".xml": _rss, ".jsonl.gz": _jsonl}
CASES = [(name, suffix) for name in BAD_RECORDS for suffix in WRITERS] + [
    (name, suffix) for name in JSON_ONLY for suffix in (".jsonl", ".json")
]


def _titles(archive: Archive) -> list[str]:
    with Session(archive.engine) as session:
        return [t or "" for t in session.scalars(select(Article.title))]


def ingest_checked(archive: Archive, paths: list[Path], **options: object) -> IngestReport:
    """Ingest under a time limit; only ArchiveErrors may escape (a traceback is a failure)."""
    with time_limit():
        return archive.ingest(paths, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("case", "suffix"), CASES, ids=[f"{c}{s}" for c, s in CASES])
def test_a_bad_record_is_its_own_error_and_its_neighbours_are_stored(
    archive: Archive, tmp_path: Path, case: str, suffix: str
) -> None:
    make = BAD_RECORDS.get(case) or JSON_ONLY[case]
    records: list[object] = [_good("alpha"), make("bravo"), _good("charlie")]
    if case == "no text field":
        records = [make("bravo"), _good("alpha"), _good("charlie")]  # first record: the one that cost the rest
    data = WRITERS[suffix](records)
    path = tmp_path / f"hostile{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    report = ingest_checked(archive, [path])
    titles = _titles(archive)
    assert any("alpha" in t for t in titles) and any("charlie" in t for t in titles), (titles, report.errors)
    assert report.added + report.duplicates >= 2
    for where, error in report.errors:
        assert str(path) in where or str(path) in error, (where, error)
    with Session(archive.engine) as session:
        longest = max(len(text) for text in session.scalars(select(Chunk.text)))
    assert longest <= 126 * 100  # a passage never outgrows its token bound


def test_a_jsonl_whose_every_record_lacks_text_is_one_error_with_the_fix(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "wrong.jsonl"
    path.write_bytes(_jsonl([{"story": "a"}, {"story": "b"}]))
    report = ingest_checked(archive, [path])
    assert report.failed == 1 and "--field text=" in report.errors[0][1]


def test_csv_unterminated_quote_is_reported_with_its_line_and_the_rows_after_it_are_kept(
    archive: Archive, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    rows = [
        "title,text,url",
        f'Good alpha,"{BODY.format(tag="alpha")}",u1',
        f'Bad bravo,"{BODY.format(tag="bravo")},u2',
        f"Good charlie,{BODY.format(tag='charlie').replace(',', ';')},u3",
        f'Good delta,"{BODY.format(tag="delta")}",u4',
    ]
    path.write_text("\n".join(rows) + "\n")
    report = ingest_checked(archive, [path])
    titles = _titles(archive)
    assert {"Good alpha", "Good charlie", "Good delta"} <= set(titles), (titles, report.errors)
    assert report.errors and report.errors[0][0] == f"{path}:3"


def _gzip_bomb(path: Path, expanded_mb: int) -> None:
    member = gzip.compress(b"\x00" * (10 * 1024 * 1024), compresslevel=9)
    path.write_bytes(member * (expanded_mb // 10))


def test_a_gzip_bomb_is_refused_by_its_decompressed_size(archive: Archive, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    _gzip_bomb(bomb, 1000)
    good = tmp_path / "good.jsonl"
    good.write_bytes(_jsonl([_good("alpha")]))
    report = ingest_checked(archive, [bomb, good])
    assert report.added == 1
    assert "decompresses to more than" in report.errors[0][1]


def test_a_truncated_gzip_is_an_error(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl([_good("alpha")]))[:-12])
    report = ingest_checked(archive, [path])
    assert report.failed == 1 and "gzip" in report.errors[0][1]


def test_concatenated_gzip_members_are_all_read(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "multi.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl([_good("alpha")])) + gzip.compress(_jsonl([_good("bravo")])))
    assert ingest_checked(archive, [path]).added == 2


def test_a_file_over_the_input_cap_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARCHIVE_MAX_INPUT_MB", "1")
    path = tmp_path / "big.txt"
    path.write_text(BODY.format(tag="x") * 10_000)
    with Archive.open(tmp_path / "a.db", embedder=FakeEmbedder()) as opened:
        report = ingest_checked(opened, [path])
    assert "larger than 1,048,576 bytes" in report.errors[0][1]


def test_a_fifo_given_to_ingest_is_skipped_with_a_message(archive: Archive, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    folder = tmp_path / "drop"
    folder.mkdir()
    os.mkfifo(folder / "inner.txt")
    (folder / "good.jsonl").write_bytes(_jsonl([_good("alpha")]))
    report = ingest_checked(archive, [fifo, folder])
    assert report.added == 1
    messages = " ".join(e for _, e in report.errors)
    assert messages.count("FIFO") == 2


@pytest.mark.parametrize("where", ["explicit", "link in a folder"])
def test_dev_zero_is_never_read(archive: Archive, tmp_path: Path, where: str) -> None:
    if where == "explicit":
        target = Path("/dev/zero")
    else:
        target = tmp_path / "drop"
        target.mkdir()
        (target / "zero.txt").symlink_to("/dev/zero")
    report = ingest_checked(archive, [target], follow_links=where != "explicit")
    expected = "unsupported file type" if where == "explicit" else "not a regular file"  # no suffix: never opened
    assert report.added == 0 and expected in report.errors[0][1]


def test_a_socket_in_a_folder_is_skipped(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(folder / "sock.txt"))
        report = ingest_checked(archive, [folder])
    finally:
        server.close()
    assert report.added == 0 and "socket" in report.errors[0][1]


def test_a_link_out_of_the_tree_is_not_followed(archive: Archive, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "passwd.txt"
    secret.parent.mkdir()
    secret.write_text(BODY.format(tag="secretvalue"))
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "passwd.txt").symlink_to(secret)
    (folder / "etc.txt").symlink_to("/etc/passwd")
    report = ingest_checked(archive, [folder])
    assert report.added == 0 and len(report.errors) == 2
    assert all("outside" in e and "--follow-links" in e for _, e in report.errors)
    assert archive.search("secretvalue", mode="keyword") == []


def test_follow_links_reads_a_link_out_of_the_tree(archive: Archive, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text(BODY.format(tag="linked"))
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.txt").symlink_to(secret)
    assert ingest_checked(archive, [folder], follow_links=True).added == 1


def test_a_link_inside_the_tree_is_read_and_a_loop_ends(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "real.txt").write_text(BODY.format(tag="inside"))
    (folder / "alias.txt").symlink_to(folder / "sub" / "real.txt")
    (folder / "sub" / "loop").symlink_to(folder)
    report = ingest_checked(archive, [folder], follow_links=True)
    assert report.added == 1 and report.files == 2 and not report.errors  # the alias is the same text: skipped


def test_the_cli_reports_a_fifo_and_exits_1_without_hanging(tmp_path: Path) -> None:
    import subprocess

    fifo = tmp_path / "p.txt"
    os.mkfifo(fifo)
    env = {**os.environ, "ARCHIVE_MODEL": "fake", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "archive", "ingest", str(fifo), "-d", str(tmp_path / "c.db")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 1 and "FIFO" in done.stderr and "Traceback" not in done.stderr


def test_a_deflate_stream_named_gz_is_an_error(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "raw.txt.gz"
    path.write_bytes(zlib.compress(BODY.encode()))
    report = ingest_checked(archive, [path])
    assert report.failed == 1 and "gzip" in report.errors[0][1]


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "link to /dev/zero"])
def test_feeds_add_never_reads_a_special_file(archive: Archive, tmp_path: Path, kind: str) -> None:
    from archive.errors import FeedError

    target = tmp_path / "feed.xml"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "/dev/zero":
        target = Path("/dev/zero")
    else:
        target.symlink_to("/dev/zero")
    with time_limit(), pytest.raises(FeedError, match=r"not a regular file|FIFO"):
        archive.add_feed(str(target))


def test_a_feed_entry_dated_past_9999_does_not_stop_the_poll(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "wire.xml"
    path.write_bytes(
        _rss([_good("alpha"), {"text": BODY.format(tag="bravo"), "published": "Fri, 31 Dec 9999 23:00:00 -1400"}])
    )
    archive.add_feed(str(path), outlet="Wire")
    with time_limit():
        (result,) = archive.poll_feeds()
        (again,) = archive.poll_feeds()
    assert (result.status, result.added) == ("ok", 2)
    assert again.status == "ok" and again.new == 0


def test_the_log_file_gets_each_bad_record_with_its_line(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        _jsonl(
            [
                {"story": "no text"},
                _good("alpha"),
                {"text": BODY.format(tag="b"), "published": "9999-12-31T23:00:00-05:00"},
            ]
        )
    )
    log = tmp_path / "ingest.log"
    env = {**os.environ, "ARCHIVE_MODEL": "fake", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "archive",
            "ingest",
            str(path),
            "-d",
            str(tmp_path / "c.db"),
            "-q",
            "--log-file",
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    text = log.read_text()
    assert "added=2" in text and f"{path}:1" in text and "failed=1" in text
