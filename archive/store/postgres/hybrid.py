"""Hybrid search on PostgreSQL in one statement: the four candidate lists and their fusion.

The same method as ``archive.search.fusion`` (which SQLite runs in Python): each list is a CTE
ranked with ``row_number()``; a story (canonical article) takes the rank of its best entry in
each list; its score is ``weight / (rrf_k + rank)`` summed over the lists in fusion's order
(passage cosine, article cosine, article keyword, passage keyword), so the floats are the ones
Python adds. Passages get the same fusion over the two passage lists. Depths, weights and
``rrf_k`` come with the :class:`HybridRequest`; none are defined here.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from archive.store.interface import KNN_MAX_K, HybridCandidates, HybridRequest
from archive.store.postgres.search import (
    article_filters,
    article_match_sql,
    ef_search,
    nearest_sql,
    passage_match_sql,
    query_sql,
    set_scan,
    vector_filters,
    vector_literal,
)
from archive.store.sqlite.vtables import article_table_for

# One letter per list, in fusion's order for stories; passage lists are s and k.
STORY_ORDER = ("s", "v", "a", "k")
PASSAGE_LISTS = ("s", "k")
KEYWORD_LISTS = ("k", "a")


def hybrid_candidates(session: Session, request: HybridRequest, table: str, *, articles: bool) -> HybridCandidates:
    """The lists of ``request`` from passage vector table ``table`` (article vectors too when ``articles``)."""
    params: dict[str, object] = {"rrf_k": int(request.rrf_k)}
    lists = _list_ctes(session, request, table, articles, params)
    found: dict[str, list[tuple[int, float]]] = {name: [] for name in STORY_ORDER}
    scores: dict[str, dict[int, float]] = {"S": {}, "P": {}}
    if lists:
        for kind, item, value, shown, _rank in session.execute(text(_fusion_sql(request, lists, params)), params):
            if kind in scores:
                scores[kind][int(item)] = float(value)
            else:
                found[kind].append((int(item), float(value if shown is None else shown)))
    return HybridCandidates(found["s"], found["k"], found["a"], found["v"], scores["S"], scores["P"])


def _list_ctes(
    session: Session, request: HybridRequest, table: str, articles: bool, params: dict[str, object]
) -> dict[str, str]:
    """CTE text by list letter (each gives ``id, score`` best first); the vector ones set the HNSW scan."""
    ctes: dict[str, str] = {}
    if request.vector is not None:
        where, vector_params = vector_filters(request.filters)
        params.update(vector_params, q=vector_literal(request.vector))
        params["semantic_depth"] = semantic_depth = int(min(request.semantic_depth, KNN_MAX_K))
        ctes["s"] = nearest_sql(table, "chunk_id", where, ":semantic_depth", column="score")
        ef = ef_search(semantic_depth)
        if articles and request.article_depth > 0:
            params["article_depth"] = article_depth = int(min(request.article_depth, KNN_MAX_K))
            ctes["v"] = nearest_sql(article_table_for(table), "article_id", where, ":article_depth", column="score")
            ef = max(ef, ef_search(article_depth))  # one statement, one candidate list: the wider
        set_scan(session, ef)
    where = article_filters(request.filters, params)
    if request.keyword is not None:
        keyword = _keyword_cte(request, where, params)
        if keyword is not None:
            ctes["k"] = keyword
    if request.article_keyword is not None and request.article_depth > 0:
        tsquery = query_sql(request.article_keyword, params, prefix="a")  # not the passage query's names
        if tsquery is not None:
            params["article_depth"] = int(min(request.article_depth, KNN_MAX_K))
            ctes["a"] = (
                f"MATERIALIZED (WITH aq AS (SELECT {tsquery} AS q) {article_match_sql('aq', where, ':article_depth')})"
            )
    return ctes


def _keyword_cte(request: HybridRequest, where: str, params: dict[str, object]) -> str | None:
    """Passage keyword matches: any term, or (``every_first``) every term when those fill the list."""
    assert request.keyword is not None
    params["depth"] = int(request.depth)
    any_query = query_sql(request.keyword.with_every(False), params)
    if any_query is None:
        return None
    any_sql = f"(WITH kq AS (SELECT {any_query} AS q) {passage_match_sql('kq', where, ':depth')})"
    if not request.every_first:
        return f"MATERIALIZED {any_sql}"
    every_query = query_sql(request.keyword.with_every(True), {})  # same terms, same parameter names
    every_sql = f"(WITH eq AS (SELECT {every_query} AS q) {passage_match_sql('eq', where, ':depth')})"
    # Both branches are planned, but a false one-time filter keeps the OR scan from running.
    return (
        f"MATERIALIZED (WITH every AS MATERIALIZED {every_sql}, filled AS (SELECT count(*) >= :depth AS f FROM every) "
        "SELECT id, score FROM every WHERE (SELECT f FROM filled) "
        f"UNION ALL SELECT id, score FROM {any_sql} AS any_word WHERE NOT (SELECT f FROM filled))"
    )


def _fusion_sql(request: HybridRequest, lists: dict[str, str], params: dict[str, object]) -> str:
    """The statement: the lists ranked, stories and passages fused, all as (kind, id, value) rows."""
    weights = dict(zip(STORY_ORDER, request.story_weights))
    passage_weights = dict(zip(PASSAGE_LISTS, request.passage_weights))
    for name in STORY_ORDER:
        params[f"w_{name}"] = float(weights[name])
    for name in PASSAGE_LISTS:
        params[f"pw_{name}"] = float(passage_weights[name])
    params["story_lists"] = [n for n in lists if weights[n] > 0]
    params["passage_lists"] = [n for n in lists if n in PASSAGE_LISTS and passage_weights[n] > 0]
    # Keyword scores are real: they come back as such (``shown``), as passage_keyword gives them.
    ranked = " UNION ALL ".join(
        f"SELECT '{name}'::text AS list, id, score::float8 AS score, "
        f"{'score' if name in KEYWORD_LISTS else 'NULL'}::real AS shown, "
        "row_number() OVER (ORDER BY score, id) AS rank "
        f"FROM l_{name}"
        for name in lists
    )
    story_terms = " + ".join(_term(f"w_{n}", n) for n in STORY_ORDER)
    passage_terms = " + ".join(_term(f"pw_{n}", n) for n in PASSAGE_LISTS)
    return (
        "WITH " + "".join(f"l_{name} AS {cte}, " for name, cte in lists.items()) + f"lists AS ({ranked}), "
        "hits AS (SELECT l.list, coalesce(a.canonical_id, a.id) AS story, min(l.rank) AS first FROM lists l "
        "JOIN chunks c ON c.id = l.id JOIN articles a ON a.id = c.article_id "
        "WHERE l.list IN ('s', 'k') AND l.list = ANY(:story_lists) GROUP BY 1, 2 "
        "UNION ALL SELECT l.list, coalesce(a.canonical_id, a.id), min(l.rank) FROM lists l "
        "JOIN articles a ON a.id = l.id WHERE l.list IN ('a', 'v') AND l.list = ANY(:story_lists) GROUP BY 1, 2), "
        "story_ranks AS (SELECT list, story AS id, row_number() OVER (PARTITION BY list ORDER BY first) AS rank "
        "FROM hits) "
        "SELECT list, id, score, shown, rank FROM lists "
        f"UNION ALL SELECT 'S', id, {story_terms}, NULL, 0 FROM story_ranks GROUP BY id "
        f"UNION ALL SELECT 'P', id, {passage_terms}, NULL, 0 FROM lists WHERE list = ANY(:passage_lists) GROUP BY id "
        "ORDER BY 1, 5, 2"
    )


def _term(weight: str, name: str) -> str:
    """One list's ``weight / (rrf_k + rank)``, 0 where the id is not in it (x + 0 is x: the sum stays exact)."""
    return (
        f"coalesce(CAST(:{weight} AS double precision) / "
        f"(CAST(:rrf_k AS integer) + min(rank) FILTER (WHERE list = '{name}')), 0)"
    )
