"""Bad input never corrupts the archive: every malformed file is ingested or gets an error naming it.

Over a hundred hand-made bad inputs (binary, wrong encodings, empty, huge, broken
JSON/JSONL/CSV/HTML/feeds, wrong JSON types) plus hypothesis-generated junk go
through ``Archive.ingest`` one file at a time and through ``archive ingest`` as a
folder; afterwards chunks, vectors and keyword-index rows agree and SQLite's
integrity check passes.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.results import IngestReport
from archive.store.sqlite import reads
from tests.conftest import REPO, shared_path

_SUFFIXES = (".txt", ".md", ".jsonl", ".json", ".csv", ".html", ".xml", ".rss")
_FIELDS = ("text", "title", "url", "published", "outlet", "language", "body", "articles")


def _article(tag: str) -> str:
    """A few sentences that survive cleaning, unique per case so nothing is skipped as already stored."""
    return (
        f"Case {tag}: shelling hit the eastern city overnight, local officials said on Tuesday. "
        f"Rescue teams searched the rubble of two buildings near the {tag} market. "
        "Power and water were cut in several districts while repairs went on."
    )


def _json_line(tag: str, **fields: object) -> bytes:
    return (json.dumps({"title": f"Title {tag}", **fields}) + "\n").encode("utf-8")


def _rss(items: str, head: str = "") -> bytes:
    return f'<?xml version="1.0"?>{head}<rss version="2.0"><channel><title>Feed</title>{items}</channel></rss>'.encode()


def _binary_cases() -> dict[str, bytes]:
    rng = random.Random(11)
    blobs = {
        "png": b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(3000)),
        "elf": b"\x7fELF\x02\x01\x01" + bytes(8) + bytes(rng.randrange(256) for _ in range(3000)),
        "random": bytes(rng.randrange(256) for _ in range(4000)),
    }
    return {f"binary_{kind}{suffix}": blob for kind, blob in blobs.items() for suffix in _SUFFIXES[:7]}


def _empty_cases() -> dict[str, bytes]:
    cases = {f"empty{suffix}": b"" for suffix in _SUFFIXES}
    cases.update({f"blank{suffix}": b" \n\r\n\t \n" for suffix in _SUFFIXES})
    cases.update({"bom_only.txt": codecs.BOM_UTF8, "bom16_only.txt": codecs.BOM_UTF16_LE})
    return cases


def _encoding_cases() -> dict[str, bytes]:
    text = "Título\n" + _article("enc") + " àéîõü — “quoted” 2022"
    return {
        "utf16_bom.txt": text.encode("utf-16"),
        "utf16_nobom.txt": text.replace("enc", "enc16").encode("utf-16-le"),
        "utf32.txt": text.replace("enc", "enc32").encode("utf-32"),
        "latin1.txt": text.replace("enc", "latin")
        .replace("—", "-")
        .replace("“", '"')
        .replace("”", '"')
        .encode("latin-1"),
        "cp1252.md": text.replace("enc", "cp1252").encode("cp1252"),
        "mixed.txt": text.replace("enc", "mixed").encode("utf-8") + "é “x”".encode("cp1252"),
        "utf8_bom.csv": codecs.BOM_UTF8 + f'title,text\nT,"{_article("bomcsv")}"\n'.encode(),
        "bad_utf8.jsonl": b'{"title": "x\xff\xfe", "text": "' + _article("badutf8").encode() + b' \xc3\x28"}\n',
        "gzip_garbage.jsonl.gz": b"this is not gzip at all",
        "gzip_truncated.jsonl.gz": gzip.compress(_json_line("gz", text=_article("gz")))[:25],
        "gzip_of_binary.txt.gz": gzip.compress(bytes(range(256)) * 20),
        "gzip_ok.jsonl.gz": gzip.compress(_json_line("gzok", text=_article("gzok"))),
    }


def _json_cases() -> dict[str, bytes]:
    art = _article("json")
    raw = {
        "truncated.json": '{"title": "x", "text": "' + art[:40],
        "trailing_comma.json": '{"title": "x", "text": "' + art + '",}',
        "numbers.json": "[1, 2, 3]",
        "string.json": '"just a string"',
        "null.json": "null",
        "number.json": "42",
        "empty_object.json": "{}",
        "empty_list.json": "[]",
        "articles_not_list.json": '{"articles": 5}',
        "deep_arrays.json": "[" * 100_000 + "]" * 100_000,
        "deep_objects.json": '{"a":' * 50_000 + "1" + "}" * 50_000,
        "nan.json": '{"title": NaN, "text": "' + _article("nan") + '", "published": Infinity}',
        "bigint.json": '{"text": ' + "9" * 5000 + "}",
        "mixed_list.json": json.dumps([{"text": _article("mixedlist")}, 5, "x", None, [1]]),
        "broken.jsonl": '{"title": "ok", "text": "' + _article("brokenl") + '"}\n{broken\n[1, 2]\nnull\n"text"\n',
        "crlf.jsonl": json.dumps({"text": _article("crlf")}) + "\r\n\r\n",
        "surrogates.jsonl": json.dumps(
            {"title": "t\udfff", "text": _article("surrogate") + " \ud800 end", "url": "http://x/\udc00"}
        ),
        "deep.jsonl": "[" * 100_000 + "]" * 100_000 + "\n",
        "blank_lines.jsonl": "\n\n   \n\n",
        "no_text_field.jsonl": '{"title": "x", "headline": "y"}\n',
        "html.json": "<html><body>" + art + "</body></html>",
        "nul_in_string.jsonl": json.dumps({"text": _article("nulstr") + "\u0000 after nul"}),
    }
    return {name: text.encode("utf-8", "surrogatepass") for name, text in raw.items()}


def _wrong_type_cases() -> dict[str, bytes]:
    deep: object = _article("deeplist")
    for _ in range(900):
        deep = [deep]
    values: dict[str, dict[str, object]] = {
        "text_number": {"text": 12345.678},
        "text_null": {"text": None},
        "text_bool": {"text": True},
        "text_object": {"text": {"a": {"b": 1}}},
        "text_name_object": {"text": {"text": _article("nameobj")}},
        "text_list": {"text": [_article("list1"), _article("list2")]},
        "text_list_of_objects": {"text": [{"x": 1}, [1, [2, [3]]]]},
        "text_deep_list": {"text": deep},
        "title_object": {"text": _article("titleobj"), "title": {"x": [1]}},
        "published_number": {"text": _article("pubnum"), "published": 1e300},
        "published_list": {"text": _article("publist"), "published": [2022, 3, 1]},
        "published_negative": {"text": _article("pubneg"), "published": -99_999_999_999},
        "published_garbage": {"text": _article("pubgarbage"), "published": "99999-99-99T99:99"},
        "url_number": {"text": _article("urlnum"), "url": 5},
        "outlet_nested": {"text": _article("outletnest"), "outlet": {"name": {"deep": [1]}}},
        "language_list": {"text": _article("langlist"), "language": ["en", "fr"], "outlet": "o" * 100_000},
    }
    return {f"{name}.jsonl": _json_line(name, **fields) for name, fields in values.items()}


def _csv_cases() -> dict[str, str]:
    art = _article("csv")
    return {
        "unterminated_quote.csv": 'title,text\n"open,' + art + "\n",
        "header_only.csv": "title,text\n",
        "semicolons.csv": "title;text\nx;" + art + "\n",
        "ragged.csv": "title,text\nx," + _article("ragged") + ",extra,extra\ny\n",
        "duplicate_header.csv": "text,text\n" + _article("duphead") + ",b\n",
        "nul_bytes.csv": "title,text\nx," + art + "\x00\x00\x00\n",
        "huge_field.csv": "title,text\nx," + ("word " * 220_000) + "\n",
        "no_final_newline.csv": "title,text\nx," + _article("nonewline"),
        "only_commas.csv": ",,,,\n,,,,\n",
        "quoted_newlines.csv": 'title,text\n"a\nb","' + _article("qnl").replace(". ", ".\n") + '"\n',
    }


def _html_cases() -> dict[str, str]:
    art = _article("html")
    return {
        "no_body.html": "<html><head><title>t</title></head></html>",
        "only_script.html": "<script>" + art + "</script><style>p{}</style>",
        "unclosed_comment.html": "<html><body><p>" + _article("unclosed") + "<!-- never closed",
        "deep_nesting.html": "<div>" * 30_000 + _article("deephtml") + "</div>" * 30_000,
        "entities.html": "<p>" + _article("entities") + " &#xD800; &#0; &#99999999999; &#x110000; &bogus;</p>",
        "giant_attribute.html": "<p " + "a" * 100_000 + ">" + _article("giantattr"),
        "cdata.html": "<![CDATA[ " + art,
        "json_as.html": json.dumps({"text": art}),
    }


def _feed_cases() -> dict[str, bytes]:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 6))
    return {
        "entity_expansion.xml": _rss(
            "<item><title>&l5;</title><description>&l5;</description></item>",
            f'<!DOCTYPE r [<!ENTITY l0 "lol">{entities}]>',
        ),
        "external_entity.xml": _rss(
            f"<item><title>x</title><description>&x; {_article('xxe')}</description></item>",
            '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        ),
        "no_items.rss": _rss(""),
        "items_missing_fields.xml": _rss(
            "<item></item><item><title>only a title</title></item>"
            f"<item><description>{_article('missingfields')}</description></item>"
        ),
        "atom_without_content.atom": b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>x</title></entry></feed>',
        "broken_xml.rss": b"<rss><channel><item><title>x</ti",
        "not_xml.xml": _article("notxml").encode(),
        "bad_date_and_link.xml": _rss(
            "<item><pubDate>Mon, 99 Foo 99999 99:99:99 +9999</pubDate>"
            f"<link>javascript:alert(1)</link><description>{_article('baddate')}</description></item>"
        ),
        "html_in_description.rss": _rss(
            f"<item><description>&lt;p&gt;{_article('escaped')}&lt;script&gt;x()&lt;/script&gt;"
            "&lt;/p&gt;</description><guid>g1</guid><guid>g2</guid></item>"
        ),
    }


def _all_cases() -> dict[str, bytes]:
    cases: dict[str, bytes] = {}
    for make in (_binary_cases, _empty_cases, _encoding_cases, _json_cases, _wrong_type_cases, _feed_cases):
        cases.update(make())
    for make_text in (_csv_cases, _html_cases):
        cases.update({name: text.encode("utf-8") for name, text in make_text().items()})
    return cases


def _write_big_text(path: Path, megabytes: int = 50) -> Path:
    line = ("Shelling continued near the front line today, officials said. " * 4).encode() + b"\n"
    with path.open("wb") as out:
        out.write(line * (megabytes * 1024 * 1024 // len(line)))
    return path


def _check_report(path: Path, report: IngestReport) -> None:
    """Ingested (something stored or linked), or at least one error, every error naming the file."""
    assert report.errors or report.added + report.duplicates + report.skipped > 0, f"{path.name}: silently ignored"
    for where, error in report.errors:
        assert str(path) in where and error.startswith(str(path)), (where, error)


def _assert_consistent(archive: Archive) -> dict[str, int]:
    with Session(archive.engine) as session:
        counts = reads.consistency_counts(session, archive.vector_table)
        integrity = session.connection().exec_driver_sql("PRAGMA integrity_check").scalar()
    assert counts["chunks"] == counts["vectors"] == counts["fts_rows"], counts
    assert integrity == "ok"
    return counts


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad-inputs")
    for name, data in _all_cases().items():
        (folder / name).write_bytes(data)
    _write_big_text(folder / "huge_50mb.txt")
    return folder


def test_there_are_over_a_hundred_bad_inputs(bad_inputs: Path) -> None:
    assert len(list(bad_inputs.iterdir())) >= 100


def test_each_bad_input_is_ingested_or_reported_by_name_and_the_archive_stays_consistent(
    archive: Archive, bad_inputs: Path
) -> None:
    outcomes: dict[str, str] = {}
    for path in sorted(bad_inputs.iterdir()):
        report = archive.ingest([path])
        _check_report(path, report)
        outcomes[path.name] = "error" if report.errors and not report.added else "ingested"
    counts = _assert_consistent(archive)
    assert counts["chunks"] > 0
    assert outcomes["huge_50mb.txt"] == outcomes["binary_random.txt"] == outcomes["deep_arrays.json"] == "error"
    assert outcomes["surrogates.jsonl"] == outcomes["text_list.jsonl"] == outcomes["latin1.txt"] == "ingested"


def test_a_50_mb_text_file_is_refused_with_the_article_size_limit(archive: Archive, bad_inputs: Path) -> None:
    path = bad_inputs / "huge_50mb.txt"
    report = archive.ingest([path])
    assert report.added == 0 and len(report.errors) == 1
    assert "over the limit of 1,000,000 for one article" in report.errors[0][1] and str(path) in report.errors[0][1]


def test_no_stored_text_carries_what_an_external_entity_points_at(archive: Archive, bad_inputs: Path) -> None:
    archive.ingest([bad_inputs / "external_entity.xml"])
    assert not archive.search("root:x:0:0 /bin/bash", k=5, mode="keyword")


def test_the_cli_on_the_whole_folder_exits_1_with_one_line_errors_and_no_traceback(
    bad_inputs: Path, tmp_path: Path
) -> None:
    db = tmp_path / "cli.db"
    env = {**os.environ, "ARCHIVE_MODEL": "fake", "ARCHIVE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "archive", "ingest", str(bad_inputs), "-d", str(db), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert all(line.startswith("error: ") for line in result.stderr.splitlines()), result.stderr[-2000:]
    assert "huge_50mb.txt" in result.stderr and "binary_png.csv" in result.stderr
    with Archive.open(db, embedder=FakeEmbedder()) as archive:
        _assert_consistent(archive)
        assert archive.runs()[0].status == "partial"


def _cp1252_slice(source: Path, target: Path, records: int = 12) -> Path:
    """The header and the records holding the real file's cp1252 bytes (the whole file takes too long)."""
    raw = source.read_bytes()
    starts = [0] + [m.start() + 1 for m in re.finditer(rb"\n(?=\d{6,},)", raw)] + [len(raw)]
    chosen = [(a, b) for a, b in itertools.pairwise(starts[1:]) if re.search(rb"[\x80-\xff]", raw[a:b])][:records]
    assert chosen, "expected cp1252 bytes in the file"
    target.write_bytes(raw[: starts[1]] + b"".join(raw[a:b] for a, b in chosen))
    return target


