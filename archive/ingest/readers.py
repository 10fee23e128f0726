"""Readers: turn input files (text, JSON, JSON Lines, CSV, HTML, feeds) into RawArticles.

``iter_input_files`` expands the paths a user gave; ``read_file`` reads one
file. A bad record inside a multi-record file is *yielded* as an
:class:`IngestError` so reading continues; a bad file *raises* one.
"""

from __future__ import annotations

import codecs
import csv
import encodings.cp1252
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from archive.errors import ConfigError, IngestError
from archive.ingest.feed_entries import entry_to_article, parse_feed
from archive.ingest.fields import (
    FieldNames,
    Results,
    TextFieldCheck,
    checked_article,
    field_names,
    find_key,
    require_text_field,
    to_article,
)
from archive.ingest.files import DEFAULT_MAX_FILE_BYTES, gunzip_capped, read_regular_file
from archive.ingest.html import extract_article
from archive.ingest.records import RawArticle

_FORMATS: dict[str, str] = {
    ".txt": "text",
    ".md": "markdown",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_FORMATS) + tuple(f"{suffix}.gz" for suffix in _FORMATS)

_CONTAINER_KEYS = ("articles", "items", "data")
_SNIFF_BYTES = 8192
_MAX_CONTROL_RATIO = 0.10
# Bytes that are fine in text: tab, newline, carriage return, form feed, escape.
_TEXT_CONTROLS = b"\t\n\r\f\x1b"
_CONTROL_BYTES = bytes(b for b in [*range(32), 127] if b not in _TEXT_CONTROLS)
_CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)  # articles are longer than csv's 128 KiB default
# Windows-1252 as browsers decode it (WHATWG): cp1252's five undefined bytes (0x81, 0x8D, ...)
# map to U+0081..., so one stray byte does not turn a whole cp1252 file into latin-1 mojibake.
_WINDOWS_1252 = "".join(
    chr(byte) if char == "\ufffe" else char for byte, char in enumerate(encodings.cp1252.decoding_table)
)


def _format_suffix(path: Path) -> str:
    """The suffix that decides the format: ``a.jsonl.gz`` -> ``.jsonl``."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
    return Path(name).suffix


def is_supported(path: Path) -> bool:
    """Whether ``read_file`` knows the format of ``path`` (by its suffix)."""
    return _format_suffix(path) in _FORMATS


class _Walk:
    """A directory walk that stays inside its root: links pointing out of it are reported, not followed."""

    def __init__(self, root: Path, follow_links: bool) -> None:
        self.root = root.resolve()
        self.follow_links = follow_links
        self.visited: set[Path] = set()

    def _outside(self, entry: Path) -> IngestError | None:
        if self.follow_links or not entry.is_symlink():
            return None
        target = entry.resolve()
        if target == self.root or self.root in target.parents:
            return None
        return IngestError(
            f"is a symbolic link to {target}, outside {self.root}: skipped (pass --follow-links to read it)",
            path=str(entry),
        )

    def walk(self, directory: Path) -> Iterator[Path | IngestError]:
        self.visited.add(directory.resolve())
        try:
            entries = sorted(directory.iterdir(), key=lambda entry: entry.name)
        except OSError:
            yield directory  # read_file will report why it cannot be read
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                # A linked directory inside the tree could loop: each real directory is walked once.
                if (not entry.is_symlink() or self.follow_links) and entry.resolve() not in self.visited:
                    yield from self.walk(entry)
            elif is_supported(entry):
                # Links out of the tree, FIFOs and devices are reported by name rather than passed over.
                yield self._outside(entry) or entry


def iter_input_files(paths: Sequence[Path], *, follow_links: bool = False) -> Iterator[Path | IngestError]:
    """Expand input paths into the files to read, in a deterministic order.

    Files are yielded as given (whatever their suffix); directories are walked
    recursively in name order, skipping hidden entries and unsupported
    suffixes. A symbolic link in a directory that points outside it is yielded
    as an :class:`IngestError` unless ``follow_links``. A path that does not
    exist is yielded unchanged, so that ``read_file`` raises
    :class:`IngestError` for it when the caller reaches it: the caller
    records the error and carries on with the next file.
    """
    for path in paths:
        if path.is_dir():
            yield from _Walk(path, follow_links).walk(path)
        else:
            yield path


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, gunzipped when it ends in ``.gz``; raises on unreadable, special, huge or empty files."""
    where = str(path)
    raw = read_regular_file(path, max_bytes=max_bytes)
    if path.name.lower().endswith(".gz"):
        raw = gunzip_capped(raw, max_bytes=max_bytes, where=where)
    if not raw.strip():
        raise IngestError("file is empty", path=where)
    if _looks_binary(raw):
        raise IngestError("looks like a binary file, not text: check the file and its suffix", path=where)
    return raw


