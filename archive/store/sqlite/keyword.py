"""Keyword matching in FTS5: MATCH expressions built from a KeywordQuery, BM25 over passages and articles.

User text never reaches MATCH as syntax: every alternative is a quoted FTS5 string (a phrase
when it holds several words), so ``U.S.``, ``AND``, ``*`` or a stray parenthesis are plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from archive.store.interface import Filters, KeywordQuery, in_batches
from archive.store.sqlite.sql import SqlSession
from archive.store.sqlite.vtables import ARTICLE_FTS_TABLE, FTS_TABLE
from archive.text.dates import key_to_iso

# bm25() column weights of fts_articles (title, text): a word in the headline counts as much as
# several in the body, as a reader scanning headlines would weigh it.
ARTICLE_TITLE_WEIGHT = 4.0

# (session, MATCH expression, limit, filters) -> (rowid, bm25) best first: fts and fts_articles.
Bm25 = Callable[[SqlSession, str, int, Filters], list[tuple[int, float]]]


def quote(alternative: str) -> str:
    """One FTS5 string: a word or, with spaces, a phrase."""
    return '"' + alternative.replace('"', '""') + '"'


def term_expression(alternatives: Sequence[str]) -> str:
    """A term matching any of its spelling variants."""
    quoted = [quote(a) for a in alternatives]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


def match_expression(query: KeywordQuery) -> str | None:
    """The MATCH expression of ``query``; None when it has no positive term (nothing can match)."""
    if not query.terms:
        return None
    joined = (" AND " if query.every else " OR ").join(term_expression(t) for t in query.terms)
    if query.excluded:
        grouped = f"({joined})" if len(query.terms) > 1 else joined
        return f"{grouped} NOT {term_expression(query.excluded)}"
    return joined


def fts(session: SqlSession, match: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
    """(chunk_id, bm25) of the best passage matches passing the filters (lower bm25 is better)."""
    return _bm25(session, FTS_TABLE, "c.article_id", match, limit, filters)


def fts_articles(session: SqlSession, match: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
    """(article_id, bm25) of whole articles (headline weighted) matching, best first."""
    return _bm25(session, ARTICLE_FTS_TABLE, "f.rowid", match, limit, filters, weights=(ARTICLE_TITLE_WEIGHT, 1.0))


def articles_matching(session: SqlSession, alternatives: Sequence[str], article_ids: Sequence[int]) -> set[int]:
    """Which of ``article_ids`` hold any of ``alternatives`` in headline or text."""
    if not alternatives or not article_ids:
        return set()
    found: set[int] = set()
    match = term_expression(alternatives)
    conn = session.connection()
    for part in in_batches(sorted(set(article_ids))):
        sql = f"SELECT rowid FROM {ARTICLE_FTS_TABLE} WHERE {ARTICLE_FTS_TABLE} MATCH ? AND rowid IN ({','.join('?' * len(part))})"
        found.update(int(r[0]) for r in conn.exec_driver_sql(sql, (match, *part)))
    return found


def _bm25(
    session: SqlSession,
    table: str,
    article_column: str,
    match: str,
    limit: int,
    filters: Filters,
    *,
    weights: tuple[float, ...] = (),
) -> list[tuple[int, float]]:
    clauses = [f"{table} MATCH ?"]
    params: list[object] = [match]
    if filters.since is not None:
        clauses.append("a.published_at >= ?")
        params.append(key_to_iso(filters.since))
    if filters.until is not None:
        clauses.append("substr(a.published_at, 1, 10) <= ?")
        params.append(key_to_iso(filters.until))
    if filters.source_ids is not None:
        clauses.append(f"a.source_id IN ({','.join('?' * len(filters.source_ids))})")
        params.extend(int(s) for s in filters.source_ids)
    if filters.language:
        clauses.append("a.language = ?")
        params.append(filters.language)
    join = ""
    if len(clauses) > 1:
        passages = table == FTS_TABLE
        join = ("JOIN chunks c ON c.id = f.rowid " if passages else "") + f"JOIN articles a ON a.id = {article_column} "
    score = f"bm25({table}{''.join(f', {w}' for w in weights)})"
    best = f"SELECT f.rowid AS id, {score} AS score FROM {table} f {join}WHERE {' AND '.join(clauses)} ORDER BY score LIMIT ?"
    params.append(int(limit))
    return _pairs(session.connection().exec_driver_sql(_ONE_ROW.format(best), tuple(params)).scalar())


# The list as one row, "id score id score ...", where one row per match would take the GIL back once per row
# (the DB-API driver lets it go around every step): with the query embedding on another thread, as a hybrid
# search runs, each of those waits for that thread. "%!.17g" prints a double that reads back the same.
_ONE_ROW = "SELECT group_concat(id || ' ' || printf('%!.17g', score), ' ') FROM ({})"


def _pairs(joined: str | None) -> list[tuple[int, float]]:
    """(rowid, bm25) from ``_ONE_ROW``'s text, best first (the order of its inner statement)."""
    words = joined.split() if joined else []
    pairs = [(int(i), float(s)) for i, s in zip(words[::2], words[1::2], strict=True)]
    # SQLite concatenates in its inner statement's order; the stable sort (linear on sorted input) makes sure.
    pairs.sort(key=lambda pair: pair[1])
    return pairs