def test_the_real_cp1252_csv_is_ingested_without_mojibake(archive: Archive, tmp_path: Path) -> None:
    path = _cp1252_slice(shared_path("syria_fakes.csv"), tmp_path / "syria_fakes_cp1252.csv")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    report = archive.ingest([path])
    _check_report(path, report)
    assert report.added > 0
    texts = [archive.article(i).text for i in range(1, report.added + 1)]
    assert not any("\ufffd" in t or "â€" in t for t in texts)
    assert any(re.search("[\u2018-\u201d\u2022\u2013\u2014]", t) for t in texts)  # cp1252 punctuation decoded
    _assert_consistent(archive)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_FIELDS), inner, max_size=5),
    max_leaves=12,
)
_junk = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=800).map(lambda t: t.encode("utf-8", "surrogatepass")),
    _json_values.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass")),
    st.lists(_json_values, max_size=6).map(
        lambda vs: "\n".join(json.dumps(v) for v in vs).encode("utf-8", "surrogatepass")
    ),
    st.lists(st.lists(st.text(max_size=30), max_size=5), max_size=6).map(
        lambda rows: _csv_bytes([["title", "text"], *rows])
    ),
)


def _csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def test_hypothesis_junk_is_ingested_or_reported_and_never_breaks_the_archive(archive: Archive, tmp_path: Path) -> None:
    counter = itertools.count()

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(data=_junk, suffix=st.sampled_from((*_SUFFIXES, ".json.gz", ".jsonl")), gzipped=st.booleans())
    def ingest_junk(data: bytes, suffix: str, gzipped: bool) -> None:
        path = tmp_path / f"junk{next(counter)}{suffix}"
        path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") and gzipped else data)
        _check_report(path, archive.ingest([path]))

    run: Callable[[], None] = ingest_junk
    run()
    _assert_consistent(archive)
