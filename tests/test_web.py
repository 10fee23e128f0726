"""The web app through Starlette's test client: JSON API contract, pages, errors, safety, tokens."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.errors import ConfigError, NotFoundError
from archive.ingest.records import RawArticle
from archive.results import SearchResult
from archive.web import check_bind, create_app, is_local_host, open_read_only, safe_url
from tests.web_helpers import hostile_records, sample_archive, served


@pytest.fixture
def web_archive(tmp_path: Path) -> Iterator[Archive]:
    archive = sample_archive(tmp_path / "web.db")
    archive.ingest_records(hostile_records())
    yield archive
    archive.close()


@pytest.fixture
def client(web_archive: Archive) -> TestClient:
    return TestClient(create_app(web_archive))


def test_api_search_returns_the_librarys_result_contract(client: TestClient, web_archive: Archive) -> None:
    response = client.get("/api/search", params={"q": "drones cut power in Odesa", "k": 2})
    assert response.status_code == 200
    body = response.json()
    expected = json.loads(json.dumps([r.to_dict() for r in web_archive.search("drones cut power in Odesa", k=2)]))
    assert body["results"] == expected and len(expected) == 2
    assert body["results"][0]["source_count"] == 3


def test_api_search_filters_and_sorts(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "power", "outlet": "Example Daily", "sort": "-date"}).json()
    assert body["results"] and {r["outlet"] for r in body["results"]} == {"Example Daily"}
    dates = [r["published"] for r in body["results"] if r["published"]]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("/api/search", "parameter q is required"),
        ("/api/search?q=x&k=0", "parameter k"),
        ("/api/search?q=x&k=ten", "parameter k"),
        ("/api/search?q=x&mode=fuzzy", "parameter mode"),
        ("/api/search?q=x&since=2022-13", "invalid date"),
        ("/api/search?q=x&outlet=Nowhere", "unknown outlet"),
        ("/api/timeline?q=x&by=year", "parameter by"),
        ("/api/facets?q=x&limit=99999", "parameter limit"),
        ("/api/context?q=x&max_tokens=0", "parameter max_tokens"),
        ("/api/articles/abc", "parameter article_id"),
    ],
)
def test_bad_parameters_answer_400_saying_what_to_send(client: TestClient, url: str, fragment: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_unknown_ids_answer_404_and_writes_405(client: TestClient) -> None:
    assert client.get("/api/articles/99999").status_code == 404
    assert "no article" in client.get("/articles/99999").text
    assert client.get("/api/nothing").status_code == 404
    response = client.post("/api/search?q=x")
    assert response.status_code == 405 and "read-only" in response.json()["error"]


def test_api_article_context_timeline_facets_outlets_stats(client: TestClient, web_archive: Archive) -> None:
    hit = web_archive.search("drones Odesa", k=1)[0]
    article = client.get(f"/api/articles/{hit.article_id}", params={"chunk": hit.chunk_id}).json()
    assert article["text"][article["passage"]["char_start"] : article["passage"]["char_end"]] == hit.text
    context = client.get("/api/context", params={"q": "drones Odesa", "max_tokens": 300}).json()
    assert context["text"].startswith("[1]") and context["sources"][0]["number"] == 1
    timeline = client.get("/api/timeline", params={"q": "drones", "by": "day"}).json()
    assert timeline == json.loads(json.dumps(web_archive.timeline("drones", by="day").to_dict()))
    assert timeline["total"] == 3
    facets = client.get("/api/facets", params={"q": "drones"}).json()
    assert sum(f["count"] for f in facets["outlets"]) == facets["total"] == 3
    outlets = client.get("/api/outlets").json()["outlets"]
    assert {o["name"] for o in outlets} >= {"Example Wire", "Plain News"}
    assert client.get("/api/stats").json()["articles"] == web_archive.stats()["articles"]
    assert "checks" in client.get("/api/doctor").json()
    assert client.get("/api/duplicates").json()["groups"][0]["size"] >= 2


def test_openapi_describes_every_api_route(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/search", "/api/context", "/api/articles/{article_id}", "/api/facets", "/api/timeline"):
        assert path in spec["paths"]
    assert "/api/search" in client.get("/api/docs").text


def test_search_page_shows_results_facets_and_a_timeline(client: TestClient) -> None:
    html = client.get("/", params={"q": "drones Odesa"}).text
    assert '<svg class="timeline"' in html and 'class="earliest"' in html
    assert 'data-outlet="Example Wire"' in html
    assert "best 200 passages of a hybrid search" in html  # facets count what this search found
    every_word = client.get("/", params={"q": "drones Odesa", "coverage": "keyword"}).text
    assert "containing every query word" in every_word
    assert "<mark>drones</mark>" in html or "<mark>Drones</mark>" in html
    filtered = client.get("/", params={"q": "drones Odesa", "outlet": "Example Gazette"}).text
    assert filtered.count('class="result"') < html.count('class="result"')
    assert "Example Gazette ×" in filtered  # the filter shows, with a link that removes it


def test_every_page_renders(client: TestClient, web_archive: Archive) -> None:
    hit = web_archive.search("drones", k=1)[0]
    for url in ("/", "/timeline?q=drones&by=week", f"/articles/{hit.article_id}?chunk={hit.chunk_id}&q=drones"):
        assert client.get(url).status_code == 200, url
    for url in ("/duplicates", "/outlets", "/stats", "/api/docs"):
        assert client.get(url).status_code == 200, url
    article = client.get(f"/articles/{hit.article_id}?chunk={hit.chunk_id}").text
    assert '<mark id="passage">' in article


def _pages_showing_hostile_records(client: TestClient, web_archive: Archive) -> list[str]:
    hostile = next(s for s in web_archive.search("Avdiivka coke plant", k=5, mode="keyword") if "pwned" in s.title)
    return [
        client.get("/", params={"q": "Avdiivka coke plant", "mode": "keyword"}).text,
        client.get(f"/articles/{hostile.article_id}?chunk={hostile.chunk_id}").text,
        client.get("/timeline", params={"q": "Avdiivka", "by": "day"}).text,
        client.get("/outlets").text,
    ]


def test_hostile_titles_texts_and_outlets_are_escaped(client: TestClient, web_archive: Archive) -> None:
    pages = _pages_showing_hostile_records(client, web_archive)
    for html in pages:
        assert "<script>window" not in html and "<img src=x" not in html and "<b onmouseover" not in html
        assert '<i>"' not in html and 'Evil "Outlet" <i>' not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in pages[0]
    assert "Evil &#34;Outlet&#34; &lt;i&gt;" in pages[3]


def test_javascript_urls_are_never_links(client: TestClient, web_archive: Archive) -> None:
    for html in _pages_showing_hostile_records(client, web_archive):
        assert not re.search(r"href=\"\s*javascript:", html, re.IGNORECASE)
    assert "javascript:window.__pwned=5" in _pages_showing_hostile_records(client, web_archive)[0]  # shown as text
    assert 'href="https://news.example.org/avdiivka"' in _pages_showing_hostile_records(client, web_archive)[0]


@pytest.mark.parametrize(
    ("url", "linkable"),
    [
        ("https://a.example/x", True),
        ("HTTP://a.example", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("vbscript:x", False),
        ("//evil.example", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_url_links_only_http_and_https(url: str | None, linkable: bool) -> None:
    assert (safe_url(url) is not None) is linkable


@dataclass(frozen=True)
class _NewerResult(SearchResult):
    """A result with fields a newer library may add (issue 11: one result per article)."""

    passages: tuple[dict[str, Any], ...] = ()
    cosine: float | None = None
    note: list[str] = field(default_factory=list)


def test_fields_the_page_does_not_know_are_shown_not_dropped(client: TestClient, web_archive: Archive) -> None:
    base = web_archive.search("drones", k=1)[0]
    newer = _NewerResult(
        **{f: getattr(base, f) for f in base.__dataclass_fields__ if f != "passages"},
        passages=({"text": "Another <b>matching</b> passage about drones", "chunk_id": 1},),
        cosine=0.8125,
    )
    original = Archive.search
    try:
        Archive.search = lambda self, *a, **k: [newer]  # type: ignore[method-assign]
        html = client.get("/", params={"q": "drones"}).text
        api = client.get("/api/search", params={"q": "drones"}).json()
    finally:
        Archive.search = original  # type: ignore[method-assign]
    assert "1 passages" in html and "Another &lt;b&gt;matching&lt;/b&gt; passage about <mark>drones</mark>" in html
    assert "cosine" in html and "0.8125" in html
    assert api["results"][0]["passages"][0]["chunk_id"] == 1


def test_the_server_cannot_write(web_archive: Archive) -> None:
    create_app(web_archive)
    with web_archive.engine.connect() as conn, pytest.raises(OperationalError, match="readonly"):
        conn.exec_driver_sql("DELETE FROM articles")


def test_serving_needs_an_existing_archive(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="archive ingest"):
        open_read_only(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_non_local_hosts_need_a_token() -> None:
    assert is_local_host("127.0.0.1") and is_local_host("localhost") and is_local_host("::1")
    assert is_local_host("127.0.0.2") and not is_local_host("0.0.0.0") and not is_local_host("192.168.1.4")
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "s3cret")
    with pytest.raises(ConfigError, match="--token"):
        check_bind("0.0.0.0", None)


def test_a_token_is_checked_on_every_request(web_archive: Archive) -> None:
    client = TestClient(create_app(web_archive, token="s3cret"))
    for url in ("/", "/api/search?q=drones", "/static/style.css", "/api/openapi.json"):
        assert client.get(url).status_code == 401, url
    assert client.get("/api/outlets", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/outlets", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    first = client.get("/?q=drones&token=s3cret")
    assert first.status_code == 200 and "archive_token" in first.headers["set-cookie"]
    assert client.get("/outlets").status_code == 200  # the cookie carries the token for the next clicks
    client.cookies.clear()
    assert client.get("/outlets").status_code == 401


def test_a_local_server_answers_only_loopback_host_names(web_archive: Archive) -> None:
    app = create_app(web_archive, allowed_hosts=["127.0.0.1", "localhost"])
    assert TestClient(app, base_url="http://127.0.0.1:8080").get("/api/outlets").status_code == 200
    assert TestClient(app, base_url="http://localhost:8080").get("/").status_code == 200
    rebound = TestClient(app, base_url="http://attacker.example:8080").get("/api/outlets")
    assert rebound.status_code == 400  # a DNS-rebinding page cannot read the archive


def test_the_server_keeps_answering_while_an_ingest_writes(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    sample_archive(db).close()
    reader = open_read_only(db, model="fake")
    before = int(reader.stats()["articles"])  # type: ignore[call-overload]
    errors: list[str] = []
    totals: list[int] = []
    done = threading.Event()

    def poll(base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            while not done.is_set() or len(totals) < 5:
                for url in ("/api/search?q=drone+strike+report&k=5", "/?q=drone+strike", "/api/timeline?q=report"):
                    response = http.get(url)
                    if response.status_code != 200:
                        errors.append(f"{url}: {response.status_code} {response.text[:200]}")
                totals.append(http.get("/api/stats").json()["articles"])

    with served(create_app(reader)) as base:
        thread = threading.Thread(target=poll, args=(base,))
        thread.start()
        with Archive.open(db, embedder=FakeEmbedder()) as writer:
            for batch in range(8):
                writer.ingest_records(
                    RawArticle(
                        text=f"Report {batch}-{i}: a drone strike hit depot {batch * 100 + i} overnight, officials said.",
                        title=f"Report {batch}-{i}",
                        outlet=f"Outlet {i % 3}",
                        published=f"2024-03-{batch + 1:02d}",
                    )
                    for i in range(25)
                )
                time.sleep(0.3)  # let the readers see each batch land
        done.set()
        thread.join(timeout=120)
        final = httpx.get(base + "/api/stats", timeout=30).json()["articles"]
    reader.close()
    assert errors == []
    assert totals == sorted(totals), "a later request saw fewer articles than an earlier one"
    assert len(set(totals)) >= 2, "no request ran while the ingest wrote"
    assert final == before + 200
