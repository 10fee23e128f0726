"""`archive serve` (web page and JSON API) and `archive mcp` (tools for LLM agents): read-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from archive.cli import cli
from archive.cli.common import db_options, friendly_errors

F = TypeVar("F", bound=Callable[..., Any])


def _token_option(func: F) -> F:
    return click.option(
        "--token",
        envvar="ARCHIVE_TOKEN",
        help="Require this token on every request (header 'Authorization: Bearer T' or ?token=T); "
        "needed for a non-local --host [env ARCHIVE_TOKEN].",
    )(func)


@cli.command()
@db_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (local by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@_token_option
def serve(db: str | None, model: str | None, home: str | None, host: str, port: int, token: str | None) -> None:
    """Serve the archive read-only: search page with facets and timelines, JSON API, OpenAPI docs.

    Writes stay in the CLI: the server keeps answering while `archive ingest` adds articles.

    \b
    Examples:
      archive serve -d news.db                       # then open http://127.0.0.1:8080/
      curl 'http://127.0.0.1:8080/api/search?q=grain+deal&k=3'
      archive serve --host 0.0.0.0 --token "$(openssl rand -hex 16)"
    """
    from archive.web.app import open_read_only
    from archive.web.security import check_bind
    from archive.web.serve import check_port, serve_web

    with friendly_errors():
        check_bind(host, token)
        check_port(host, port)
        archive = open_read_only(db, model=model, home=home)
    click.echo(f"serving {archive.path} at http://{host}:{port}/ (API docs at /api/docs; Ctrl-C stops)", err=True)
    try:
        with friendly_errors():
            serve_web(archive, host=host, port=port, token=token)
    finally:
        archive.close()


@cli.command()
@db_options
@click.option(
    "--http", "over_http", is_flag=True, help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="With --http: address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="With --http: port.")
@_token_option
def mcp(
    db: str | None, model: str | None, home: str | None, over_http: bool, host: str, port: int, token: str | None
) -> None:
    """MCP server for LLM agents: tools search, context, get_article and timeline (read-only).

    \b
    Examples:
      archive mcp -d news.db                         # stdio: what an agent's config starts
      archive mcp -d news.db --http --port 8765      # http://127.0.0.1:8765/mcp
    """
    from archive.web.app import open_read_only
    from archive.web.serve import serve_mcp_http, serve_mcp_stdio

    with friendly_errors():
        archive = open_read_only(db, model=model, home=home)
    try:
        with friendly_errors():
            if over_http:
                click.echo(f"MCP over HTTP at http://{host}:{port}/mcp (Ctrl-C stops)", err=True)
                serve_mcp_http(archive, host=host, port=port, token=token)
            else:
                serve_mcp_stdio(archive)
    finally:
        archive.close()
