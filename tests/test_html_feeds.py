"""HTML extraction, feed parsing, and fetching against a local HTTP server (127.0.0.1 only)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from archive.errors import IngestError
from archive.feeds import parse as feeds
from archive.feeds.parse import FeedEntry, entry_to_article, fetch_feed, fetch_page, parse_feed
from archive.ingest import html
from archive.ingest.html import extract_article, html_to_text
from archive.ingest.records import RawArticle

PARAGRAPHS = [
    "Heavy shelling struck residential districts of Kharkiv on Tuesday morning, local officials said, "
    "damaging apartment blocks and a school.",
    "Emergency services said at least twelve people were injured and rescue teams were searching the "
    "rubble for survivors throughout the day.",
    "The regional governor urged residents to remain in shelters as air raid sirens sounded repeatedly "
    "across the city into the evening.",
]
ARTICLE_PAGE = f"""<!doctype html>
<html lang="en"><head><title>Shelling hits Kharkiv | Example News</title>
<meta property="og:site_name" content="Example News"><meta name="date" content="2022-03-01">
<script>var tracking = "do not index me";</script></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<div class="ad banner">Buy cheap flights now! Advertisement</div>
<article><h1>Shelling hits Kharkiv</h1>
{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
</article>
<aside class="related"><h3>Most read</h3><ul><li><a href="/x">Celebrity wins award</a></li></ul></aside>
<footer><p>Copyright 2022 Example News. All rights reserved. Privacy policy. Cookie settings.</p></footer>
</body></html>"""

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Conflict Wire</title><link>https://wire.example/</link>
<item>
  <title>Talks resume in Geneva</title>
  <link>https://wire.example/talks</link>
  <guid isPermaLink="false">wire-001</guid>
  <pubDate>Tue, 01 Mar 2022 10:00:00 GMT</pubDate>
  <description>&lt;p&gt;Delegations &lt;b&gt;met&lt;/b&gt; again.&lt;/p&gt;</description>
  <content:encoded><![CDATA[<p>Delegations met again on Tuesday.</p><p>No agreement was reached.</p>]]></content:encoded>
</item>
<item><title>Second</title><link>https://wire.example/second</link><description>Plain summary &amp; more.</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Field Reports</title>
  <id>urn:uuid:feed</id><updated>2022-03-02T08:00:00Z</updated>
  <entry>
    <title type="html">Convoy &lt;em&gt;reaches&lt;/em&gt; Mariupol</title>
    <link href="https://reports.example/convoy"/>
    <id>urn:uuid:entry-1</id>
    <updated>2022-03-02T08:00:00Z</updated>
    <summary>A humanitarian convoy arrived.</summary>
    <content type="html">&lt;p&gt;A humanitarian convoy arrived at dawn.&lt;/p&gt;</content>
  </entry>
</feed>"""


# --- HTML ---------------------------------------------------------------------------------


def test_extract_article_keeps_only_article_paragraphs() -> None:
    article = extract_article(ARTICLE_PAGE, url="https://news.example/kharkiv")
    for paragraph in PARAGRAPHS:
        assert paragraph in article.text
    for boilerplate in ("Home", "Sport", "Advertisement", "Copyright", "Most read", "tracking"):
        assert boilerplate not in article.text
    assert article.title == "Shelling hits Kharkiv"
    assert not article.text.startswith("Shelling hits Kharkiv")  # headline is the title, not text
    assert article.published == "2022-03-01"
    assert article.outlet == "Example News"
    assert article.url == "https://news.example/kharkiv"
    assert article.language == "en"


def test_fallback_uses_title_and_visible_paragraphs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html, "_trafilatura_fields", lambda page, url: None)  # as if trafilatura gave up
    article = extract_article(ARTICLE_PAGE)
    assert article.title == "Shelling hits Kharkiv | Example News"
    assert article.text == "\n".join(PARAGRAPHS)  # footer <p> skipped


def test_page_without_text_raises() -> None:
    page = "<html><head><title>App</title></head><body><div id='root'></div><script>render()</script></body></html>"
    with pytest.raises(IngestError, match="no article text found in page"):
        extract_article(page, url="https://news.example/login")


