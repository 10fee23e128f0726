"""The HTML pages: search (with facets and a timeline), timeline, article, duplicates, outlets, stats."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from archive.search.coverage import sort_results
from archive.web.json_api import archive_of
from archive.web.params import PAGE_LIMIT, PAGE_SIZE, SearchForm, search_form, whole_number
from archive.web.render import result_dicts


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env = request.app.state.templates
    html = env.get_template(template).render(request=request, db_name=request.app.state.db_name, **context)
    return HTMLResponse(html, status_code=status)


def search(request: Request) -> HTMLResponse:
    form = search_form(request.query_params, limit=PAGE_LIMIT)
    if not form.q:
        return page(request, "search.html", form=form, outlets=archive_of(request).outlets())
    archive = archive_of(request)
    results = sort_results(archive.search(form.q, k=form.k, mode=form.mode, **form.filters()), form.sort)
    # The timeline's outlet and month counts are the facets: one pass over the matching articles.
    timeline = archive.timeline(form.q, by=form.by, mode=form.coverage, limit=form.limit, **form.filters())
    return page(
        request,
        "search.html",
        form=form,
        results=result_dicts(results),
        timeline=timeline,
        more=form.link(k=form.k + PAGE_SIZE) if len(results) >= form.k else None,
        outlet_links=_outlet_links(form, [*(f.value for f in timeline.outlets), *form.outlets]),
    )


def _outlet_links(form: SearchForm, names: list[str]) -> dict[str, str]:
    """Per outlet, the link that adds it to the filter (or removes it when already there)."""
    links = {}
    for name in names:
        chosen = tuple(o for o in form.outlets if o != name) if name in form.outlets else (*form.outlets, name)
        links[name] = form.link(outlet=chosen, k=None)
    return links


def timeline(request: Request) -> HTMLResponse:
    form = search_form(request.query_params, limit=PAGE_LIMIT)
    found = None
    if form.q:
        found = archive_of(request).timeline(form.q, by=form.by, mode=form.coverage, limit=form.limit, **form.filters())
    return page(request, "timeline.html", form=form, timeline=found)


def article(request: Request) -> HTMLResponse:
    archive = archive_of(request)
    article_id = whole_number(request.path_params, "article_id", 0, 1, 2**62)
    view = archive.article(article_id)
    span = None
    if request.query_params.get("chunk"):
        span = archive.chunk_span(whole_number(request.query_params, "chunk", 0, 1, 2**62))
    groups = archive.duplicates(article_id, limit=1)
    return page(
        request,
        "article.html",
        view=view,
        span=span,
        group=groups[0] if groups else None,
        q=request.query_params.get("q", ""),
    )


def duplicates(request: Request) -> HTMLResponse:
    limit = whole_number(request.query_params, "limit", 50, 1, 1000)
    return page(request, "duplicates.html", groups=archive_of(request).duplicates(limit=limit))


def outlets(request: Request) -> HTMLResponse:
    return page(request, "outlets.html", outlets=archive_of(request).outlets())


def stats(request: Request) -> HTMLResponse:
    archive = archive_of(request)
    return page(request, "stats.html", stats=archive.stats(), doctor=archive.doctor())


def api_docs(request: Request) -> HTMLResponse:
    return page(request, "api.html", spec=request.app.state.openapi)


ROUTES = [
    Route("/", search),
    Route("/timeline", timeline),
    Route("/articles/{article_id}", article),
    Route("/duplicates", duplicates),
    Route("/outlets", outlets),
    Route("/stats", stats),
    Route("/api/docs", api_docs),
]
