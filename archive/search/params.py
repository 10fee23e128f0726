"""A validated search request: user input checked once, query syntax parsed, keyword terms expanded."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from archive.errors import InvalidQueryError
from archive.search.query import WORD, ParsedQuery, content_words, parse_query
from archive.search.variants import Variants
from archive.store.interface import Filters, KeywordQuery, SearchReader
from archive.text.dates import parse_filter_date

MODES = ("hybrid", "semantic", "keyword")
MAX_K = 1000


@dataclass(frozen=True)
class SearchParams:
    """What one search asks for.

    ``per_article`` None gives one result per article (its other matching passages attached);
    a number N gives passage results, at most N per article; ``passages`` gives every matching
    passage (duplicates still collapse unless ``dedup`` is off).
    """

    query: str
    k: int = 10
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)
    dedup: bool = True
    semantic_weight: float = 1.0
    keyword_weight: float = 1.0
    per_article: int | None = None
    passages: bool = False
    min_score: float | None = None
    parsed: ParsedQuery = field(default_factory=lambda: parse_query(""))
    keyword: KeywordQuery | None = None

    @property
    def article_results(self) -> bool:
        """One result per article, the default."""
        return not self.passages and self.per_article is None


def build_params(
    reader: SearchReader,
    query: str,
    *,
    variants: Variants,
    k: int = 10,
    mode: str = "hybrid",
    since: str | None = None,
    until: str | None = None,
    outlets: Sequence[str] | None = None,
    language: str | None = None,
    dedup: bool = True,
    semantic_weight: float = 1.0,
    keyword_weight: float = 1.0,
    per_article: int | None = None,
    passages: bool = False,
    min_score: float | None = None,
) -> SearchParams:
    """Validate user input into SearchParams; unknown outlets are an error listing the known ones.

    ``dedup=False`` asks for every copy, so it implies passage results.
    """
    if not isinstance(query, str) or not query.strip():
        raise InvalidQueryError("the query is empty: give some words to search for")
    _check_int("k", k, 1, MAX_K)
    if per_article is not None:
        _check_int("per_article", per_article, 1, MAX_K)
    if mode not in MODES:
        raise InvalidQueryError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    _check_number("semantic_weight", semantic_weight, 0.0, 1e6)
    _check_number("keyword_weight", keyword_weight, 0.0, 1e6)
    if min_score is not None:
        _check_number("min_score", min_score, -1.0, 1.0)
    parsed = parse_query(query)
    if not parsed.has_positive:
        if parsed.excluded:
            raise InvalidQueryError(f"{query!r} only excludes: give at least one word to search for")
        parsed = ParsedQuery(query.strip(), (), (), ())  # punctuation only: the model still reads it
    filters = Filters(
        since=parse_filter_date(since),
        until=parse_filter_date(until, end=True),
        source_ids=_source_ids(reader, outlets),
        language=language or None,
    )
    return SearchParams(
        query=query.strip(),
        k=k,
        mode=mode,
        filters=filters,
        dedup=dedup,
        semantic_weight=semantic_weight,
        keyword_weight=keyword_weight,
        per_article=per_article,
        passages=passages or not dedup,
        min_score=min_score,
        parsed=parsed,
        keyword=keyword_query(parsed, variants),
    )


def keyword_query(parsed: ParsedQuery, variants: Variants) -> KeywordQuery | None:
    """Keyword terms of a parsed query: content words and phrases, each with its spelling variants."""
    terms: list[tuple[str, ...]] = []
    for term in [*((w,) for w in content_words(parsed.words)), *parsed.phrases]:
        alternatives = tuple(" ".join(t) for t in variants.of(term))
        if alternatives not in terms:
            terms.append(alternatives)
    excluded = tuple(dict.fromkeys(" ".join(t) for term in parsed.excluded for t in variants.of(term)))
    return KeywordQuery(tuple(terms), excluded) if terms else None


def highlight_terms(query: str, passage: str, variants: Variants | None = None) -> tuple[str, ...]:
    """Query words (not stopwords) and their spelling variants that occur in the passage, as written there."""
    return highlighted(highlight_words(query, variants), passage)


def highlight_words(query: str, variants: Variants | None = None) -> frozenset[str]:
    """The lowercased words :func:`highlight_terms` looks for: read once per search, not once per result."""
    parsed = parse_query(query)
    wanted = set(content_words(parsed.words)) | {w for phrase in parsed.phrases for w in phrase}
    if variants is not None:
        wanted |= {w for word in list(wanted) for term in variants.of((word,)) if len(term) == 1 for w in term}
    return frozenset(wanted - {w for phrase in parsed.excluded for w in phrase})


def highlighted(wanted: frozenset[str], passage: str) -> tuple[str, ...]:
    """The words of ``wanted`` (see :func:`highlight_words`) occurring in ``passage``, as written there."""
    seen: dict[str, str] = {}
    for word in WORD.findall(passage):
        low = word.lower()
        if low in wanted and low not in seen:
            seen[low] = word
    return tuple(seen.values())


def _source_ids(reader: SearchReader, outlets: Sequence[str] | None) -> tuple[int, ...] | None:
    if not outlets:
        return None
    if isinstance(outlets, str) or not all(isinstance(o, str) for o in outlets):
        raise InvalidQueryError("outlets must be a list of outlet names")
    known = reader.source_ids()
    lowered = {name.lower(): sid for name, sid in known.items()}
    missing = [o for o in outlets if o.lower() not in lowered]
    if missing:
        names = ", ".join(sorted(known)) or "none yet"
        raise InvalidQueryError(f"unknown outlet(s) {', '.join(missing)}; known outlets: {names}")
    return tuple(dict.fromkeys(lowered[o.lower()] for o in outlets))


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQueryError(f"{name} must be a whole number from {low} to {high} (got {value!r})")
    if value < low:
        raise InvalidQueryError(f"{name} must be at least {low} (got {value})")
    if value > high:
        raise InvalidQueryError(f"{name} must be at most {high} (got {value})")


def _check_number(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidQueryError(f"{name} must be a number from {low:g} to {high:g} (got {value!r})")
    if not low <= value <= high:
        raise InvalidQueryError(f"{name} must be from {low:g} to {high:g} (got {value})")
