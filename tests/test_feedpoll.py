"""Following feeds: add/list/remove, and polls that ingest new entries only (local HTTP server, 127.0.0.1 only)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import Archive
from archive.cli import cli
from archive.errors import FeedError, NotFoundError
from archive.store.models import FeedItem

TOPICS = [
    ("Kharkiv", "Shelling struck residential districts of Kharkiv overnight, damaging apartment blocks and a school."),
    ("Odesa", "Drones hit an energy facility near Odesa, cutting power to thousands of homes before dawn."),
    ("Aleppo", "An aid convoy carrying food and medicine reached the besieged districts of Aleppo after talks."),
    ("Mariupol", "Evacuation buses left Mariupol under a local ceasefire as civilians queued for hours."),
    ("Idlib", "Monitors reported air strikes on villages in Idlib province as families fled towards the border."),
]


def item(n: int, *, text: bool = True) -> str:
    place, sentence = TOPICS[n % len(TOPICS)]
    body = f"<description>{sentence} Officials in {place} gave details of report {n}.</description>" if text else ""
    return (
        f"<item><title>Report {n} from {place}</title><link>{{base}}/story/{n}</link>"
        f"<guid>story-{n}</guid><pubDate>Tue, 0{1 + n % 9} Mar 2022 10:00:00 GMT</pubDate>{body}</item>"
    )


def rss(items: list[str]) -> str:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Test Wire</title>{"".join(items)}</channel></rss>'


def page(n: int) -> str:
    place, sentence = TOPICS[n % len(TOPICS)]
    paragraphs = "".join(
        f"<p>{sentence} Paragraph {i} of the full page about {place}, with details only the page carries.</p>"
        for i in range(3)
    )
    return f"<html><head><title>Report {n}</title></head><body><article><h1>Report {n}</h1>{paragraphs}</article></body></html>"


@dataclass
class Route:
    body: str
    content_type: str = "application/rss+xml"
    etag: str | None = None


@dataclass
class FeedServer:
    """What the local server serves, and the requests it saw (path, If-None-Match)."""

    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def serve(self, path: str, body: str, *, content_type: str = "application/rss+xml", etag: str | None = None) -> str:
        self.routes[path] = Route(body.replace("{base}", self.base), content_type, etag)
        return self.base + path


def _handler(state: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("If-None-Match")))
            route = state.routes.get(self.path)
            if route is None:
                self._send(404, b"not found", "text/plain", {})
            elif route.etag and self.headers.get("If-None-Match") == route.etag:
                self._send(304, b"", route.content_type, {"ETag": route.etag})
            else:
                self._send(
                    200, route.body.encode("utf-8"), route.content_type, {"ETag": route.etag} if route.etag else {}
                )

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            return

    return Handler


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must never be routed through a proxy from the environment.

    The local test server is a loopback address, which the archive refuses unless allowed.
    """
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARCHIVE_ALLOW_PRIVATE", "1")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    state = FeedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_first_poll_ingests_every_entry_and_second_poll_none(archive: Archive, server: FeedServer) -> None:
    url = server.serve("/feed.xml", rss([item(n) for n in range(4)]))
    archive.add_feed(url, outlet="Test Wire")
    first = archive.poll_feeds()
    assert [(r.status, r.entries, r.new, r.added) for r in first] == [("ok", 4, 4, 4)]
    second = archive.poll_feeds()
    assert [(r.status, r.new, r.added, r.run_id) for r in second] == [("ok", 0, 0, None)]
    assert archive.stats()["articles"] == 4


def test_a_new_entry_is_the_only_one_ingested(archive: Archive, server: FeedServer) -> None:
    url = server.serve("/feed.xml", rss([item(n) for n in range(3)]))
    archive.add_feed(url, outlet="Test Wire")
    archive.poll_feeds()
    server.serve("/feed.xml", rss([item(n) for n in range(4)]))
    (result,) = archive.poll_feeds()
    assert (result.entries, result.new, result.added) == (4, 1, 1)
    assert archive.search("Mariupol evacuation buses", k=1)[0].title == "Report 3 from Mariupol"


