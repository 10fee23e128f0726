"""Readers: every input format, encodings, gz, field maps, and how bad input is reported."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import ConfigError, IngestError
from archive.ingest.readers import SUPPORTED_SUFFIXES, is_supported, iter_input_files, read_file
from archive.ingest.records import RawArticle
from archive.text.clean import clean_article

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def articles(path: Path, **options: object) -> list[RawArticle]:
    """Read a file that must contain only good records."""
    results = list(read_file(path, **options))  # type: ignore[arg-type]
    errors = [r for r in results if isinstance(r, IngestError)]
    assert not errors, errors
    return [r for r in results if isinstance(r, RawArticle)]


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


# --- plain text and markdown ---------------------------------------------------------


def test_txt_keeps_every_line_so_the_cleaner_can_find_the_headline(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("\n\n  Shelling in Kharkiv  \nFirst paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    [article] = articles(path)
    assert article.title is None
    assert article.text == "Shelling in Kharkiv  \nFirst paragraph.\n\nSecond paragraph."
    assert article.url is None and article.outlet is None
    assert article.origin == str(path)
    cleaned = clean_article(article.text, article.title)
    assert cleaned.title == "Shelling in Kharkiv"
    assert cleaned.text == "First paragraph.\n\nSecond paragraph."


def test_markdown_title_loses_its_hashes(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("## Ceasefire talks\r\nDelegations met in Istanbul.\r\n", encoding="utf-8")
    [article] = articles(path)
    assert article.text == "Ceasefire talks\nDelegations met in Istanbul."
    assert clean_article(article.text).title == "Ceasefire talks"


def test_one_line_text_file_is_all_text(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Only one long line of reporting.", encoding="utf-8")
    [article] = articles(path)
    assert article.text == "Only one long line of reporting." and article.title is None


def test_txt_in_cp1252_is_decoded_without_mojibake(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("Title\nThe minister\u2019s \u201cplan\u201d \u2013 caf\u00e9".encode("cp1252"))
    [article] = articles(path)
    assert article.text == "Title\nThe minister\u2019s \u201cplan\u201d \u2013 caf\u00e9"


def test_outlet_option_sets_outlet_of_single_record_files(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("T\nBody", encoding="utf-8")
    [article] = articles(path, outlet="Kyiv Independent")
    assert article.outlet == "Kyiv Independent"


# --- JSON Lines ----------------------------------------------------------------------------


def test_jsonl_reads_records_with_line_origins_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    lines = [
        json.dumps({"title": "A", "text": "Alpha", "url": "https://x.org/a"}),
        "",
        "   ",
        json.dumps({"headline": "B", "body": "Beta", "published_at": "2024-02-01"}),
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    first, second = articles(path)
    assert (first.title, first.text, first.url, first.origin) == ("A", "Alpha", "https://x.org/a", f"{path}:1")
    assert (second.title, second.text, second.published, second.origin) == ("B", "Beta", "2024-02-01", f"{path}:4")


def test_bad_json_line_yields_error_and_reading_continues(tmp_path: Path) -> None:
    path = tmp_path / "news.ndjson"
    path.write_text('{"text": "one"}\n{"text": "two",,}\n[1, 2]\n{"text": "three"}\n', encoding="utf-8")
    results = list(read_file(path))
    assert [type(r).__name__ for r in results] == ["RawArticle", "IngestError", "IngestError", "RawArticle"]
    assert isinstance(results[1], IngestError) and results[1].path == f"{path}:2"
    assert "invalid JSON" in str(results[1])
    assert isinstance(results[3], RawArticle) and results[3].text == "three"


def test_record_with_empty_text_yields_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "n.jsonl", [{"title": "x", "text": "  "}, {"text": "ok"}])
    results = list(read_file(path))
    assert isinstance(results[0], IngestError) and "record has no text" in str(results[0])
    assert isinstance(results[1], RawArticle)


def test_values_are_coerced_and_nested_outlet_unwrapped(tmp_path: Path) -> None:
    record = {"text": 12345, "title": 2.5, "source": {"id": "cnn", "name": "CNN"}, "id": 7, "tags": ["a"]}
    [article] = articles(write_jsonl(tmp_path / "n.jsonl", [record]))
    assert (article.text, article.title, article.outlet) == ("12345", "2.5", "CNN")
    assert article.extra == {"id": "7"}


def test_unicode_line_separator_inside_json_string_stays_in_one_record(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_text('{"text": "before\u2028after"}\n', encoding="utf-8")
    [article] = articles(path)
    assert article.text == "before\u2028after"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(min_size=1).filter(lambda t: t.strip()), min_size=1, max_size=5))
def test_jsonl_round_trips_any_text(tmp_path: Path, texts: list[str]) -> None:
    path = write_jsonl(tmp_path / "round.jsonl", [{"text": t} for t in texts])
    assert [a.text for a in articles(path)] == [t.strip() for t in texts]


# --- JSON ------------------------------------------------------------------------------------


def test_json_object_is_one_article(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"title": "T", "content": "C", "lang": "uk"}), encoding="utf-8")
    [article] = articles(path)
    assert (article.title, article.text, article.language, article.origin) == ("T", "C", "uk", str(path))


def test_json_array_gives_index_origins(tmp_path: Path) -> None:
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"text": "a"}, "junk", {"text": "c"}]), encoding="utf-8")
    results = list(read_file(path))
    assert isinstance(results[0], RawArticle) and results[0].origin == f"{path}#0"
    assert isinstance(results[1], IngestError) and results[1].path == f"{path}#1"
    assert isinstance(results[2], RawArticle) and results[2].origin == f"{path}#2"


@pytest.mark.parametrize("key", ["articles", "items", "data"])
def test_json_object_with_article_list_is_unwrapped(tmp_path: Path, key: str) -> None:
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"status": "ok", key: [{"text": "a"}, {"text": "b"}]}), encoding="utf-8")
    assert [a.text for a in articles(path)] == ["a", "b"]


def test_json_lines_under_json_name_are_read_as_lines(tmp_path: Path) -> None:
    path = tmp_path / "lines.json"
    path.write_text('{"text": "a"}\n{"text": "b"}\n', encoding="utf-8")
    assert [a.text for a in articles(path)] == ["a", "b"]


def test_invalid_json_file_raises_with_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"text": "a",\n  oops}', encoding="utf-8")
    with pytest.raises(IngestError, match="invalid JSON at line 2") as info:
        list(read_file(path))
    assert info.value.path == str(path)


def test_json_scalar_raises(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    path.write_text("42", encoding="utf-8")
    with pytest.raises(IngestError, match="expected a JSON object or an array"):
        list(read_file(path))


def test_missing_text_field_names_candidates_and_field_option(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "n.jsonl", [{"headline": "H", "story": "S"}])
    with pytest.raises(IngestError) as info:
        list(read_file(path))
    message = str(info.value)
    assert "no text field found" in message
    assert "body" in message and "article_content" in message and "story" in message
    assert "--field text=" in message


# --- field map and outlet override ---------------------------------------------------------


def test_field_map_overrides_default_names(tmp_path: Path) -> None:
    record = {"title": "ignored", "headline_col": "Mapped", "story": "Body", "text": "not this"}
    path = write_jsonl(tmp_path / "n.jsonl", [record])
    [article] = articles(path, field_map={"title": "headline_col", "text": "story"})
    assert (article.title, article.text) == ("Mapped", "Body")
    assert article.extra == {"title": "ignored", "text": "not this"}


def test_field_map_with_unknown_key_lists_choices(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "n.jsonl", [{"text": "x"}])
    with pytest.raises(ConfigError, match="choose from title, text, url"):
        list(read_file(path, field_map={"txt": "body"}))


def test_outlet_option_overrides_every_record(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "n.jsonl", [{"text": "a", "outlet": "X"}, {"text": "b"}])
    assert [a.outlet for a in articles(path, outlet="Meduza")] == ["Meduza", "Meduza"]


# --- CSV -------------------------------------------------------------------------------------


def test_csv_rows_with_start_line_origins(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text('Title,Body,Source\nA,"line one\nline two",X\nB,second,Y\n', encoding="utf-8")
    first, second = articles(path)
    assert (first.title, first.text, first.outlet, first.origin) == ("A", "line one\nline two", "X", f"{path}:2")
    assert second.origin == f"{path}:4"


def test_csv_in_cp1252_reads_cleanly_without_options(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    # cp1252 dashes and curly quotes, plus 0x81, a byte cp1252 leaves undefined (as in syria_fakes.csv)
    path.write_bytes(
        b"article_title,article_content,source,date\r\n"
        b'"Aleppo \x96 update","It\x92s \x93bad\x94 \x95\x81now.",nna,4/5/17\r\n'
    )
    [article] = articles(path)
    assert article.title == "Aleppo \u2013 update"
    assert article.text.startswith("It\u2019s \u201cbad\u201d")
    assert (article.outlet, article.published) == ("nna", "4/5/17")


def test_csv_with_utf8_bom_and_very_long_field(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    body = "word " * 60_000  # 300 kB: over csv's default 128 kB field limit
    path.write_bytes(("text,title\n" + f'"{body}",T\n').encode("utf-8-sig"))
    [article] = articles(path)
    assert article.text == body.strip() and article.title == "T"


def test_encoding_option_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_bytes("text\n\u0422\u0435\u043a\u0441\u0442\n".encode("koi8-r"))
    [article] = articles(path, encoding="koi8-r")
    assert article.text == "\u0422\u0435\u043a\u0441\u0442"


JSONL_RECORDS = [
    {"title": "Kyiv", "text": "Caf\u00e9 near the front \U0001f600 reopened."},
    {"text": "A separator \u2028 inside a string."},
    {"text": "Koi: \u0422\u0435\u043a\u0441\u0442"},
]


@pytest.mark.parametrize(
    ("encoding", "prefix", "option"),
    [("utf-8", b"", None), ("utf-8", b"\xef\xbb\xbf", None), ("utf-16", b"", None), ("koi8-r", b"", "koi8-r")],
)
def test_json_lines_decode_a_line_at_a_time_as_the_whole_file_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str, prefix: bytes, option: str | None
) -> None:
    import archive.ingest.readers as readers

    path = tmp_path / "n.jsonl"
    records = JSONL_RECORDS[2:] if encoding == "koi8-r" else JSONL_RECORDS  # koi8-r has no emoji
    path.write_bytes(prefix + "".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in records).encode(encoding))
    whole = readers._decode
    decoded: list[int] = []
    monkeypatch.setattr(readers, "_decode", lambda raw, *a: decoded.append(len(raw)) or whole(raw, *a))
    got = articles(path, encoding=option)
    assert [a.text for a in got] == [r["text"] for r in records]
    assert got[0].title == records[0].get("title")
    assert decoded == ([len(path.read_bytes())] if encoding == "utf-16" else [])  # only UTF-16 decodes it whole


def test_json_lines_in_windows_1252_fall_back_as_a_whole_file_did(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_bytes('{"text": "caf\u00e9 \u2019quoted\u2019"}\n{"text": "plain"}\n'.encode("cp1252"))
    assert [a.text for a in articles(path)] == ["caf\u00e9 \u2019quoted\u2019", "plain"]


def test_json_lines_that_do_not_decode_fail_before_any_record(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_bytes(b'{"text": "fine"}\n{"text": "caf\xc3\xa9"}\n')
    records = read_file(path, encoding="ascii")
    with pytest.raises(IngestError, match=r"cannot decode as ascii \(byte offset 30\)"):
        next(records)  # the whole file is checked first: nothing of it is ingested
    with pytest.raises(ConfigError, match="unknown encoding 'hex'"):
        list(read_file(path, encoding="hex"))  # a codec, but not of text


def test_unknown_encoding_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("text\nx\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown encoding"):
        list(read_file(path, encoding="no-such-codec"))


def test_csv_without_text_column_raises(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(IngestError, match="no text field found"):
        list(read_file(path))


@pytest.mark.shared
def test_shared_syria_csv_reads_cleanly() -> None:
    path = SHARED_DATA / "syria_fakes.csv"
    if not path.exists():
        pytest.skip(f"shared data set not present at {path}")
    results = list(read_file(path))
    assert not [r for r in results if isinstance(r, IngestError)]
    assert len(results) == 804
    texts = [r.text for r in results if isinstance(r, RawArticle)]
    assert all(t for t in texts)
    assert not [t for t in texts if "\u00e2\u20ac" in t or "\u00c3" in t]


# --- gz, binary, empty, missing ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["n.jsonl.gz", "n.csv.gz", "n.txt.gz"])
def test_gz_files_are_decompressed(tmp_path: Path, name: str) -> None:
    content = {"n.jsonl.gz": '{"text": "gz body"}\n', "n.csv.gz": "text\ngz body\n", "n.txt.gz": "T\ngz body\n"}[name]
    path = tmp_path / name
    path.write_bytes(gzip.compress(content.encode("utf-8")))
    [article] = articles(path)
    assert article.text.endswith("gz body")


def test_corrupt_gz_raises(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl.gz"
    path.write_bytes(b"this is not gzip")
    with pytest.raises(IngestError, match="not a valid gzip file"):
        list(read_file(path))


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(1, 32)) * 20])
def test_binary_file_is_rejected(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(data)
    with pytest.raises(IngestError, match="looks like a binary file") as info:
        list(read_file(path))
    assert info.value.path == str(path)


@pytest.mark.parametrize("name", ["e.txt", "e.jsonl", "e.csv", "e.json"])
def test_empty_file_raises(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("  \n", encoding="utf-8")
    with pytest.raises(IngestError, match="file is empty"):
        list(read_file(path))


def test_missing_file_is_yielded_then_reported_by_read_file(tmp_path: Path) -> None:
    good = tmp_path / "a.txt"
    good.write_text("T\nBody", encoding="utf-8")
    missing = tmp_path / "nope.jsonl"
    assert list(iter_input_files([missing, good])) == [missing, good]
    with pytest.raises(IngestError, match="no such file") as info:
        list(read_file(missing))
    assert info.value.path == str(missing)


def test_unsupported_suffix_raises_with_choices(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(IngestError, match=r"unsupported file type '.pdf'.*\.jsonl"):
        list(read_file(path))


# --- directories ---------------------------------------------------------------------------------


def test_directories_are_walked_sorted_skipping_hidden_and_unsupported(tmp_path: Path) -> None:
    for name in ["b.txt", "a.jsonl", "sub/c.csv.gz", "sub/deeper/d.md", "notes.pdf", ".hidden.txt", ".git/x.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    explicit = tmp_path / "notes.pdf"
    found = [p.relative_to(tmp_path).as_posix() for p in iter_input_files([tmp_path, explicit])]
    assert found == ["a.jsonl", "b.txt", "sub/c.csv.gz", "sub/deeper/d.md", "notes.pdf"]


def test_supported_suffixes_include_gz_variants() -> None:
    assert {".txt", ".jsonl", ".csv", ".html", ".rss", ".jsonl.gz", ".csv.gz"} <= set(SUPPORTED_SUFFIXES)
    assert is_supported(Path("X.JSONL.GZ")) and not is_supported(Path("x.pdf"))


# --- HTML and feed files through read_file ------------------------------------------------------


def test_html_file_is_extracted_with_path_origin(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    paragraph = "Rescue teams searched the rubble of the apartment block through the night, officials said."
    page = f"<html><head><title>Strike</title></head><body><p>{paragraph}</p></body></html>"
    path.write_text(page, encoding="utf-8")
    [article] = articles(path, outlet="Suspilne")
    assert paragraph in article.text
    assert (article.origin, article.outlet) == (str(path), "Suspilne")


def test_feed_file_yields_entries_and_entries_without_text_as_errors(tmp_path: Path) -> None:
    path = tmp_path / "feed.rss"
    path.write_text(
        '<rss version="2.0"><channel><title>Wire</title>'
        "<item><title>One</title><link>https://w.org/1</link><description>First story.</description></item>"
        "<item><title>Empty</title><link>https://w.org/2</link></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    results = list(read_file(path))
    assert isinstance(results[0], RawArticle)
    assert (results[0].text, results[0].outlet, results[0].origin) == ("First story.", "Wire", f"{path}#0")
    assert isinstance(results[1], IngestError) and results[1].path == f"{path}#1"
