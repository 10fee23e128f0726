"""Article extraction from HTML pages, and HTML-to-text for feed summaries.

Main-text extraction with boilerplate removal is trafilatura's job. Tiny or
unusual pages it gives up on fall back to the page ``<title>`` and its visible
``<p>`` text, read with the standard library's ``html.parser``.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from archive.errors import IngestError
from archive.ingest.records import RawArticle

# Never visible: their text is code, styling or metadata.
_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
# Page furniture around an article: skipped by the fallback extractor.
_BOILERPLATE_TAGS = frozenset({"nav", "header", "footer", "aside", "form", "button", "select", "menu"})
# Tags that end a line of text when converting a fragment to plain text.
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)
_VOID_TAGS = frozenset({"br", "hr", "img", "input", "meta", "link", "source", "wbr", "area", "base", "col"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def _normalize_lines(text: str) -> str:
    """Collapse runs of spaces inside lines and drop empty lines."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


class _FragmentText(HTMLParser):
    """Visible text of an HTML fragment, one line per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data.replace("\n", " "))


def html_to_text(fragment: str) -> str:
    """Return the visible text of an HTML fragment (e.g. a feed summary).

    Scripts and styles are dropped, entities decoded, and each block element
    (paragraph, list item, heading, ``<br>``) ends a line. Plain text without
    markup comes back with its whitespace tidied.
    """
    parser = _FragmentText()
    parser.feed(fragment)
    parser.close()
    return _normalize_lines("".join(parser.parts))


class _PageScan(HTMLParser):
    """The fallback view of a page: its title, language and ``<p>`` texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.paragraphs: list[str] = []
        self.language: str | None = None
        self._skip: list[str] = []
        self._in_title = False
        self._paragraph: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html" and self.language is None:
            self.language = dict(attrs).get("lang") or None
        elif tag == "title":
            self._in_title = True
        elif tag in _VOID_TAGS:
            return
        elif tag in _BOILERPLATE_TAGS or (tag in _INVISIBLE_TAGS and tag != "head"):
            self._skip.append(tag)
        elif tag == "p" and not self._skip:
            self._end_paragraph()
            self._paragraph = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif self._skip and tag == self._skip[-1]:
            self._skip.pop()
        elif tag == "p":
            self._end_paragraph()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif self._paragraph is not None and not self._skip:
            self._paragraph.append(data)

    def close(self) -> None:
        super().close()
        self._end_paragraph()

    def _end_paragraph(self) -> None:
        if self._paragraph is not None:
            text = _SPACES.sub(" ", " ".join("".join(self._paragraph).split())).strip()
            if text:
                self.paragraphs.append(text)
        self._paragraph = None


def _scan_page(html: str) -> _PageScan:
    scan = _PageScan()
    scan.feed(html)
    scan.close()
    return scan


def _trafilatura_fields(html: str, url: str | None) -> dict[str, str | None] | None:
    """Run trafilatura; ``None`` when it finds no main text (or fails on the page)."""
    import trafilatura  # deferred: importing it takes most of a second

    try:
        result = trafilatura.extract(
            html,
            url=url,
            output_format="json",
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
        )
    except Exception:  # trafilatura/lxml raise assorted errors on malformed pages; fall back
        return None
    if not result:
        return None
    fields: dict[str, str | None] = json.loads(result)
    return fields if (fields.get("text") or "").strip() else None


def _drop_repeated_title(text: str, title: str | None) -> str:
    """Trafilatura keeps the headline as the first line; it is already the title."""
    first, _, rest = text.partition("\n")
    if title and rest.strip() and first.strip() == title.strip():
        return rest.strip()
    return text.strip()


def extract_article(html: str, *, url: str | None = None) -> RawArticle:
    """Extract the main article of an HTML page, without navigation, ads or footers.

    Returns a :class:`RawArticle` with the text and whatever metadata the page
    carries (title, date, site name or host name, language, canonical URL).
    ``origin`` is the URL when known. Raises :class:`IngestError` when the
    page has no article text.
    """
    scan = _scan_page(html)
    page_title = " ".join("".join(scan.title_parts).split()) or None
    fields = _trafilatura_fields(html, url)
    if fields is None:
        if not scan.paragraphs:
            raise IngestError("no article text found in page", path=url)
        return RawArticle(
            text="\n".join(scan.paragraphs),
            title=page_title,
            url=url,
            language=scan.language,
            origin=url or "",
        )
    title = fields.get("title") or page_title
    page_url = fields.get("source") or url
    return RawArticle(
        text=_drop_repeated_title(fields.get("text") or "", title),
        title=title,
        url=page_url,
        outlet=fields.get("source-hostname") or fields.get("sitename") or fields.get("hostname"),
        published=fields.get("date"),
        language=fields.get("language") or scan.language,
        origin=url or page_url or "",
    )