def test_unchanged_feed_is_answered_304_and_ingests_nothing(archive: Archive, server: FeedServer) -> None:
    url = server.serve("/feed.xml", rss([item(0), item(1)]), etag='"v1"')
    archive.add_feed(url)
    archive.poll_feeds()
    (result,) = archive.poll_feeds()
    assert result.status == "not_modified" and result.ok and result.added == 0
    assert server.requests[-1] == ("/feed.xml", '"v1"')
    assert archive.feeds()[0].last_status == "not modified"


def test_dead_feed_is_reported_and_the_others_still_ingest(archive: Archive, server: FeedServer) -> None:
    good = server.serve("/good.xml", rss([item(0), item(1)]))
    dead = server.serve("/dead.xml", rss([item(2)]))
    archive.add_feed(dead, outlet="Dead Wire")
    archive.add_feed(good, outlet="Good Wire")
    del server.routes["/dead.xml"]
    results = {r.url: r for r in archive.poll_feeds()}
    assert results[dead].status == "error" and "404" in (results[dead].error or "")
    assert results[good].status == "ok" and results[good].added == 2
    assert {f.url: f.last_status for f in archive.feeds()}[dead].startswith("error: ")


def test_fetch_pages_ingests_the_page_text_instead_of_the_teaser(archive: Archive, server: FeedServer) -> None:
    url = server.serve("/feed.xml", rss([item(0), item(1)]))
    for n in (0, 1):
        server.serve(f"/story/{n}", page(n), content_type="text/html; charset=utf-8")
    archive.add_feed(url, outlet="Test Wire")
    (result,) = archive.poll_feeds(fetch_pages=True)
    assert result.added == 2
    hit = archive.search("details only the page carries", k=1, mode="keyword")[0]
    assert "Paragraph 1 of the full page" in archive.article(hit.article_id).text


def test_failed_entries_are_reported_and_retried_next_poll(archive: Archive, server: FeedServer) -> None:
    url = server.serve("/feed.xml", rss([item(0), item(1, text=False)]))
    archive.add_feed(url)
    (first,) = archive.poll_feeds()
    assert (first.status, first.added, first.failed, first.ok) == ("partial", 1, 1, False)
    assert "no text" in first.errors[0][1]
    server.serve("/feed.xml", rss([item(0), item(1)]))
    (second,) = archive.poll_feeds()
    assert (second.new, second.added, second.status) == (1, 1, "ok")


def test_polls_are_recorded_as_runs_and_entries_remember_their_article(archive: Archive, server: FeedServer) -> None:
    url = server.serve("/feed.xml", rss([item(0), item(1)]))
    archive.add_feed(url)
    (result,) = archive.poll_feeds()
    run = archive.runs(limit=1)[0]
    assert (run.id, run.command, run.added, run.status) == (result.run_id, f"feeds poll {url}", 2, "ok")
    with Session(archive.engine) as session:
        items = {r.guid: r.article_id for r in session.execute(select(FeedItem.guid, FeedItem.article_id))}
    # feedparser resolves a non-URL guid against the feed URL, so compare the ends only.
    assert sorted(g.rsplit("/", 1)[-1] for g in items) == ["story-0", "story-1"] and all(items.values())
    assert archive.feeds()[0].items_seen == 2


def test_an_entry_already_ingested_from_a_file_is_skipped_not_duplicated(archive: Archive, server: FeedServer) -> None:
    url = server.serve("/a.xml", rss([item(0)]))
    other = server.serve("/b.xml", rss([item(0)]))
    archive.add_feed(url, outlet="Wire")
    archive.add_feed(other, outlet="Wire")
    results = archive.poll_feeds()
    assert [r.added for r in results] == [1, 0] and results[1].skipped == 1
    assert archive.stats()["articles"] == 1