def _looks_binary(raw: bytes) -> bool:
    head = raw[:_SNIFF_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls / len(head) > _MAX_CONTROL_RATIO


def _decode(raw: bytes, encoding: str | None, path: Path) -> str:
    """Decode with ``encoding`` if given, else UTF-8 (BOM allowed), else Windows-1252."""
    if encoding:
        try:
            return raw.decode(encoding)
        except LookupError as exc:
            message = f"unknown encoding {encoding!r}: use a Python codec name such as utf-8 or cp1252"
            raise ConfigError(message) from exc
        except UnicodeDecodeError as exc:
            message = f"cannot decode as {encoding} (byte offset {exc.start}); try another --encoding"
            raise IngestError(message, path=str(path)) from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return codecs.charmap_decode(raw, "strict", _WINDOWS_1252)[0]  # every byte decodes


_CHECK_BYTES = 1 << 20  # how much of a file one step of the encoding check decodes (and drops)
_WHOLE_TEXT_CODECS = ("utf-16", "utf-32")  # a newline byte may sit inside a character: decode the whole file


def _decoded_lines(raw: bytes, encoding: str | None, path: Path) -> Iterator[str]:
    """The file's lines (split on newlines only), decoded one at a time as :func:`_decode` decodes it whole.

    A JSON Lines file is read a line at a time: a str of the whole file costs up to four bytes a
    character (191 MB for the 48 MB ukraine_media file, held for the whole ingest). The encoding is
    settled for the whole file first, as before, by decoding it in 1 MB steps and dropping the text.
    """
    codec = _line_codec(raw, encoding)
    if codec is None:
        yield from _lines(_decode(raw, encoding, path))  # UTF-16/32, or a failure: as before, whole
        return
    start = len(codecs.BOM_UTF8) if codec == "utf-8" and raw.startswith(codecs.BOM_UTF8) else 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        if end < 0:
            end = len(raw)
        line = raw[start:end]
        yield codecs.charmap_decode(line, "strict", _WINDOWS_1252)[0] if codec == _ANY_BYTE else line.decode(codec)
        start = end + 1


_ANY_BYTE = "windows-1252 (every byte)"  # the fallback of _decode, through its own table


def _line_codec(raw: bytes, encoding: str | None) -> str | None:
    """The codec every line of ``raw`` decodes with, or None where the whole text must be decoded at once
    (UTF-16/32, an unknown codec, or text that does not decode: _decode then says why)."""
    if encoding:
        try:
            name = codecs.lookup(encoding).name
            splits = not name.startswith(_WHOLE_TEXT_CODECS) and "\n".encode(name) == b"\n"  # not EBCDIC
        except (LookupError, UnicodeError):  # not a text encoding ("hex"): _decode says so
            return None
        return ("utf-8" if name == "utf-8-sig" else name) if splits and _decodes(raw, name) else None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    return "utf-8" if _decodes(raw, "utf-8") else _ANY_BYTE


def _decodes(raw: bytes, codec: str) -> bool:
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        for start in range(0, len(raw), _CHECK_BYTES):
            decoder.decode(raw[start : start + _CHECK_BYTES])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _lines(text: str) -> Iterator[str]:
    """Split on newlines only (``str.splitlines`` would also split on U+2028 inside JSON strings)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end]
        start = end + 1


def _loads(text: str) -> Any:
    """``json.loads``, reporting absurd nesting and giant integers as invalid JSON instead of crashing."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None
    except ValueError as exc:  # e.g. an integer over Python's 4,300-digit conversion limit
        raise json.JSONDecodeError(str(exc).split(";")[0], text, 0) from None


def _read_jsonl(lines: Iterable[str], path: Path, fields: FieldNames, outlet: str | None) -> Results:
    check = TextFieldCheck(fields, path)
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        origin = f"{path}:{lineno}"
        try:
            record = _loads(line)
        except json.JSONDecodeError as exc:
            yield IngestError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=origin)
            continue
        if not isinstance(record, dict):
            yield IngestError("expected a JSON object on this line", path=origin)
            continue
        yield from checked_article(check, record, outlet, origin)
    check.finish()


def _unwrap_container(data: Any, fields: FieldNames) -> Any:
    """``{"articles": [...]}`` (or items/data) -> the list, unless the object is itself an article."""
    if not isinstance(data, dict) or find_key(data, fields["text"]) is not None:
        return data
    for key in _CONTAINER_KEYS:
        if isinstance(data.get(key), list):
            return data[key]
    return data


def _read_json(text: str, path: Path, fields: FieldNames, outlet: str | None) -> Results:
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object per line: JSON Lines under a .json name
            yield from _read_jsonl(_lines(text), path, fields, outlet)
            return
        message = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise IngestError(message, path=str(path)) from exc
    data = _unwrap_container(data, fields)
    if isinstance(data, dict):
        require_text_field(data, fields, path)
        yield to_article(data, fields, outlet=outlet, origin=str(path))
        return
    if not isinstance(data, list):
        raise IngestError("expected a JSON object or an array of objects", path=str(path))
    check = TextFieldCheck(fields, path)
    for index, record in enumerate(data):
        origin = f"{path}#{index}"
        if not isinstance(record, dict):
            yield IngestError("expected a JSON object in the array", path=origin)
            continue
        yield from checked_article(check, record, outlet, origin)
    check.finish()


