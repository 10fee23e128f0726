"""HTML rendering: the Jinja2 environment (autoescaped), highlighting, and results as the library gives them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from archive.web.charts import outlet_colours, timeline_svg
from archive.web.security import safe_url

# Fields of SearchResult.to_dict() the result template shows in place; any other field (a
# newer library's) is listed under the result, so nothing the library returns is hidden.
KNOWN_RESULT_FIELDS = frozenset(
    {
        "rank",
        "score",
        "text",
        "article_id",
        "chunk_id",
        "char_start",
        "char_end",
        "outlet",
        "title",
        "url",
        "published",
        "sources",
        "scores",
        "highlights",
        "group_id",
        "source_count",
        "similarity",
        "weak",
    }
)


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """``text`` escaped, with every whole-word occurrence of ``terms`` in <mark>."""
    words = sorted({t for t in terms if isinstance(t, str) and t.strip()}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[last : match.start()])))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def mark_span(text: str, start: int | None, end: int | None) -> Markup:
    """The article text escaped, with [start, end) in <mark id="passage">, paragraphs as <p>."""
    if start is None or end is None or not 0 <= start <= end <= len(text):
        return _paragraphs(str(escape(text)))
    before, passage, after = (str(escape(part)) for part in (text[:start], text[start:end], text[end:]))
    return _paragraphs(f'{before}<mark id="passage">{passage}</mark>{after}')


def _paragraphs(html: str) -> Markup:
    return Markup("".join(f"<p>{p}</p>" for p in re.split(r"\n\s*\n|\n", html) if p.strip()))


def extra_fields(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The result's fields this page does not lay out itself, in their order."""
    return [(k, v) for k, v in result.items() if k not in KNOWN_RESULT_FIELDS]


def as_passages(value: Any) -> list[dict[str, Any]] | None:
    """A field holding passages (a list of objects with ``text``), else None."""
    if isinstance(value, list | tuple) and value and all(isinstance(v, dict) and "text" in v for v in value):
        return list(value)
    return None


def plain(value: Any) -> str:
    """Any value as readable text (JSON for containers)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def short_date(value: Any) -> str:
    return str(value)[:10] if value else "undated"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("archive.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        safe_url=safe_url,
        highlight=highlight,
        plain=plain,
        short_date=short_date,
        mark_span=mark_span,
    )
    env.globals.update(
        extra_fields=extra_fields,
        as_passages=as_passages,
        timeline_svg=timeline_svg,
        outlet_colours=outlet_colours,
    )
    return env


def result_dicts(results: Sequence[Any]) -> list[dict[str, Any]]:
    """Results as the JSON API gives them (``to_dict()``), which is what the templates read."""
    return [r.to_dict() for r in results]
