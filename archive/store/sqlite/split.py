"""The best BM25 matches of an any-word query without scoring every row of its commonest word.

FTS5 scores every row a query matches, and a word held by a large share of the rows is most of
that work (a million passages: 120,000 rows for one word of a three-word query). A row's bm25 is a
sum over the query's phrases, a phrase the row lacks adding exactly 0, and each phrase's weight
(its IDF) depends on the whole table only. So the query is split into its commonest term C (the
one held by most rows) and the rest R, and asked as

* ``(R) AND C`` and ``(R) NOT C``: every row holding R, each scored as the whole query scores it,
  to the last bit (the phrases come in the same order, R's then C's, as in ``R OR C``);
* ``C NOT (R)`` only when needed: a row holding C alone scores less than C's bound,
  ``IDF(C) * (k1 + 1)`` (FTS5's k1 is 1.2; term frequency saturates below k1 + 1), so when the
  ``limit``-th best of the first two lists reaches the bound, no such row is among the best.

The answer is always the whole query's (``R OR C``) best ``limit`` rows; only the rows scored differ.
The split is asked only where C holds more rows than the other words together: long questions of
common words (8 to 14 news words) would read every doclist twice for little saved.
The bound takes each phrase's row count from ``selective.matching_rows`` (memoised, capped) and the
table's size as an upper bound: both can only raise it, so it stays a bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from archive.store.interface import Filters, KeywordQuery
from archive.store.sqlite import keyword, selective
from archive.store.sqlite.sql import SqlConnection, SqlSession

# Tables with at most this many rows are asked the whole query (scoring every match costs a few ms there).
SPLIT_MIN_ROWS = 50_000
_K1 = 1.2  # FTS5's bm25 constant (fts5_aux.c)


def best_matches(
    session: SqlSession,
    bm25: keyword.Bm25,
    table: str,
    rows: int,
    query: KeywordQuery,
    limit: int,
    filters: Filters,
) -> list[tuple[int, float]]:
    """``bm25``'s best ``limit`` (rowid, bm25) for ``query`` on FTS5 table ``table`` of about ``rows`` rows."""
    if query.every or len(query.terms) < 2 or rows <= SPLIT_MIN_ROWS:
        match = keyword.match_expression(query)
        return bm25(session, match, limit, filters) if match else []
    conn = session.connection()
    held = [_held(conn, table, rows, term) for term in query.terms]
    common = max(range(len(held)), key=lambda t: sum(held[t]))
    if sum(held[common]) <= sum(map(sum, held)) - sum(held[common]):
        match = keyword.match_expression(query)  # the other words hold as many rows: little to save
        return bm25(session, match, limit, filters) if match else []
    rest = keyword.match_expression(KeywordQuery(query.terms[:common] + query.terms[common + 1 :], (), False))
    word = keyword.term_expression(query.terms[common])
    excluded = f" NOT {keyword.term_expression(query.excluded)}" if query.excluded else ""

    def ask(expression: str) -> list[tuple[int, float]]:
        return bm25(session, f"({expression}){excluded}", limit, filters)

    found = _best(ask(f"({rest}) AND {word}") + ask(f"({rest}) NOT {word}"), limit)
    if len(found) < limit or -found[-1][1] < _bound(rows, held[common]):
        found = _best(found + ask(f"{word} NOT ({rest})"), limit)
    return found


def bound(conn: SqlConnection, table: str, rows: int, term: Sequence[str]) -> float:
    """At least the most any row's bm25 (as a positive score) can gain from ``term``."""
    return _bound(rows, _held(conn, table, rows, term))


def _held(conn: SqlConnection, table: str, rows: int, term: Sequence[str]) -> list[int]:
    """Rows holding each spelling of ``term`` (counted up to half the table: ``selective.matching_rows``)."""
    cap = int(selective.COMMON_SHARE * rows)
    return [selective.matching_rows(conn, table, keyword.quote(a), rows, cap) for a in term]


def _bound(rows: int, held: Sequence[int]) -> float:
    """Over a term's spellings, ``IDF * (k1 + 1)`` with FTS5's IDF, ``log((N - n + 0.5) / (n + 0.5))``
    floored at 1e-6, for spellings in ``held`` rows each of a table of at most ``rows``."""
    return sum(max(math.log((rows - n + 0.5) / (n + 0.5)), 1e-6) * (_K1 + 1) for n in held)


def _best(found: list[tuple[int, float]], limit: int) -> list[tuple[int, float]]:
    found.sort(key=lambda pair: pair[1])  # lower bm25 is better; stable for equal scores
    return found[:limit]
