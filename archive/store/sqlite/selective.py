"""Which words of an any-word keyword query FTS5 is asked for on a large table: the ones that tell rows apart.

FTS5's bm25 weights each word by its IDF, ``log((N - n + 0.5) / (n + 0.5))`` for a word in
``n`` of ``N`` rows, clamped to about zero (1e-6) past half the rows: such a word adds nothing to
any row's score, yet every word asked makes FTS5 read and score every row holding it
(natural-language questions of 8 to 14 words matched 27,000 to 74,000 of 92,628 news passages each).

So on tables above ``SELECTIVE_MIN_ROWS`` rows an any-word (OR) query first asks only its
selective words, those in at most ``COMMON_SHARE`` (half) of the rows; the caller keeps that answer
when it fills the window, and asks every word otherwise (when no word is selective, nothing is
narrowed). Which words are left out depends on the query and the archive, never on the window,
so the top k still never depends on k. All-word (AND) queries keep every word: each one narrows
the match. Exclusions are kept as given.

A fifth of the rows (this module's first threshold) also left out words that still weigh up to 1.4,
which cost SciFact's keyword and hybrid rankings (README, Performance, ninth round).

Row counts are memoised per process by (database file, table, size of the table, words, cap): a
count is one capped FTS5 scan (at most ``COMMON_SHARE`` of the rows), paid once per word and archive size.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from archive.store.interface import KeywordQuery
from archive.store.sqlite.driver import database_file
from archive.store.sqlite.keyword import term_expression
from archive.store.sqlite.sql import SqlConnection, SqlSession

# Tables with at most this many rows are asked every word (a full OR scan is a few milliseconds there).
SELECTIVE_MIN_ROWS = 5_000
# A word in more than this share of the table's rows is not asked: its IDF is clamped to about zero.
COMMON_SHARE = 0.5
_MEMO_SIZE = 8192

_memo: OrderedDict[tuple[str, str, int, str, int], int] = OrderedDict()
_memo_lock = threading.Lock()


def narrowed(session: SqlSession, table: str, query: KeywordQuery, rows: int) -> KeywordQuery | None:
    """``query`` without its common words; None when nothing is left out (ask ``query`` as it is).

    ``rows`` is the table's size (an upper bound such as its highest rowid will do).
    """
    if query.every or len(query.terms) < 2 or rows <= SELECTIVE_MIN_ROWS:
        return None
    cap = int(COMMON_SHARE * rows)
    conn = session.connection()
    kept = tuple(t for t in query.terms if matching_rows(conn, table, term_expression(t), rows, cap) <= cap)
    if not kept or len(kept) == len(query.terms):
        return None
    return KeywordQuery(kept, query.excluded, False)


def matching_rows(conn: SqlConnection, table: str, match: str, rows: int, cap: int) -> int:
    """Rows of FTS5 table ``table`` matching ``match``, counted up to ``cap + 1`` (memoised, see module doc)."""
    key = (database_file(conn), table, rows, match, cap)
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ? LIMIT ?)"
    count = int(conn.exec_driver_sql(sql, (match, cap + 1)).scalar() or 0)
    with _memo_lock:
        _memo[key] = count
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return count