def test_html_to_text_drops_markup_scripts_and_decodes_entities() -> None:
    fragment = "<p>Fish &amp; chips</p><script>alert(1)</script><ul><li>one</li><li>two</li></ul>a<br>b"
    assert html_to_text(fragment) == "Fish & chips\none\ntwo\na\nb"
    assert html_to_text("plain   text") == "plain text"


# --- parsing feeds ----------------------------------------------------------------------------


def test_rss_entries_are_parsed_to_plain_text() -> None:
    feed = parse_feed(RSS.encode("utf-8"))
    assert feed.title == "Conflict Wire" and len(feed.entries) == 2
    first, second = feed.entries
    assert (first.guid, first.url) == ("wire-001", "https://wire.example/talks")
    assert first.title == "Talks resume in Geneva"
    assert first.published == "Tue, 01 Mar 2022 10:00:00 GMT"
    assert first.summary_text == "Delegations met again."
    assert first.content_text == "Delegations met again on Tuesday.\nNo agreement was reached."
    assert second.guid == "https://wire.example/second"  # no <guid>: the link
    assert second.summary_text == "Plain summary & more." and second.content_text is None


def test_atom_entries_are_parsed() -> None:
    feed = parse_feed(ATOM)
    [entry] = feed.entries
    assert feed.title == "Field Reports"
    assert (entry.guid, entry.url) == ("urn:uuid:entry-1", "https://reports.example/convoy")
    assert entry.title == "Convoy reaches Mariupol"  # HTML title stripped to text
    assert entry.published == "2022-03-02T08:00:00Z"
    assert entry.content_text == "A humanitarian convoy arrived at dawn."


def test_text_feed_with_foreign_encoding_declaration_is_not_garbled() -> None:
    feed = parse_feed(
        '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel>'
        "<title>Caf\u00e9 \u041a\u0438\u0457\u0432</title><item><description>x</description></item>"
        "</channel></rss>"
    )
    assert feed.title == "Caf\u00e9 \u041a\u0438\u0457\u0432"


def test_entries_with_missing_fields_are_tolerated() -> None:
    feed = parse_feed(
        b'<rss version="2.0"><channel><item><description>Only a summary.</description></item>'
        b"<item><description>Only a summary.</description></item></channel></rss>"
    )
    first, second = feed.entries
    assert feed.title is None
    assert (first.url, first.title, first.published, first.content_text) == (None, None, None, None)
    assert len(first.guid) == 64 and first.guid == second.guid  # same title+summary, same hash


