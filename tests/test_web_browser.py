"""A real browser on the real server: search, click an outlet facet, see the timeline and the results change.

Drives Debian's chromium through Playwright (no browser download); skipped when it is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.web import create_app
from tests.web_helpers import hostile_records, sample_archive, served

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: apt-get install -y chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    archive = sample_archive(tmp_path / "browser.db")
    archive.ingest_records(hostile_records())
    with served(create_app(archive)) as url:
        yield url
    archive.close()


@pytest.fixture
def page(base_url: str) -> Iterator[sync_api.Page]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def test_search_click_an_outlet_facet_and_see_the_timeline(page: sync_api.Page, base_url: str, tmp_path: Path) -> None:
    page.goto(base_url + "/")
    page.fill("input[name=q]", "drones Odesa power")
    page.click("form.search button[type=submit]")
    page.wait_for_selector("article.result")
    before = page.locator("article.result").count()
    assert before >= 2
    assert page.locator("svg.timeline rect.bar").count() >= 2
    assert page.locator("svg.timeline g.earliest").count() == 1
    outlets_before = set(page.locator("article.result .outlet").all_inner_texts())

    page.click('a.facet[data-outlet="Example Gazette"]')
    page.wait_for_selector("p.chips")
    assert "outlet=Example+Gazette" in page.url
    after = page.locator("article.result").count()
    assert 1 <= after < before
    assert page.locator("a.facet.active").inner_text() == "Example Gazette"
    assert page.locator("svg.timeline rect.bar").count() >= 1
    box = page.locator("svg.timeline").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 50  # drawn, not an empty element
    assert set(page.locator("article.result .outlet").all_inner_texts()) <= outlets_before
    shot = tmp_path / "search.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_hostile_records_run_no_script_in_the_browser(page: sync_api.Page, base_url: str) -> None:
    page.goto(base_url + "/?q=Avdiivka+coke+plant&mode=keyword")
    page.wait_for_selector("article.result")
    links = page.locator("a[href^='javascript:' i]").count()
    result_page_pwned = page.evaluate("() => window.__pwned === undefined")
    page.click("article.result a.title:has-text('__pwned')")
    page.wait_for_selector("article.article")
    assert links == 0
    assert result_page_pwned and page.evaluate("() => window.__pwned === undefined")
    assert page.locator("article.article h1").inner_text().startswith("<script>")  # shown as text, not run
