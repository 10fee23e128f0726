"""Safe HTTP for feeds and pages: public addresses only, one deadline per request, capped bodies.

Every connection resolves its host and refuses loopback, private, link-local,
multicast, reserved and unspecified addresses, unless the user allowed them
(``--allow-private`` / ``ARCHIVE_ALLOW_PRIVATE``). The check happens where the
socket connects, so the first request, every redirect and a DNS answer that
changes between two lookups are all covered, and the socket connects to the
address that was checked. A watchdog closes the socket when the whole request
(connect, headers, body) passes its deadline: a per-read timeout alone lets a
server that trickles one byte every few seconds hold the writer lock forever.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from archive.errors import IngestError

USER_AGENT = "conflict-archive/0.1 (+feed reader; urllib)"
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
_READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class FetchLimits:
    """How long and how much one request may take, and whether private networks are reachable."""

    timeout: float = 20.0  # seconds per socket operation
    deadline: float = 60.0  # seconds for the whole request, redirects included
    max_bytes: int = MAX_RESPONSE_BYTES
    allow_private: bool = False


@dataclass(frozen=True)
class Response:
    """A finished GET: its body (empty for a 304), headers, status and final URL."""

    body: bytes
    headers: Message
    status: int
    url: str


def refused_reason(address: str) -> str | None:
    """Why ``address`` may not be fetched without --allow-private (None: a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for label, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return label
    return None if ip.is_global else "non-public"


@dataclass
class _Guard:
    """One request's policy and open sockets; the watchdog shuts them when the deadline passes."""

    limits: FetchLimits
    proxies: frozenset[str]
    sockets: list[socket.socket] = field(default_factory=list)
    expired: bool = False

    def connect(self, address: tuple[str, int], timeout: Any = None, source: Any = None) -> socket.socket:
        host, port = address
        addresses = self._checked(host, port)
        error: OSError | None = None
        for family, kind, proto, ip in addresses:
            sock = socket.socket(family, kind, proto)
            self.sockets.append(sock)
            try:
                if isinstance(timeout, (int, float)):
                    sock.settimeout(timeout)
                if source:
                    sock.bind(source)
                sock.connect(ip)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error or OSError(f"cannot connect to {host}")

    def _checked(self, host: str, port: int) -> list[tuple[int, int, int, Any]]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from None
        found: list[tuple[int, int, int, Any]] = [(family, kind, proto, ip) for family, kind, proto, _, ip in infos]
        if self.limits.allow_private or host.lower() in self.proxies:
            return found
        for *_, ip in found:
            reason = refused_reason(str(ip[0]))
            if reason is not None:
                raise _Refused(
                    f"refused: {host} resolves to {reason} address {ip[0]}; pass --allow-private "
                    "(or set ARCHIVE_ALLOW_PRIVATE=1) to fetch from your own network"
                )
        return found

    def check_target(self, url: str) -> None:
        """Through a proxy the socket reaches the proxy, not the host: check the host's own addresses."""
        parts = urllib.parse.urlsplit(url)
        if self.proxies and parts.hostname and not urllib.request.proxy_bypass(parts.hostname):
            self._checked(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))

    def expire(self) -> None:
        self.expired = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


class _Refused(OSError):
    """A connection the address policy refused (raised inside urllib, re-raised as IngestError)."""


def _guarded(base: type[http.client.HTTPConnection], guard: _Guard) -> type[http.client.HTTPConnection]:
    class Connection(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = guard.connect

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self.guard = guard

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_guarded(http.client.HTTPConnection, self.guard), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self.guard = guard

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_guarded(http.client.HTTPSConnection, self.guard), req)


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self.guard = guard

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: http.client.HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise _Refused(f"refused: redirect to {newurl} (only http:// and https:// are followed)")
        self.guard.check_target(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _proxy_hosts() -> frozenset[str]:
    hosts = set()
    for value in urllib.request.getproxies().values():
        host = urllib.parse.urlsplit(value if "//" in value else f"//{value}").hostname
        if host:
            hosts.add(host.lower())
    return frozenset(hosts)


def http_get(url: str, headers: dict[str, str], limits: FetchLimits) -> Response:
    """GET ``url`` under ``limits``; every failure is an IngestError naming the URL. A 304 has an empty body."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise IngestError("only http:// and https:// URLs can be fetched", path=url)
    guard = _Guard(limits, _proxy_hosts())
    opener = urllib.request.build_opener(_HTTPHandler(guard), _HTTPSHandler(guard), _Redirects(guard))
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    try:
        guard.check_target(url)
    except OSError as exc:
        raise IngestError(str(exc), path=url) from None
    watchdog = threading.Timer(limits.deadline, guard.expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        return _get(opener, request, url, limits, guard)
    except IngestError:
        raise
    except _Refused as exc:
        raise IngestError(str(exc), path=url) from None
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the open response
        if exc.code == 304:
            return Response(b"", exc.headers, 304, url)
        raise IngestError(f"HTTP error {exc.code} {exc.reason}", path=url) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if guard.expired:
            raise IngestError(f"took longer than {limits.deadline:g} s: cut off", path=url) from None
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, _Refused):
            raise IngestError(str(exc.reason), path=url) from None
        if isinstance(exc, TimeoutError):
            raise IngestError(f"timed out after {limits.timeout:g} s", path=url) from None
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise IngestError(f"cannot fetch: {reason}", path=url) from None
    finally:
        watchdog.cancel()
        guard.expire()  # nothing of this request stays open


def _get(
    opener: urllib.request.OpenerDirector, request: urllib.request.Request, url: str, limits: FetchLimits, guard: _Guard
) -> Response:
    started = time.monotonic()
    with opener.open(request, timeout=limits.timeout) as response:
        chunks: list[bytes] = []
        size = 0
        while size <= limits.max_bytes:
            chunk = response.read(min(_READ_SIZE, limits.max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() - started > limits.deadline or guard.expired:
                raise IngestError(f"took longer than {limits.deadline:g} s: cut off", path=url)
        if guard.expired:  # a socket shut by the watchdog reads as a clean end: the answer is incomplete
            raise IngestError(f"took longer than {limits.deadline:g} s: cut off", path=url)
        if size > limits.max_bytes:
            raise IngestError(f"response is larger than {limits.max_bytes:,} bytes; not downloaded", path=url)
        return Response(b"".join(chunks), response.headers, response.status, response.geturl())
