"""Learned boilerplate: sentences an outlet prints in many unrelated articles. Pure functions.

Scraped news carries outlet furniture that no fixed list foresees: newsletter and bulletin
sign-ups, "not responsible for the content of external sites", reader call-outs with an
e-mail address, author bios, app and podcast promos, the same photo caption in unrelated
articles. What they share is that one outlet repeats them word for word across stories
published weeks apart. The store counts, per outlet, the distinct stories each sentence
appears in and over how many days (the store's sentence counts); a sentence that
crosses :func:`is_boilerplate`'s bar is removed from that outlet's articles. A sentence shared
only by copies of one story (a wire report, a quote carried for a few days) never crosses it:
copies count once, and a news cycle is shorter than the span required.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from archive.text.chunk import split_sentences

MIN_WORDS = 4  # shorter sentences ("Photo: Reuters.", "Kyiv.") are left to the fixed list
MIN_STORIES = 5  # distinct stories of one outlet holding the sentence
MIN_SPAN_DAYS = 21  # between the first and the last of them: longer than one story's news cycle
MIN_STORIES_UNDATED = 10  # when publication dates are unknown, ask for more stories instead
_WORD = re.compile(r"\w+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_SPACE_RUNS = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True)
class Sentence:
    """A sentence of a text: where it is, its comparison key, and its text."""

    start: int
    end: int
    key: int
    text: str


def sentence_key(sentence: str) -> int | None:
    """A signed 64-bit key of a sentence's words (case- and punctuation-blind); None when too short."""
    words = _WORD.findall(sentence.casefold())
    if len(words) < MIN_WORDS:
        return None
    digest = hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def sentences(text: str) -> list[Sentence]:
    """The sentences of ``text`` long enough to be judged, with their keys."""
    found = []
    for start, end in split_sentences(text):
        key = sentence_key(text[start:end])
        if key is not None:
            found.append(Sentence(start, end, key, text[start:end]))
    return found


def is_boilerplate(stories: int, first: str | None, last: str | None) -> bool:
    """Does a sentence seen in ``stories`` distinct stories, published from ``first`` to ``last``, count as furniture?"""
    if first is None or last is None:
        return stories >= MIN_STORIES_UNDATED
    first_day, last_day = _day(first), _day(last)
    span = (last_day - first_day).days if first_day is not None and last_day is not None else 0
    return stories >= MIN_STORIES and span >= MIN_SPAN_DAYS


def remove_sentences(text: str, drop: Collection[int]) -> tuple[str, int]:
    """``text`` without the sentences whose key is in ``drop``; and how many were removed.

    Paragraph breaks stay; a paragraph left empty disappears.
    """
    if not drop:
        return text, 0
    doomed = [s for s in sentences(text) if s.key in drop]
    if not doomed:
        return text, 0
    pieces, position = [], 0
    for sentence in doomed:
        pieces.append(text[position : sentence.start])
        position = sentence.end
    pieces.append(text[position:])
    joined = "".join(pieces)
    lines = [_SPACE_RUNS.sub(" ", line).strip() for line in joined.split("\n")]
    cleaned = _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
    return cleaned, len(doomed)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
