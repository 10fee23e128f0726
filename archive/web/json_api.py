"""The JSON API: the library's results as ``to_dict()`` gives them, under /api/.

Every endpoint is a GET and reads only. Bad parameters answer 400 with ``{"error": ...}``
saying what to send instead; unknown ids answer 404.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from archive.api import Archive
from archive.search.coverage import sort_results
from archive.search.rag import RagContext
from archive.web.params import choice, required_query, search_form, whole_number

MAX_CONTEXT_TOKENS = 100_000


def archive_of(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


def search(request: Request) -> JSONResponse:
    form = search_form(request.query_params)
    dedup = choice(request.query_params, "dedup", "true", ("true", "false")) == "true"
    results = archive_of(request).search(required_query(form), k=form.k, mode=form.mode, dedup=dedup, **form.filters())
    ordered = sort_results(results, form.sort)
    return JSONResponse(
        {"query": form.q, "mode": form.mode, "k": form.k, "sort": form.sort, "results": [r.to_dict() for r in ordered]}
    )


def context(request: Request) -> JSONResponse:
    form = search_form(request.query_params)
    max_tokens = whole_number(request.query_params, "max_tokens", 1500, 1, MAX_CONTEXT_TOKENS)
    k = whole_number(request.query_params, "k", 8, 1, 100)
    ctx = archive_of(request).context(
        required_query(form), max_tokens=max_tokens, k=k, mode=form.mode, **form.filters()
    )
    return JSONResponse(context_dict(ctx))


def context_dict(ctx: RagContext) -> dict[str, Any]:
    return {
        "query": ctx.query,
        "text": ctx.text,
        "token_count": ctx.token_count,
        "max_tokens": ctx.max_tokens,
        "dropped": ctx.dropped,
        "sources": [{"number": c.number, "sources": [asdict(s) for s in c.sources]} for c in ctx.sources],
        "results": [r.to_dict() for r in ctx.results],
    }


def article(request: Request) -> JSONResponse:
    return JSONResponse(article_dict(archive_of(request), request))


def article_dict(archive: Archive, request: Request) -> dict[str, Any]:
    article_id = whole_number(request.path_params, "article_id", 0, 1, 2**62)
    chunk = request.query_params.get("chunk")
    view = archive.article(article_id)
    data = view.to_dict()
    if chunk:
        start, end = archive.chunk_span(whole_number(request.query_params, "chunk", 0, 1, 2**62))
        data["passage"] = {"chunk_id": int(chunk), "char_start": start, "char_end": end}
    return data


def facets(request: Request) -> JSONResponse:
    form = search_form(request.query_params)
    mode = choice(request.query_params, "mode", "keyword", ("keyword", "semantic", "hybrid"))
    found = archive_of(request).facets(required_query(form), mode=mode, limit=form.limit, **form.filters())
    return JSONResponse(found.to_dict())


def timeline(request: Request) -> JSONResponse:
    form = search_form(request.query_params)
    mode = choice(request.query_params, "mode", "keyword", ("keyword", "semantic", "hybrid"))
    found = archive_of(request).timeline(
        required_query(form), by=form.by, mode=mode, limit=form.limit, **form.filters()
    )
    return JSONResponse(found.to_dict())


def outlets(request: Request) -> JSONResponse:
    return JSONResponse({"outlets": [o.to_dict() for o in archive_of(request).outlets()]})


def stats(request: Request) -> JSONResponse:
    return JSONResponse(archive_of(request).stats())


def doctor(request: Request) -> JSONResponse:
    return JSONResponse(archive_of(request).doctor().to_dict())


def duplicates(request: Request) -> JSONResponse:
    limit = whole_number(request.query_params, "limit", 50, 1, 1000)
    return JSONResponse({"groups": [g.to_dict() for g in archive_of(request).duplicates(limit=limit)]})


ROUTES = [
    Route("/api/search", search),
    Route("/api/context", context),
    Route("/api/articles/{article_id}", article),
    Route("/api/facets", facets),
    Route("/api/timeline", timeline),
    Route("/api/outlets", outlets),
    Route("/api/stats", stats),
    Route("/api/doctor", doctor),
    Route("/api/duplicates", duplicates),
]
