"""The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json, readable at /api/docs)."""

from __future__ import annotations

from typing import Any

from archive.search.coverage import DEFAULT_LIMIT, MAX_LIMIT
from archive.web.params import MAX_K, PAGE_SIZE


def _param(name: str, description: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


_Q = _param("q", "The words to search for.", {"type": "string"}, required=True)
_FILTERS = [
    _param("since", "Only articles published on/after this date (YYYY, YYYY-MM or YYYY-MM-DD).", {"type": "string"}),
    _param("until", "Only articles published on/before this date (inclusive).", {"type": "string"}),
    _param("outlet", "Only this outlet (repeat for several).", {"type": "array", "items": {"type": "string"}}),
    _param("language", "Only articles in this language (where known).", {"type": "string"}),
]
_MODE = {"type": "string", "enum": ["hybrid", "semantic", "keyword"]}
_COVERAGE = [
    _param(
        "mode",
        "keyword (default): every article containing every query word; semantic or hybrid: "
        "the articles of the best `limit` passages of that search.",
        {**_MODE, "default": "keyword"},
    ),
    _param(
        "limit",
        "Passages searched in semantic/hybrid mode.",
        {"type": "integer", "default": DEFAULT_LIMIT, "maximum": MAX_LIMIT},
    ),
]
_ERRORS = {
    "400": {"description": 'A bad parameter: `{"error": "...what to send instead"}`.'},
    "401": {"description": "The server was started with --token and the request has none or a wrong one."},
}


def _get(summary: str, params: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {"200": {"description": "OK"}, **_ERRORS, **(extra or {})},
        }
    }


def spec() -> dict[str, Any]:
    not_found = {"404": {"description": "No article with this id."}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "conflict-archive", "version": "1", "description": "Read-only access to a news archive."},
        "paths": {
            "/api/search": _get(
                "Passages matching q: one result per duplicate group, every source, earliest first.",
                [
                    _Q,
                    _param("mode", "How to match.", {**_MODE, "default": "hybrid"}),
                    _param("k", "Number of results.", {"type": "integer", "default": PAGE_SIZE, "maximum": MAX_K}),
                    _param(
                        "sort",
                        "score (default), date (earliest first) or -date.",
                        {"type": "string", "enum": ["score", "date", "-date"]},
                    ),
                    _param("dedup", "false shows every copy.", {"type": "boolean", "default": True}),
                    *_FILTERS,
                ],
            ),
            "/api/context": _get(
                "Numbered, cited passages for an LLM prompt within max_tokens.",
                [
                    _Q,
                    _param("max_tokens", "Token budget.", {"type": "integer", "default": 1500}),
                    _param("k", "Results quoted at most.", {"type": "integer", "default": 8}),
                    *_FILTERS,
                ],
            ),
            "/api/articles/{article_id}": {
                "get": {
                    "summary": "An article: cleaned text, metadata and every copy; with chunk, the passage's offsets.",
                    "parameters": [
                        {"name": "article_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                        _param("chunk", "A chunk_id from a search result.", {"type": "integer"}),
                    ],
                    "responses": {"200": {"description": "OK"}, **_ERRORS, **not_found},
                }
            },
            "/api/facets": _get("Matching articles counted per outlet and per month.", [_Q, *_COVERAGE, *_FILTERS]),
            "/api/timeline": _get(
                "Matching articles per day/week/month and per outlet, with the earliest report.",
                [
                    _Q,
                    _param(
                        "by", "Bucket size.", {"type": "string", "enum": ["day", "week", "month"], "default": "month"}
                    ),
                    *_COVERAGE,
                    *_FILTERS,
                ],
            ),
            "/api/outlets": _get("Every outlet with its number of articles and first/last date.", []),
            "/api/stats": _get("Counts, date span, size and model of the archive.", []),
            "/api/doctor": _get("Health checks, each ok/warn/fail with a fix.", []),
            "/api/duplicates": _get(
                "Duplicate groups, largest first.",
                [_param("limit", "Groups at most.", {"type": "integer", "default": 50})],
            ),
        },
    }
