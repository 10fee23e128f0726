"""Who may talk to the server: localhost by default; a token for anything else; safe links.

A non-local bind address must come with a token, checked on every request: an
``Authorization: Bearer TOKEN`` header, a ``?token=TOKEN`` parameter (which also sets a
cookie, so that the browser's next clicks need no parameter) or that cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from archive.errors import ConfigError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "archive_token"
# Host headers a local server without a token answers (the port is not part of the match).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
LINKABLE_SCHEMES = ("http", "https")


def is_local_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve a non-local address without a token."""
    if not is_local_host(host) and not token:
        raise ConfigError(
            f"--host {host} makes the archive reachable from other machines: "
            "also pass --token SECRET (clients send 'Authorization: Bearer SECRET' or ?token=SECRET)"
        )


def safe_url(url: object) -> str | None:
    """``url`` when it is an http(s) URL that may be a link; None for javascript:, data: and the rest."""
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in LINKABLE_SCHEMES else None


def _presented(scope: Scope) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came as a query parameter."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], True
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return unquote(value), False
    return None, False


class TokenMiddleware:
    """Answer 401 to every HTTP request without the right token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given, from_query = _presented(scope)
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            await _unauthorized(send)
            return
        if not from_query:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={quote(self.token)}; Path=/; HttpOnly; SameSite=Strict"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _unauthorized(send: Send) -> None:
    body = b'{"error": "this archive needs a token: send Authorization: Bearer TOKEN or add ?token=TOKEN"}'
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b"Bearer"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