def test_add_checks_the_feed_and_refuses_bad_or_repeated_urls(
    archive: Archive, server: FeedServer, tmp_path: Path
) -> None:
    url = server.serve("/feed.xml", rss([item(0)]))
    server.serve("/page.html", page(0), content_type="text/html")
    with pytest.raises(FeedError, match="not a valid RSS/Atom feed"):
        archive.add_feed(server.base + "/page.html")
    with pytest.raises(FeedError, match="404"):
        archive.add_feed(server.base + "/missing.xml")
    with pytest.raises(FeedError, match="cannot read feed file"):
        archive.add_feed(str(tmp_path / "nope.xml"))
    info = archive.add_feed(url)
    assert info.outlet == "Test Wire"  # the feed's title when no outlet is given
    with pytest.raises(FeedError, match=f"already followed as feed {info.id}"):
        archive.add_feed(url)


def test_local_feed_files_are_followed_by_absolute_path(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wire.xml").write_text(rss([item(0).replace("{base}", "https://w.example")]), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    info = archive.add_feed("wire.xml", outlet="Wire")
    assert info.url == str(tmp_path / "wire.xml")
    assert archive.add_feed((tmp_path / "wire.xml").as_uri(), outlet="Wire 2").id != info.id
    assert [r.added for r in archive.poll_feeds()] == [1, 0]


def test_remove_forgets_the_feed_but_keeps_its_articles(archive: Archive, server: FeedServer) -> None:
    info = archive.add_feed(server.serve("/feed.xml", rss([item(0)])))
    archive.poll_feeds()
    assert archive.remove_feed(info.id).url == info.url
    assert archive.feeds() == [] and archive.stats()["articles"] == 1
    with Session(archive.engine) as session:
        assert session.scalars(select(FeedItem)).all() == []
    with pytest.raises(NotFoundError, match="archive feeds list"):
        archive.remove_feed(info.id)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"ARCHIVE_DB": str(tmp_path / "cli.db"), "ARCHIVE_MODEL": "fake"}


def test_cli_add_list_poll_as_json_exits_1_when_a_feed_failed(
    runner: CliRunner, env: dict[str, str], server: FeedServer
) -> None:
    good = server.serve("/good.xml", rss([item(0), item(1)]))
    dead = server.serve("/dead.xml", rss([item(2)]))
    for url in (good, dead):
        added = runner.invoke(cli, ["feeds", "add", url, "--outlet", "Wire", "--json"], env=env)
        assert added.exit_code == 0, added.output
    del server.routes["/dead.xml"]
    listed = json.loads(runner.invoke(cli, ["feeds", "list", "--json"], env=env).output)
    assert [f["url"] for f in listed] == [good, dead]
    polled = runner.invoke(cli, ["feeds", "poll", "--json"], env=env)
    assert polled.exit_code == 1
    results = json.loads(polled.stdout)
    assert [(r["status"], r["added"]) for r in results] == [("ok", 2), ("error", 0)]
    assert "error: feed 2" in polled.stderr


def test_cli_poll_prints_one_line_per_feed_and_add_errors_are_friendly(
    runner: CliRunner, env: dict[str, str], server: FeedServer
) -> None:
    url = server.serve("/feed.xml", rss([item(0)]))
    runner.invoke(cli, ["feeds", "add", url], env=env)
    polled = runner.invoke(cli, ["feeds", "poll"], env=env)
    assert polled.exit_code == 0 and "1 new, 1 added" in polled.output
    bad = runner.invoke(cli, ["feeds", "add", server.base + "/missing.xml"], env=env)
    assert bad.exit_code == 1 and "cannot add feed" in bad.output and "Traceback" not in bad.output
    removed = runner.invoke(cli, ["feeds", "remove", "99"], env=env)
    assert removed.exit_code == 1 and "no feed with id 99" in removed.output
