"""Date parsing for article metadata and search filters (pure functions)."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime

from archive.errors import InvalidQueryError

_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%a %d %b %Y", "%d.%m.%Y", "%Y/%m/%d")
_ISO_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")


def normalize_published(value: str | None) -> str | None:
    """Best-effort ISO 8601 form of a publication date; None when it cannot be read.

    Dates become ``YYYY-MM-DD``; timestamps ``YYYY-MM-DDTHH:MM:SS`` in UTC.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        parsed = _parse(text)
        if isinstance(parsed, datetime) and parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except (OverflowError, ValueError):  # 9999-12-31T23:00-05:00 is in year 10000 in UTC
        return None
    if parsed is None:
        return None
    if isinstance(parsed, datetime):
        if (parsed.hour, parsed.minute, parsed.second) == (0, 0, 0):
            return parsed.date().isoformat()
        return parsed.isoformat(timespec="seconds")
    return parsed.isoformat()


def _parse(text: str) -> date | datetime | None:
    candidate = text.replace("Z", "+00:00") if text.endswith("Z") else text
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    if _ISO_PREFIX.match(text):
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    for fmt in _FORMATS:
        try:
            return datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
    return None


def date_key(published: str | None) -> int:
    """Integer ``YYYYMMDD`` used as a vec0 metadata column; 0 when unknown."""
    if not published or not _ISO_PREFIX.match(published):
        return 0
    return int(published[:10].replace("-", ""))


def parse_filter_date(value: str | None, *, end: bool = False) -> int | None:
    """Parse ``--since``/``--until`` (YYYY, YYYY-MM or YYYY-MM-DD) into a YYYYMMDD key.

    With ``end=True`` a partial date means its last day, so ``--until 2022-03``
    includes all of March.
    """
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", text)
    if not match:
        raise InvalidQueryError(f"invalid date {text!r}: use YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(match.group(1))
    month = int(match.group(2) or (12 if end else 1))
    day = int(match.group(3) or (31 if end else 1))
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise InvalidQueryError(f"invalid date {text!r}: month or day out of range")
    if not match.group(3):
        return year * 10000 + month * 100 + day
    try:
        date(year, month, day)
    except ValueError as exc:
        raise InvalidQueryError(f"invalid date {text!r}: {exc}") from None
    return year * 10000 + month * 100 + day


def key_to_iso(key: int) -> str:
    """A YYYYMMDD date key as YYYY-MM-DD (the prefix of a stored ``published_at``)."""
    return f"{key // 10000:04d}-{key // 100 % 100:02d}-{key % 100:02d}"


def optional_key_to_iso(key: int | None) -> str | None:
    """:func:`key_to_iso`, passing None (no date bound) through."""
    return None if key is None else key_to_iso(key)
