"""Running the web app and the MCP server with uvicorn (what `archive serve` and `archive mcp` call)."""

from __future__ import annotations

import errno
import socket
from typing import Any

import anyio
import uvicorn

from archive.api import Archive
from archive.errors import ConfigError
from archive.web.app import create_app
from archive.web.security import LOOPBACK_NAMES, TokenMiddleware, check_bind, is_local_host


def check_port(host: str, port: int) -> None:
    """Fail early, with the fix, when ``host:port`` cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is in use: pick another with --port") from None
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): check --host and --port") from None


def serve_web(archive: Archive, *, host: str, port: int, token: str | None) -> None:
    """Serve the web app until interrupted."""
    check_bind(host, token)
    check_port(host, port)
    hosts = LOOPBACK_NAMES if is_local_host(host) and not token else None
    _run(create_app(archive, token=token, allowed_hosts=hosts), host, port)


def serve_mcp_http(archive: Archive, *, host: str, port: int, token: str | None) -> None:
    """Serve the MCP tools over streamable HTTP at http://HOST:PORT/mcp until interrupted."""
    from archive.web.mcp import build_mcp_server

    check_bind(host, token)
    check_port(host, port)
    app: Any = build_mcp_server(archive).streamable_http_app()
    _run(TokenMiddleware(app, token) if token else app, host, port)


def serve_mcp_stdio(archive: Archive) -> None:
    """Serve the MCP tools on stdin/stdout (what an agent that starts `archive mcp` talks to)."""
    from archive.web.mcp import build_mcp_server

    anyio.run(build_mcp_server(archive).run_stdio_async)


def _run(app: Any, host: str, port: int) -> None:
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