_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


class _Lines:
    """The file's physical lines from ``start``, counting how many the csv reader took."""

    def __init__(self, lines: list[str], start: int) -> None:
        self.lines = lines
        self.position = start

    def __iter__(self) -> Iterator[str]:
        while self.position < len(self.lines):
            self.position += 1
            yield self.lines[self.position - 1]


def _read_csv(text: str, path: Path, fields: FieldNames, outlet: str | None) -> Results:
    """Rows as articles; a malformed row is that row's error (with its line) and reading goes on.

    Parsing is strict, so an unterminated quote is an error instead of a field that
    swallows the rows after it; after a bad row, parsing restarts on its next line.
    """
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    lines = [line for line in _PHYSICAL_LINE.findall(text) if line]
    source = _Lines(lines, 0)
    reader = csv.reader(source, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise IngestError(f"invalid CSV header: {exc}", path=str(path)) from exc
    if not header:
        raise IngestError("file is empty", path=str(path))
    require_text_field(dict.fromkeys(header), fields, path)
    while source.position < len(lines):
        start = source.position
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield IngestError(f"invalid CSV row: {exc}; check its quotes", path=f"{path}:{start + 1}")
            source, reader = _restart(lines, start + 1)
            continue
        if not row:
            continue
        if any(value.strip() for value in row[len(header) :]):
            message = f"invalid CSV row: {len(row)} fields where the header has {len(header)}; check its quotes"
            yield IngestError(message, path=f"{path}:{start + 1}")
            if source.position - start > 1:  # it spanned lines: those may be rows of their own
                source, reader = _restart(lines, start + 1)
            continue
        record = dict(zip(header, row))
        yield to_article(record, fields, outlet=outlet, origin=f"{path}:{start + 1}")


def _restart(lines: list[str], start: int) -> tuple[_Lines, Any]:
    source = _Lines(lines, start)
    return source, csv.reader(source, strict=True)


def _read_plain(text: str, path: Path, outlet: str | None, *, markdown: bool) -> RawArticle:
    """One article per file. The cleaner finds the headline among the first lines.

    Scraped pages often open with a teaser line before the headline (the seed
    article does), so the first line is not taken blindly as the title.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n")
    if markdown:
        lines = [line.lstrip("#").strip() if line.startswith("#") else line for line in lines]
    return RawArticle(text="\n".join(lines), title=None, outlet=outlet, origin=str(path))


def _read_html(text: str, path: Path, outlet: str | None) -> RawArticle:
    try:
        article = extract_article(text)
    except IngestError as exc:
        raise IngestError("no article text found in page", path=str(path)) from exc
    return replace(article, origin=str(path), outlet=outlet or article.outlet)


def _read_feed(raw: bytes, path: Path, outlet: str | None) -> Results:
    feed = parse_feed(raw, origin=str(path))
    for index, entry in enumerate(feed.entries):
        origin = f"{path}#{index}"
        if not (entry.content_text or entry.summary_text):
            yield IngestError("feed entry has no text (no content or summary)", path=origin)
            continue
        article = entry_to_article(entry, outlet=outlet or feed.title)
        yield replace(article, origin=origin)


def read_file(
    path: Path,
    *,
    field_map: Mapping[str, str] | None = None,
    outlet: str | None = None,
    encoding: str | None = None,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Iterator[RawArticle | IngestError]:
    """Read one input file, yielding a :class:`RawArticle` per record.

    The format follows the suffix (``.gz`` is decompressed transparently).
    A bad record in a multi-record file is yielded as an :class:`IngestError`
    naming ``path:line`` (or ``path#index``) and reading continues; a file that
    cannot be read at all raises :class:`IngestError`. ``field_map`` maps
    article fields to the names a JSON/CSV source uses (``{"text": "body"}``);
    ``outlet`` overrides every record's outlet; ``encoding`` overrides the
    UTF-8 / cp1252 / latin-1 detection. Only regular files of at most
    ``max_bytes`` (after decompression) are read.
    """
    suffix = _format_suffix(path)
    kind = _FORMATS.get(suffix)
    if kind is None:
        supported = ", ".join(_FORMATS)
        message = f"unsupported file type {suffix or '(no suffix)'!r}: use one of {supported} (or .gz)"
        raise IngestError(message, path=str(path))
    fields = field_names(field_map)
    raw = _read_bytes(path, max_bytes)
    if kind == "feed":
        yield from _read_feed(raw, path, outlet)
        return
    if kind == "jsonl":
        yield from _read_jsonl(_decoded_lines(raw, encoding, path), path, fields, outlet)
        return
    text = _decode(raw, encoding, path)
    if kind in ("text", "markdown"):
        yield _read_plain(text, path, outlet, markdown=kind == "markdown")
    elif kind == "html":
        yield _read_html(text, path, outlet)
    elif kind == "json":
        yield from _read_json(text, path, fields, outlet)
    else:
        yield from _read_csv(text, path, fields, outlet)
