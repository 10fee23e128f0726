"""The MCP server: its tools, called the way an agent calls them (in memory and over stdio)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from archive import Archive
from archive.web.mcp import build_mcp_server
from archive.web.security import TokenMiddleware
from tests.web_helpers import sample_archive, served

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def sample(tmp_path: Path) -> Iterator[Archive]:
    archive = sample_archive(tmp_path / "mcp.db")
    yield archive
    archive.close()


def _payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result
    data: dict[str, Any] = json.loads(result.content[0].text)
    return data


async def _call_all(target: Any) -> dict[str, Any]:
    async with Client(target) as client:
        tools = await client.list_tools()
        search = await client.call_tool("search", {"query": "drones cut power in Odesa", "k": 2})
        first = _payload(search)["results"][0]
        article = await client.call_tool("get_article", {"article_id": first["article_id"]})
        context = await client.call_tool("context", {"query": "drones Odesa", "max_tokens": 200})
        timeline = await client.call_tool("timeline", {"query": "drones", "by": "day"})
        missing = await client.call_tool("get_article", {"article_id": 99999})
        bad = await client.call_tool("timeline", {"query": "drones", "by": "year"})
    return {
        "tools": sorted(t.name for t in tools.tools),
        "search": _payload(search),
        "article": _payload(article),
        "context": _payload(context),
        "timeline": _payload(timeline),
        "missing": missing,
        "bad": bad,
    }


async def _call_over_http(url: str, token: str) -> dict[str, Any]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        return await _call_all(streamable_http_client(url, http_client=http))


def test_mcp_tools_return_the_librarys_json(sample: Archive) -> None:
    got = anyio.run(_call_all, build_mcp_server(sample))
    assert got["tools"] == ["context", "get_article", "search", "timeline"]
    assert len(got["search"]["results"]) == 2 and got["search"]["results"][0]["source_count"] == 3
    assert got["article"]["text"] and got["article"]["article_id"] == got["search"]["results"][0]["article_id"]
    assert got["context"]["text"].startswith("[1]")
    assert got["timeline"]["total"] == 3 and got["timeline"]["earliest"]["outlet"] == "Example Wire"
    assert got["missing"].is_error and "no article with id 99999" in got["missing"].content[0].text
    assert got["bad"].is_error and "day, week or month" in got["bad"].content[0].text


def test_archive_mcp_serves_the_tools_over_stdio(sample: Archive, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ARCHIVE_DB": str(sample.path)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "archive", "mcp"], env=env, cwd=str(tmp_path))
    got = anyio.run(_call_all, params)
    assert got["tools"] == ["context", "get_article", "search", "timeline"]
    assert got["timeline"]["total"] == 3


def test_mcp_over_http_answers_with_the_token_and_refuses_without(sample: Archive) -> None:
    app = TokenMiddleware(build_mcp_server(sample).streamable_http_app(), "s3cret")
    with served(app) as base:
        assert httpx.post(base + "/mcp", json={}, timeout=10).status_code == 401
        got = anyio.run(_call_over_http, base + "/mcp", "s3cret")
    assert got["tools"] == ["context", "get_article", "search", "timeline"]
    assert got["search"]["results"][0]["source_count"] == 3