def test_valid_feed_without_entries_is_empty_not_an_error() -> None:
    feed = parse_feed(b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    assert feed.entries == [] and feed.title == "Quiet"


NOT_FEEDS = [b"<rss><channel><title>cut off", b"not xml at all", b"<html><body><p>page</p></body></html>"]


@pytest.mark.parametrize("data", NOT_FEEDS)
def test_broken_or_non_feed_xml_raises(data: bytes) -> None:
    with pytest.raises(IngestError, match="not a valid RSS/Atom feed") as info:
        parse_feed(data, origin="feeds/broken.xml")
    assert info.value.path == "feeds/broken.xml"


def test_parse_feed_never_treats_data_as_a_url_or_path(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(RSS, encoding="utf-8")
    for data in ("http://127.0.0.1:9/feed.xml", str(tmp_path / "feed.xml")):
        with pytest.raises(IngestError, match="not a valid RSS/Atom feed"):
            parse_feed(data)


# --- entries to articles ------------------------------------------------------------------------


ENTRY = FeedEntry("g1", "https://w.example/1", "Title", "2022-03-01", "Summary.", "Full content.")


def test_entry_to_article_prefers_page_then_content_then_summary() -> None:
    page = RawArticle(text="Page text.", title="Page title", outlet="Site", language="uk")
    from_page = entry_to_article(ENTRY, outlet=None, page=page)
    assert (from_page.text, from_page.title) == ("Page text.", "Title")  # the entry's title wins
    assert (from_page.outlet, from_page.language) == ("Site", "uk")
    assert entry_to_article(ENTRY, outlet="Wire").text == "Full content."
    summary_only = FeedEntry("g2", None, None, None, "Summary.", None)
    article = entry_to_article(summary_only, outlet="Wire")
    assert (article.text, article.outlet, article.origin, article.extra) == ("Summary.", "Wire", "g2", {"guid": "g2"})


def test_entry_without_text_raises() -> None:
    with pytest.raises(IngestError, match="no content or summary"):
        entry_to_article(FeedEntry("g", "https://w.example/x", "T", None, None, None), outlet=None)


# --- fetching from a local server -----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        if self.path == "/feed.xml" and self.headers.get("If-None-Match") == '"v1"':
            self._send(304, b"", "application/rss+xml")
        elif self.path == "/feed.xml":
            validators = {"ETag": '"v1"', "Last-Modified": "Tue, 01 Mar 2022 10:00:00 GMT"}
            self._send(200, RSS.encode("utf-8"), "application/rss+xml", validators)
        elif self.path == "/article.html":
            page = ARTICLE_PAGE.replace("local officials", "the city\u2019s officials")
            self._send(200, page.encode("cp1252"), "text/html; charset=windows-1252")
        elif self.path == "/report.pdf":
            self._send(200, b"%PDF-1.4", "application/pdf")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        return


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must never be routed through a proxy from the environment."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _Handler.seen = []
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_fetch_feed_then_conditional_get_returns_not_modified(server: str) -> None:
    feed = fetch_feed(f"{server}/feed.xml", allow_private=True)
    assert (feed.status, feed.not_modified, len(feed.entries)) == (200, False, 2)
    assert (feed.etag, feed.modified) == ('"v1"', "Tue, 01 Mar 2022 10:00:00 GMT")
    again = fetch_feed(f"{server}/feed.xml", allow_private=True, etag=feed.etag, modified=feed.modified)
    assert (again.status, again.not_modified, again.entries) == (304, True, [])
    assert again.etag == '"v1"'
    assert _Handler.seen[1]["If-Modified-Since"] == "Tue, 01 Mar 2022 10:00:00 GMT"
    assert _Handler.seen[0]["User-Agent"].startswith("conflict-archive/")


def test_fetch_feed_http_error_names_url(server: str) -> None:
    with pytest.raises(IngestError, match="HTTP error 404") as info:
        fetch_feed(f"{server}/missing.xml", allow_private=True)
    assert info.value.path == f"{server}/missing.xml"


def test_fetch_feed_connection_refused_names_url() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed.xml"
    with pytest.raises(IngestError, match="cannot fetch") as info:
        fetch_feed(url, timeout=5, allow_private=True)
    assert info.value.path == url


def test_fetch_feed_reads_paths_and_file_urls(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(ATOM, encoding="utf-8")
    assert fetch_feed(str(path)).title == "Field Reports"
    assert fetch_feed(path.as_uri()).entries[0].guid == "urn:uuid:entry-1"
    with pytest.raises(IngestError, match="cannot read feed file"):
        fetch_feed(str(tmp_path / "missing.xml"))


def test_fetch_feed_rejects_unknown_scheme() -> None:
    with pytest.raises(IngestError, match="unsupported URL scheme 'ftp'"):
        fetch_feed("ftp://127.0.0.1/feed.xml")


def test_fetch_page_extracts_article_in_declared_charset(server: str) -> None:
    article = fetch_page(f"{server}/article.html", allow_private=True)
    assert "the city\u2019s officials said" in article.text
    assert PARAGRAPHS[1] in article.text and "Advertisement" not in article.text
    assert article.url == f"{server}/article.html"
    assert _Handler.seen[0]["User-Agent"].startswith("conflict-archive/")


def test_fetch_page_rejects_non_html(server: str) -> None:
    with pytest.raises(IngestError, match="not an HTML page"):
        fetch_page(f"{server}/report.pdf", allow_private=True)


def test_fetch_page_enforces_size_cap(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds, "MAX_RESPONSE_BYTES", 100)
    with pytest.raises(IngestError, match="larger than"):
        fetch_page(f"{server}/article.html", allow_private=True)
