"""Safe HTTP: private addresses refused on every hop unless allowed, one deadline per request, capped bodies.

Servers are local (127.0.0.1 and 127.0.0.2, both loopback); tests that must reach
them pass ``allow_private=True``, the refusal tests do not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive
from archive.cli import cli
from archive.errors import FeedError, IngestError
from archive.feeds import fetch
from archive.feeds.fetch import FetchLimits, http_get, refused_reason
from archive.feeds.parse import fetch_feed, fetch_page
from tests.helpers import CASE_TIMEOUT_S, local_server, redirect, send, time_limit


@pytest.fixture(autouse=True)
def _whole_case_time_limit() -> Iterator[None]:
    """Every case of this file, setup included, runs under a time limit: a hang fails instead of blocking."""
    with time_limit(2 * CASE_TIMEOUT_S):
        yield


PARAGRAPH = "Shelling hit the eastern city overnight, officials said, and rescue teams searched the rubble. " * 3
PAGE = f"<html><head><title>Secret</title></head><body><article><p>{PARAGRAPH}</p><p>{PARAGRAPH}</p></article></body></html>"


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ARCHIVE_ALLOW_PRIVATE", raising=False)


@pytest.fixture
def page_server() -> Iterator[str]:
    with local_server({"/page.html": send(PAGE.encode())}) as base:
        yield base


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("fc00::1", "private"),
    ],
)
def test_non_public_addresses_are_named(address: str, reason: str) -> None:
    assert refused_reason(address) == reason


def test_public_addresses_pass() -> None:
    assert refused_reason("93.184.216.34") is None
    assert refused_reason("2606:2800:220:1:248:1893:25c8:1946") is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "169.254.169.254", "10.0.0.1"])
def test_fetch_page_refuses_private_hosts_without_connecting(host: str, page_server: str) -> None:
    port = page_server.rsplit(":", 1)[1]
    with time_limit(20), pytest.raises(IngestError, match=r"refused: .* address .*--allow-private"):
        fetch_page(f"http://{host}:{port}/page.html")


def test_fetch_page_reaches_a_local_server_when_allowed(page_server: str) -> None:
    with time_limit(20):
        article = fetch_page(f"{page_server}/page.html", allow_private=True)
    assert "Shelling hit the eastern city" in article.text


def test_a_redirect_into_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # 127.0.0.1 plays a public server, 127.0.0.2 the internal one: only the latter is refused.
    monkeypatch.setattr(fetch, "refused_reason", lambda address: "private" if address == "127.0.0.2" else None)
    with (
        local_server({"/page.html": send(PAGE.encode())}, host="127.0.0.2") as internal,
        local_server({"/go": redirect(f"{internal}/page.html"), "/page.html": send(PAGE.encode())}) as public,
    ):
        with time_limit(20):
            assert "Shelling" in fetch_page(f"{public}/page.html").text
        with time_limit(20), pytest.raises(IngestError, match=r"refused: 127.0.0.2 resolves to private"):
            fetch_page(f"{public}/go")


def test_a_redirect_to_another_scheme_is_refused() -> None:
    with (
        local_server({"/go": redirect("file:///etc/passwd")}) as base,
        time_limit(20),
        pytest.raises(IngestError, match=r"file:///etc/passwd.*not allowed|refused: redirect"),
    ):
        fetch_page(f"{base}/go", allow_private=True)


def _trickle(request: BaseHTTPRequestHandler) -> None:
    request.send_response(200)
    request.send_header("Content-Type", "text/html")
    request.end_headers()
    for _ in range(200):  # one byte every 0.2 s: each read is quick, the whole never ends
        request.wfile.write(b"a")
        request.wfile.flush()
        time.sleep(0.2)


def _trickle_headers(request: BaseHTTPRequestHandler) -> None:
    request.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for n in range(200):
        request.wfile.write(f"X-Slow-{n}: 1\r\n".encode())
        request.wfile.flush()
        time.sleep(0.2)


@pytest.mark.parametrize("route", ["/body", "/headers"])
def test_a_trickling_server_is_cut_off_at_the_deadline(route: str) -> None:
    limits = FetchLimits(timeout=1.0, deadline=2.0, allow_private=True)
    with (
        local_server({"/body": _trickle, "/headers": _trickle_headers}) as base,
        time_limit(20),
        pytest.raises(IngestError, match=r"took longer than 2 s: cut off"),
    ):
        http_get(f"{base}{route}", {}, limits)


def _endless(request: BaseHTTPRequestHandler) -> None:
    request.send_response(200)
    request.send_header("Content-Type", "text/html")
    request.end_headers()
    chunk = b"<p>" + b"x" * 65536
    for _ in range(10_000):
        request.wfile.write(chunk)


def test_an_endless_body_stops_at_the_size_cap() -> None:
    limits = FetchLimits(max_bytes=1_000_000, allow_private=True)
    with (
        local_server({"/big": _endless}) as base,
        time_limit(20),
        pytest.raises(IngestError, match=r"larger than 1,000,000 bytes"),
    ):
        http_get(f"{base}/big", {}, limits)


def test_feed_urls_are_checked_like_pages(page_server: str) -> None:
    with time_limit(20), pytest.raises(IngestError, match=r"refused: 127.0.0.1 resolves to loopback"):
        fetch_feed(f"{page_server}/feed.xml")


def _feed_pointing_at(tmp_path: Path, link: str) -> Path:
    path = tmp_path / "wire.xml"
    item = (
        f"<item><title>Teaser</title><link>{link}</link><guid>g1</guid>"
        "<description>Short teaser about the shelling of the city overnight.</description></item>"
    )
    path.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>{item}</channel></rss>')
    return path


def test_poll_with_fetch_pages_never_stores_a_loopback_page(archive: Archive, tmp_path: Path, page_server: str) -> None:
    archive.add_feed(str(_feed_pointing_at(tmp_path, f"{page_server}/page.html")), outlet="Wire")
    with time_limit(30):
        (result,) = archive.poll_feeds(fetch_pages=True)
    assert result.status == "partial" and result.added == 0
    assert "refused" in result.errors[0][1]
    assert archive.search("rescue teams searched the rubble", mode="keyword") == []


def test_poll_with_allow_private_fetches_the_local_page(archive: Archive, tmp_path: Path, page_server: str) -> None:
    archive.add_feed(str(_feed_pointing_at(tmp_path, f"{page_server}/page.html")), outlet="Wire")
    with time_limit(30):
        (result,) = archive.poll_feeds(fetch_pages=True, allow_private=True)
    assert (result.status, result.added) == ("ok", 1)


def test_the_setting_allows_private_networks(monkeypatch: pytest.MonkeyPatch, db_path: Path, page_server: str) -> None:
    from archive.embedding.fake import FakeEmbedder

    monkeypatch.setenv("ARCHIVE_ALLOW_PRIVATE", "1")
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title></channel></rss>'
    with (
        local_server({"/feed.xml": send(rss, "application/rss+xml")}) as base,
        Archive.open(db_path, embedder=FakeEmbedder()) as opened,
        time_limit(20),
    ):
        assert opened.settings.allow_private_networks
        assert opened.add_feed(f"{base}/feed.xml").url == f"{base}/feed.xml"


def test_feeds_add_refuses_a_loopback_feed_without_the_flag(archive: Archive, page_server: str) -> None:
    with time_limit(20), pytest.raises(FeedError, match=r"refused"):
        archive.add_feed(f"{page_server}/feed.xml")


def test_cli_allow_private_flag(tmp_path: Path, runner: CliRunner) -> None:
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title></channel></rss>'
    db = str(tmp_path / "c.db")
    with local_server({"/feed.xml": send(rss, "application/rss+xml")}) as base, time_limit(30):
        refused = runner.invoke(cli, ["feeds", "add", f"{base}/feed.xml", "-d", db, "--model", "fake"])
        allowed = runner.invoke(cli, ["feeds", "add", f"{base}/feed.xml", "-d", db, "--allow-private"])
    assert refused.exit_code == 1 and "--allow-private" in refused.output
    assert "Traceback" not in refused.output
    assert allowed.exit_code == 0, allowed.output
