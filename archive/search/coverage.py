"""Coverage of a query: which outlets reported it and when (timelines, facets, outlet lists).

What "matching" means here, for every timeline and facet:

* ``keyword`` mode (the default of timelines): every article whose text contains every word of
  the query, in any of its passages (FTS5, with the stemming and stopwords of keyword search).
  No cap: the exhaustive count that ``--mode keyword -k 1000 | jq | uniq -c`` approximated.
* ``semantic`` / ``hybrid``: the articles of the best ``limit`` passages of that search, every
  copy counted (not collapsed), so the count is bounded by ``limit`` and depends on its value.

Exact copies (stored without text, so no passage of theirs can match) are added to the articles
that match. Counts are of articles, not passages; each article is counted under its own outlet
and date, and the filters (dates, outlets, language) apply to each article's own metadata.
The earliest report is the first dated matching article.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from archive.errors import InvalidQueryError
from archive.results import SearchResult, Source
from archive.search.params import build_params, keyword_query
from archive.search.query import parse_query
from archive.search.variants import Variants
from archive.store.interface import Store
from archive.store.records import ArticleMeta, OutletRow
from archive.text.dates import optional_key_to_iso

TimelineBy = Literal["day", "week", "month"]
BY_CHOICES: tuple[TimelineBy, ...] = ("day", "week", "month")
DEFAULT_LIMIT = 1000
MAX_LIMIT = 4096  # sqlite-vec's cap on k
# Empty buckets between the first and the last are filled in (a chart needs the gaps) up to this many.
MAX_FILLED_BUCKETS = 1500


@dataclass(frozen=True)
class OutletSummary:
    """An outlet with how many articles the archive holds from it and their date range."""

    name: str
    articles: int
    first_published: str | None
    last_published: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FacetCount:
    """One value of a facet (an outlet name, a month) and how many matching articles have it."""

    value: str
    count: int


@dataclass(frozen=True)
class Bucket:
    """Matching articles published in one day, week (starting Monday) or month, per outlet."""

    start: str  # YYYY-MM-DD (day, week) or YYYY-MM (month)
    count: int
    outlets: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    """Matching articles over time; ``earliest`` is the first dated report.

    ``outlets`` and ``months`` count every matching article (whatever ``by`` is), so they
    double as the facets of the query.
    """

    query: str
    by: TimelineBy
    mode: str
    matching: str  # how "matching" was defined for this timeline, in words
    total: int
    undated: int
    buckets: tuple[Bucket, ...] = ()
    outlets: tuple[FacetCount, ...] = ()
    earliest: Source | None = None
    earliest_bucket: str | None = None
    months: tuple[FacetCount, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Facets:
    """Counts of matching articles per outlet and per month, largest outlets first, months in order."""

    query: str
    mode: str
    matching: str
    total: int
    outlets: tuple[FacetCount, ...] = ()
    months: tuple[FacetCount, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CoverageRequest:
    """Which articles a timeline or a facet count covers."""

    query: str
    mode: str = "keyword"
    limit: int = DEFAULT_LIMIT
    since: str | None = None
    until: str | None = None
    outlets: tuple[str, ...] = ()
    language: str | None = None


def matching_articles(
    store: Store,
    request: CoverageRequest,
    ranked: Callable[[int], Sequence[SearchResult]],
    variants: Variants | None = None,
) -> list[ArticleMeta]:
    """The articles ``request`` matches (see the module's docstring), earliest first.

    ``ranked(k)`` runs the search for the semantic and hybrid modes (uncollapsed, best first).
    """
    check_limit(request.limit)
    with store.reader() as reader:  # validates the query, mode, dates and outlets as search does
        params = build_params(
            reader,
            request.query,
            variants=variants or Variants([]),
            k=request.limit,
            mode=request.mode,
            since=request.since,
            until=request.until,
            outlets=list(request.outlets) or None,
            language=request.language,
        )
        if request.mode == "keyword":
            ids = reader.articles_with_every_term(keyword_terms(request.query, variants))
    if request.mode != "keyword":
        ids = {hit.article_id for hit in ranked(request.limit)}
    with store.reader() as reader:
        found = reader.article_meta(reader.with_exact_copies(ids))
    f = params.filters
    return filter_articles(
        found,
        since=optional_key_to_iso(f.since),
        until=optional_key_to_iso(f.until),
        source_ids=f.source_ids,
        language=f.language,
    )


def check_by(by: str) -> TimelineBy:
    for choice in BY_CHOICES:
        if by == choice:
            return choice
    raise InvalidQueryError(f"unknown timeline bucket {by!r}: choose day, week or month")


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit must be between 1 and {MAX_LIMIT} passages (got {limit})")
    return limit


def matching_note(mode: str, limit: int) -> str:
    if mode == "keyword":
        return "articles containing every query word, plus their exact copies"
    return f"articles of the best {limit} passages of a {mode} search, plus their exact copies"


def keyword_terms(query: str, variants: Variants | None = None) -> list[tuple[str, ...]]:
    """The query's words and phrases, each with its spelling variants as alternatives
    (stopwords dropped unless nothing else is left)."""
    keyword = keyword_query(parse_query(query), variants or Variants([]))
    if keyword is None:
        raise InvalidQueryError("the query has no words to match: give some words to search for")
    return list(keyword.terms)


def filter_articles(
    articles: Iterable[ArticleMeta],
    *,
    since: str | None,
    until: str | None,
    source_ids: Sequence[int] | None,
    language: str | None,
) -> list[ArticleMeta]:
    """The articles passing the filters (dates as YYYY-MM-DD bounds, inclusive); undated ones fail a date bound."""
    kept = []
    for a in articles:
        day = (a.published or "")[:10]
        if (since or until) and not day:
            continue
        if (since and day < since) or (until and day > until):
            continue
        if source_ids is not None and a.source_id not in source_ids:
            continue
        if language and a.language != language:
            continue
        kept.append(a)
    return kept


def bucket_of(published: str | None, by: TimelineBy) -> str | None:
    """The bucket label of a publication date (None when undated or unreadable)."""
    if not published or len(published) < 10:
        return None
    if by == "month":
        return published[:7]
    if by == "day":
        return published[:10]
    try:
        day = date.fromisoformat(published[:10])
    except ValueError:
        return None
    return (day - timedelta(days=day.weekday())).isoformat()


def _next_bucket(label: str, by: TimelineBy) -> str:
    if by == "month":
        year, month = int(label[:4]), int(label[5:7])
        return f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    return (date.fromisoformat(label) + timedelta(days=7 if by == "week" else 1)).isoformat()


def _filled(labels: list[str], by: TimelineBy) -> list[str]:
    """Every bucket from the first to the last label, or just the labels when that would be too many."""
    if not labels:
        return []
    out = [labels[0]]
    while out[-1] < labels[-1] and len(out) <= MAX_FILLED_BUCKETS:
        out.append(_next_bucket(out[-1], by))
    return out if len(out) <= MAX_FILLED_BUCKETS else labels


def build_timeline(query: str, by: TimelineBy, mode: str, matching: str, articles: Sequence[ArticleMeta]) -> Timeline:
    """Count ``articles`` (earliest first) per bucket and outlet."""
    per_bucket: dict[str, Counter[str]] = {}
    undated = 0
    for a in articles:
        label = bucket_of(a.published, by)
        if label is None:
            undated += 1
            continue
        per_bucket.setdefault(label, Counter())[a.outlet or "unknown outlet"] += 1
    buckets = tuple(
        Bucket(label, sum(c.values()), dict(sorted(c.items()))) if (c := per_bucket.get(label)) else Bucket(label, 0)
        for label in _filled(sorted(per_bucket), by)
    )
    first = next((a for a in articles if bucket_of(a.published, by)), None)
    earliest = (
        Source(first.id, first.outlet, first.title, first.url, first.published, first.duplicate_kind) if first else None
    )
    return Timeline(
        query=query,
        by=by,
        mode=mode,
        matching=matching,
        total=len(articles),
        undated=undated,
        buckets=buckets,
        outlets=_outlet_counts(articles),
        earliest=earliest,
        earliest_bucket=bucket_of(first.published, by) if first else None,
        months=_month_counts(articles),
    )


def build_facets(query: str, mode: str, matching: str, articles: Sequence[ArticleMeta]) -> Facets:
    return Facets(
        query=query,
        mode=mode,
        matching=matching,
        total=len(articles),
        outlets=_outlet_counts(articles),
        months=_month_counts(articles),
    )


def _month_counts(articles: Sequence[ArticleMeta]) -> tuple[FacetCount, ...]:
    months = Counter(m for a in articles if (m := bucket_of(a.published, "month")))
    return tuple(FacetCount(m, n) for m, n in sorted(months.items()))


def _outlet_counts(articles: Sequence[ArticleMeta]) -> tuple[FacetCount, ...]:
    counts = Counter(a.outlet or "unknown outlet" for a in articles)
    return tuple(FacetCount(name, n) for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def outlet_summaries(rows: Sequence[OutletRow]) -> list[OutletSummary]:
    return [OutletSummary(r.name, r.articles, r.first_published, r.last_published) for r in rows]


def sort_results(results: Sequence[SearchResult], by: str) -> list[SearchResult]:
    """Results by ``score`` (as searched), ``date`` (earliest first) or ``-date`` (newest first); undated last.

    Each result keeps its ``rank`` (its place by relevance), so a date-sorted list still shows it.
    """
    if by == "score":
        return list(results)
    if by not in ("date", "-date"):
        raise InvalidQueryError(f"unknown sort {by!r}: choose score, date or -date")
    dated = [r for r in results if r.published]
    undated = [r for r in results if not r.published]
    dated.sort(key=lambda r: (r.published or "", r.rank), reverse=by == "-date")
    return dated + undated
