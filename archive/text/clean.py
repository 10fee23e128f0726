"""Pure text cleaning for scraped news articles.

Scrapes arrive with the headline printed twice, paragraphs repeated by
pagination or "related content" widgets, and page furniture ("Advertisement",
"Share on X").  Everything here is a pure function: text in, data out.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

__all__ = ["CleanedArticle", "clean_article", "normalize_text"]


@dataclass(frozen=True)
class CleanedArticle:
    """The result of :func:`clean_article`.

    ``title`` is the headline ("" if none was found or given), ``text`` the
    distinct body paragraphs in original order joined by a blank line (the
    headline is not included), and ``removed`` how many repeated headlines,
    repeated paragraphs and boilerplate lines were dropped.
    """

    title: str
    text: str
    removed: int


# Line-separator characters are turned into "\n" rather than deleted, because
# deleting them would glue two paragraphs into one.
_LINE_BREAKS = re.compile(r"\r\n?|[\v\f\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
# ZWNJ (U+200C) and ZWJ (U+200D) are deliberately kept: they change spelling
# in Persian and Indic scripts and join emoji sequences.  The rest are
# invisible noise from HTML (zero-width space, word joiner, BOM, soft hyphen).
_ZERO_WIDTH = re.compile(r"[\u200b\u2060\ufeff\u00ad\u180e]")
_UNICODE_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACE_RUNS = re.compile(r" {2,}")
_BLANK_RUNS = re.compile(r"\n{3,}")

_SENTENCE_END = re.compile(r"[.!?:;][\"'\u201d\u2019\u00bb)\]]*$")
_HAS_WORD = re.compile(r"[^\W_]")  # a letter or digit, so _key() is non-empty

_HEADLINE_MAX_WORDS = 25
_HEADLINE_CANDIDATES = 3
# Below both limits a paragraph is "trivial" (a dash, "Kyiv", "Photo") and may
# legitimately repeat, so it is never treated as a duplicate.
_TRIVIAL_MAX_WORDS = 2
_TRIVIAL_MAX_CHARS = 19

# Whole-line page furniture seen in news scrapes.  Each pattern must match the
# entire line (case-insensitive), and the open-ended ones are length-capped so
# that a real paragraph that happens to start with "Subscribe" survives.
_BOILERPLATE: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"advertisement\W*",
        r"skip to (?:main )?content\W*",
        r"share (?:this|on)\b.{0,80}",
        r"follow us on\b.{0,80}",
        r"sign up\b.{0,100}\bnewsletters?\b.{0,100}",
        r"subscribe\b.{0,100}",
        r"read more\W*",
        # A short sentence such as "Related talks stalled." is prose, not a link.
        r"related\b(?!.*[.!?][\"'\u201d\u2019]?$):?(?:\s+\S+){0,7}",
        r"click here\b.{0,120}",
        r"(?:copyright\s*)?(?:\(c\)|\u00a9)\s*\d{4}\b.{0,120}",
        r"copyright\s+\d{4}\b.{0,120}",
        r"all rights reserved\W*",
        r"(?:photo|image|picture)s?(?:\s+credits?)?\s*:(?:\s*\S+(?:\s+\S+){0,11})?",
        r"listen to this article\b.{0,40}",
        r"copy link\W*",
        r"print\W*",
        r"e-?mail\W*",
    )
)


def normalize_text(text: str) -> str:
    """Normalize whitespace, invisible characters and Unicode form.

    Applies NFC (not NFKC, so curly quotes survive), turns every line-break
    variant into ``"\\n"``, removes control characters (keeping ``"\\n"`` and
    ``"\\t"`` until tabs become spaces), zero-width characters and the BOM,
    turns tabs, NBSP and other Unicode spaces into ``" "``, collapses runs of
    spaces, strips every line, collapses 3+ newlines to 2 and strips the
    whole string.  The function is idempotent.
    """
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _UNICODE_SPACES.sub(" ", text)
    text = _SPACE_RUNS.sub(" ", text)
    text = "\n".join(line.strip(" ") for line in text.split("\n"))
    text = _BLANK_RUNS.sub("\n\n", text).strip()
    # NFC last: deleting a zero-width character can bring a base letter and a
    # combining mark together, and they must compose for idempotency.
    return unicodedata.normalize("NFC", text)


def clean_article(text: str, title: str | None = None, *, detect_headline: bool = True) -> CleanedArticle:
    """Strip repeated headlines, repeated paragraphs and boilerplate.

    Each non-empty line of the normalized text is one paragraph.  The headline
    is ``title`` when it is non-empty after normalization; otherwise, if
    ``detect_headline``, it is guessed from the first three distinct lines.
    Every body line equal to the headline (compared case-, space- and
    edge-punctuation-insensitively) is dropped, as is every later repeat of
    a non-trivial paragraph and every boilerplate line.

    ``removed`` counts dropped lines, except that a detected headline's first
    occurrence is not counted: it was moved to ``title``, not thrown away.
    A given ``title`` that also appears in the body counts as a repeat.
    """
    lines = [line for line in normalize_text(text).split("\n") if line]
    kept = [line for line in lines if not _is_boilerplate(line)]
    removed = len(lines) - len(kept)

    headline = " ".join(normalize_text(title).split()) if title else ""
    headline_from_body = False
    if not headline and detect_headline:
        headline = _detect_headline(kept)
        headline_from_body = bool(headline)

    body, dropped_headlines = _drop_headline(kept, headline)
    if headline_from_body and dropped_headlines:
        dropped_headlines -= 1
    body, dropped_repeats = _drop_repeats(body)
    removed += dropped_headlines + dropped_repeats
    return CleanedArticle(title=headline, text="\n\n".join(body), removed=removed)


def _key(line: str) -> str:
    """Comparison key: casefolded, whitespace-collapsed, edge punctuation off."""
    key = " ".join(line.casefold().split())
    # A scan from both ends, because a "[\W_]+$" regex retries at every space
    # of a long line; isalnum() is exactly the regex class [^\W_].
    start, end = 0, len(key)
    while start < end and not key[start].isalnum():
        start += 1
    while end > start and not key[end - 1].isalnum():
        end -= 1
    return key[start:end]


def _is_boilerplate(line: str) -> bool:
    return any(pattern.fullmatch(line) for pattern in _BOILERPLATE)


def _is_trivial(line: str) -> bool:
    return len(line.split()) <= _TRIVIAL_MAX_WORDS and len(line) <= _TRIVIAL_MAX_CHARS


def _is_headline_like(line: str) -> bool:
    return (
        len(line.split()) <= _HEADLINE_MAX_WORDS
        and _SENTENCE_END.search(line) is None
        and _HAS_WORD.search(line) is not None
    )


def _detect_headline(lines: list[str]) -> str:
    """Guess the headline among the first few distinct lines ("" if none).

    Candidates come from the de-duplicated lines so that cleaning the output
    again sees the same candidates (idempotency); repetition is still judged
    on the full list, because a headline printed twice is the strongest clue.
    """
    candidates = _drop_repeats(lines)[0][:_HEADLINE_CANDIDATES]
    if not candidates:
        return ""
    counts = Counter(_key(line) for line in lines)
    headline_like = [line for line in candidates if _is_headline_like(line)]
    repeated = [line for line in headline_like if counts[_key(line)] > 1]
    if repeated:
        return repeated[0]
    if headline_like:
        return headline_like[0]
    first = candidates[0]
    if len(first.split()) <= _HEADLINE_MAX_WORDS and _HAS_WORD.search(first):
        return first
    return ""


def _drop_headline(lines: list[str], headline: str) -> tuple[list[str], int]:
    """Remove every line equal to the headline; return (kept, dropped)."""
    if not headline:
        return lines, 0
    target = _key(headline)
    if not target:
        # A punctuation-only title would otherwise match every "—" line.
        return lines, 0
    kept = [line for line in lines if _key(line) != target]
    return kept, len(lines) - len(kept)


def _drop_repeats(lines: list[str]) -> tuple[list[str], int]:
    """Keep the first occurrence of each non-trivial paragraph."""
    seen: set[str] = set()
    kept: list[str] = []
    for line in lines:
        if not _is_trivial(line):
            key = _key(line)
            if key in seen:
                continue
            seen.add(key)
        kept.append(line)
    return kept, len(lines) - len(kept)
