"""The ASGI app behind `archive serve`: HTML pages and a JSON API over one archive, read-only.

Every route is a GET. The archive's connections are opened with ``PRAGMA query_only``,
so not even a bug in a page can write: writes stay in the CLI. Handlers are plain
functions, which Starlette runs in its thread pool; SQLite in WAL mode lets them read
while another process ingests.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from archive.api import Archive
from archive.config import Settings
from archive.errors import ArchiveError, ConfigError, InvalidQueryError, NotFoundError
from archive.web import json_api, pages
from archive.web.openapi import spec
from archive.web.render import environment
from archive.web.security import TokenMiddleware

log = logging.getLogger(__name__)


def open_read_only(db: str | Path | None, *, model: str | None = None, home: str | Path | None = None) -> Archive:
    """Open an existing archive for serving; a missing file is an error, never a new archive."""
    settings = Settings.resolve(db=db, model=model, home=home)
    path = settings.db_path
    if not settings.db_exists:
        raise NotFoundError(f"no archive at {path} (create it with: archive ingest -d {path} FILES)")
    archive = Archive.open(settings.db_location, model=model, home=home)
    archive.store().query_only()
    return archive


def create_app(archive: Archive, *, token: str | None = None, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The web app over ``archive`` (which the caller closes); with ``token``, every request must carry it.

    ``allowed_hosts`` limits the Host header a request may carry (400 otherwise): a local
    server without a token gets the loopback names, so that a web page elsewhere cannot
    read the archive through DNS rebinding.
    """
    archive.store().query_only()
    app = Starlette(
        routes=[
            *pages.ROUTES,
            *json_api.ROUTES,
            Route("/api/openapi.json", _openapi),
            Mount("/static", StaticFiles(packages=[("archive.web", "static")]), name="static"),
        ],
        exception_handlers={ArchiveError: _archive_error, HTTPException: _http_error, Exception: _server_error},
    )
    app.state.archive = archive
    app.state.templates = environment()
    app.state.openapi = spec()
    app.state.db_name = archive.path.name
    if token:
        app.add_middleware(TokenMiddleware, token=token)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app


def _openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.state.openapi)


def _status_for(exc: ArchiveError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InvalidQueryError | ConfigError):
        return 400
    return 500


def _error(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    html = request.app.state.templates.get_template("error.html").render(
        request=request, status=status, message=message, db_name=request.app.state.db_name
    )
    return HTMLResponse(html, status_code=status)


async def _archive_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ArchiveError)
    return _error(request, _status_for(exc), str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "no such page: see /api/docs for the API" if exc.status_code == 404 else str(exc.detail)
    if exc.status_code == 405:
        message = "this archive is read-only over HTTP: only GET requests are served"
    return _error(request, exc.status_code, message)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("error serving %s", request.url.path)
    return _error(request, 500, "internal error: the server log has the details")
