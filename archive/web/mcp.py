"""The MCP server behind `archive mcp`: tools for LLM agents over one archive, read-only.

Tools: ``search``, ``context`` (cited passages for a prompt), ``get_article`` and ``timeline``.
Each returns the library's JSON (``to_dict()``); a bad argument comes back as a tool error
whose message says what to send instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from archive.api import Archive
from archive.errors import ArchiveError
from archive.web.json_api import context_dict

T = TypeVar("T")
INSTRUCTIONS = (
    "A searchable archive of conflict news. `search` finds passages (one per story, with every outlet "
    "that carried it, earliest first); `context` gives numbered, cited passages to answer from; "
    "`get_article` reads a whole article; `timeline` counts matching articles per day/week/month and outlet. "
    "Dates are YYYY, YYYY-MM or YYYY-MM-DD; cite outlets and URLs from the results."
)


@contextmanager
def _tool_errors() -> Iterator[None]:
    try:
        yield
    except ArchiveError as exc:
        raise ToolError(str(exc)) from None


def _call(fn: Callable[[], T]) -> T:
    with _tool_errors():
        return fn()


def build_mcp_server(archive: Archive) -> MCPServer:
    """An MCP server whose tools read ``archive`` (which the caller keeps open, and closes)."""
    archive.store().query_only()
    server: MCPServer = MCPServer("conflict-archive", instructions=INSTRUCTIONS)

    @server.tool()
    def search(
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        since: str | None = None,
        until: str | None = None,
        outlets: list[str] | None = None,
    ) -> dict[str, Any]:
        """Search the archive's passages; mode is hybrid, semantic or keyword; outlets filters by outlet names."""
        found = _call(
            lambda: archive.search(query, k=min(k, 100), mode=mode, since=since, until=until, outlets=outlets)
        )
        return {"query": query, "results": [r.to_dict() for r in found]}

    @server.tool()
    def context(
        query: str, max_tokens: int = 1500, k: int = 8, since: str | None = None, until: str | None = None
    ) -> dict[str, Any]:
        """Numbered, cited passages answering ``query`` within ``max_tokens`` tokens: answer from them, cite [n]."""
        ctx = _call(lambda: archive.context(query, max_tokens=max_tokens, k=min(k, 50), since=since, until=until))
        return context_dict(ctx)

    @server.tool()
    def get_article(article_id: int) -> dict[str, Any]:
        """An article's cleaned text, outlet, URL, date and every stored copy (ids come from search results)."""
        return _call(lambda: archive.article(article_id)).to_dict()

    @server.tool()
    def timeline(
        query: str,
        by: str = "month",
        mode: str = "keyword",
        since: str | None = None,
        until: str | None = None,
        outlets: list[str] | None = None,
    ) -> dict[str, Any]:
        """Matching articles per day, week or month and per outlet, with the earliest report.

        keyword mode counts every article containing every query word; semantic/hybrid the best 1000 passages.
        """
        found = _call(lambda: archive.timeline(query, by=by, mode=mode, since=since, until=until, outlets=outlets))
        return found.to_dict()

    return server
