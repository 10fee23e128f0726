"""Query-string parameters of the pages and the JSON API, validated into typed values.

A bad value raises InvalidQueryError, which the app answers with a 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from archive.errors import InvalidQueryError
from archive.search.coverage import BY_CHOICES, DEFAULT_LIMIT, MAX_LIMIT, TimelineBy, check_by
from archive.search.params import MODES

MAX_K = 1000
PAGE_SIZE = 10
# The search page's facets and timeline count the articles of this many best passages by default
# (the JSON API's default is the library's); "every word" counting has no cap.
PAGE_LIMIT = 200
SORTS = ("score", "date", "-date")


class FilterArgs(TypedDict):
    """The keyword arguments Archive.search, timeline and facets share."""

    since: str | None
    until: str | None
    outlets: list[str] | None
    language: str | None


@dataclass(frozen=True)
class SearchForm:
    """What a search page or /api/search was asked for."""

    q: str = ""
    mode: str = "hybrid"
    since: str | None = None
    until: str | None = None
    outlets: tuple[str, ...] = ()
    language: str | None = None
    k: int = PAGE_SIZE
    sort: str = "score"
    by: TimelineBy = "month"
    coverage: str = "hybrid"  # which articles timelines and facets count (see archive.search.coverage)
    limit: int = DEFAULT_LIMIT

    def filters(self) -> FilterArgs:
        """The keyword arguments search, timeline and facets share."""
        return {
            "since": self.since,
            "until": self.until,
            "outlets": list(self.outlets) or None,
            "language": self.language,
        }

    def link(self, **changes: object) -> str:
        """The query string of this form with ``changes`` (None removes; a tuple repeats the key)."""
        values: dict[str, object] = {
            "q": self.q,
            "mode": self.mode,
            "since": self.since,
            "until": self.until,
            "outlet": self.outlets,
            "language": self.language,
            "sort": self.sort,
            "by": self.by,
            "coverage": self.coverage,
        }
        values.update(changes)
        pairs: list[tuple[str, str]] = []
        for key, value in values.items():
            if isinstance(value, tuple):
                pairs.extend((key, str(v)) for v in value)
            elif value is not None and value != "":
                pairs.append((key, str(value)))
        return "?" + urlencode(pairs)


def whole_number(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    raw = str(raw)
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise InvalidQueryError(f"parameter {name} must be a whole number from {low} to {high} (got {raw!r})")
    return int(raw)


def choice(params: QueryParams, name: str, default: str, choices: tuple[str, ...]) -> str:
    value = params.get(name) or default
    if value not in choices:
        raise InvalidQueryError(f"parameter {name} must be one of {', '.join(choices)} (got {value!r})")
    return value


def optional(params: QueryParams, name: str) -> str | None:
    value = (params.get(name) or "").strip()
    return value or None


def search_form(params: QueryParams, *, limit: int = DEFAULT_LIMIT) -> SearchForm:
    """Read q, mode, since, until, outlet (repeatable), language, k, sort, by, coverage and limit.

    ``coverage`` (which articles the facets and the timeline count) follows ``mode`` unless given.
    """
    by = check_by(choice(params, "by", "month", BY_CHOICES))
    mode = choice(params, "mode", "hybrid", MODES)
    return SearchForm(
        q=(params.get("q") or "").strip(),
        mode=mode,
        since=optional(params, "since"),
        until=optional(params, "until"),
        outlets=tuple(o for o in params.getlist("outlet") if o.strip()),
        language=optional(params, "language"),
        k=whole_number(params, "k", PAGE_SIZE, 1, MAX_K),
        sort=choice(params, "sort", "score", SORTS),
        by=by,
        coverage=choice(params, "coverage", mode, MODES),
        limit=whole_number(params, "limit", limit, 1, MAX_LIMIT),
    )


def required_query(form: SearchForm) -> str:
    if not form.q:
        raise InvalidQueryError("parameter q is required: the words to search for")
    return form.q
