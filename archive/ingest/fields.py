"""From a JSON object or CSV row to a RawArticle: field names, text values, the text-field check.

Pure mapping, no I/O: the readers in :mod:`archive.ingest.readers` parse files and hand each
record here. Anything unexpected inside one record is that record's error, never the file's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from archive.errors import ConfigError, IngestError
from archive.ingest.records import DEFAULT_FIELDS, RawArticle

_MAX_PENDING = 1000  # records without a text field remembered one by one before the first good one
_MAX_NESTING = 20  # lists/objects inside a field deeper than this are not text
FieldNames = Mapping[str, tuple[str, ...]]
Results = Iterator[RawArticle | IngestError]


def field_names(field_map: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    names = dict(DEFAULT_FIELDS)
    for key, column in (field_map or {}).items():
        if key not in DEFAULT_FIELDS:
            choices = ", ".join(DEFAULT_FIELDS)
            raise ConfigError(f"unknown field {key!r} in field map: choose from {choices}")
        names[key] = (column,)
    return names


def _as_text(value: Any, depth: int = 0) -> str | None:
    """A record value as stripped text: numbers coerced, ``{"name": ...}`` objects unwrapped."""
    if value is None or depth > _MAX_NESTING:
        return None
    if isinstance(value, dict):
        for key in ("name", "title", "value", "text", "url", "href"):
            if key in value:
                return _as_text(value[key], depth + 1)
        return None
    if isinstance(value, list):
        parts = [part for part in (_as_text(item, depth + 1) for item in value) if part]
        return "\n".join(parts) or None
    text = str(value).strip()
    return text or None


def find_key(record: Mapping[str, Any], candidates: Iterable[str]) -> str | None:
    """The record key matching the first candidate name (exact, then case-insensitive)."""
    lowered = {str(key).strip().lower(): key for key in record if key is not None}
    for name in candidates:
        if name in record:
            return name
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _no_text_field(record: Mapping[str, Any], fields: FieldNames, where: str) -> IngestError:
    found = ", ".join(str(key) for key in list(record)[:20] if key is not None) or "none"
    looked_for = ", ".join(fields["text"])
    return IngestError(
        f"no text field found: looked for {looked_for}; the records have {found}. "
        "Map the right one with --field text=NAME",
        path=where,
    )


def require_text_field(record: Mapping[str, Any], fields: FieldNames, path: Path) -> None:
    """Raise a file-level error when the records have no column the text could come from."""
    if find_key(record, fields["text"]) is None:
        raise _no_text_field(record, fields, str(path))


class TextFieldCheck:
    """Records without a text field are that record's error, unless no record of the file has one.

    A wrong mapping (every record lacks the field) is one file-level error with the
    fix; one odd record must not cost the good records after it.
    """

    def __init__(self, fields: FieldNames, path: Path) -> None:
        self.fields = fields
        self.path = path
        self.seen_text = False
        self.first: Mapping[str, Any] | None = None
        self.pending: list[str] = []  # origins of the records before the first one with text
        self.pending_extra = 0  # more of them than are worth remembering one by one

    def check(self, record: Mapping[str, Any], origin: str) -> tuple[list[IngestError], bool]:
        """The errors to report now, and whether ``record`` has a text field."""
        if find_key(record, self.fields["text"]) is not None:
            errors: list[IngestError] = []
            if not self.seen_text:
                self.seen_text = True
                errors = [self._error(where) for where in self.pending]
                if self.pending_extra:
                    errors.append(self._error(f"{self.path} ({self.pending_extra:,} more records)"))
                self.pending.clear()
            return errors, True
        if self.seen_text:
            return [self._error(origin, record)], False
        self.first = self.first or record
        if len(self.pending) < _MAX_PENDING:
            self.pending.append(origin)
        else:
            self.pending_extra += 1
        return [], False

    def finish(self) -> None:
        if self.pending and self.first is not None:
            raise _no_text_field(self.first, self.fields, str(self.path))

    def _error(self, where: str, record: Mapping[str, Any] | None = None) -> IngestError:
        return _no_text_field(record or self.first or {}, self.fields, where)


def checked_article(check: TextFieldCheck, record: Mapping[str, Any], outlet: str | None, origin: str) -> Results:
    errors, has_text = check.check(record, origin)
    yield from errors
    if has_text:
        yield to_article(record, check.fields, outlet=outlet, origin=origin)


def to_article(
    record: Mapping[str, Any], fields: FieldNames, *, outlet: str | None, origin: str
) -> RawArticle | IngestError:
    """The record as an article; anything unexpected in it is this record's error, not the file's."""
    try:
        return _record_to_article(record, fields, outlet=outlet, origin=origin)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        return IngestError(f"cannot read this record: {exc}", path=origin)


def _record_to_article(
    record: Mapping[str, Any], fields: FieldNames, *, outlet: str | None, origin: str
) -> RawArticle | IngestError:
    values: dict[str, str | None] = {}
    used: set[Any] = set()
    for name, candidates in fields.items():
        key = find_key(record, candidates)
        values[name] = _as_text(record[key]) if key is not None else None
        used.add(key)
    text = values["text"]
    if not text:
        return IngestError("record has no text", path=origin)
    # Unmapped scalar columns (ids, labels, categories) travel along for provenance.
    extra = {
        str(key): str(value).strip()
        for key, value in record.items()
        if key not in used and key is not None and isinstance(value, (str, int, float)) and str(value).strip()
    }
    return RawArticle(
        text=text,
        title=values["title"],
        url=values["url"],
        outlet=outlet or values["outlet"],
        published=values["published"],
        language=values["language"],
        origin=origin,
        extra=extra,
    )
