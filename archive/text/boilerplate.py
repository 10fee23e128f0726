"""Learned boilerplate: sentences an outlet prints in many unrelated articles. Pure functions.

Scraped news carries outlet furniture that no fixed list foresees: newsletter and bulletin
sign-ups, "not responsible for the content of external sites", reader call-outs with an
e-mail address, author bios, app and podcast promos, the same photo caption in unrelated
articles. What they share is that one outlet repeats them word for word across stories
published weeks apart. The store counts, per outlet, the distinct stories each sentence
appears in and over how many days (the store's sentence counts); a sentence that
crosses :func:`is_boilerplate`'s bar is removed from that outlet's articles. A sentence shared
only by copies of one story (a wire report, a quote carried for a few days) never crosses it:
copies count once, and a news cycle is shorter than the span required. Nor does a quotation: a
story that runs for months (a trial, a detention) quotes the same words in follow-ups weeks apart,
so a sentence that opens with a quotation mark or attributes speech ("...," she said) is never
counted (:func:`is_quotation`); furniture is never somebody's quoted words.

Scraped single-line text often glues a promo to the prose around it without a full stop
("...talk constructively,” Want all the latest news from Ukraine? Sign up to our World News
Bulletin here In more good news..."), so the glued sentence is different every time and never
recurs. :func:`sentences` therefore also yields the *segments* of a sentence cut where text was
glued: after a closing quote, where a lowercase word runs into a capitalised sentence opener,
around a run of capitals and after a link. Only segments that address the reader or name the
outlet's own products (``_READER_CUE``: you, sign up, newsletter, app, podcast, e-mail us, a
question...) are counted; the formulaic pieces of reporting such cuts also produce ("Zelensky
said in his nightly address") are not, so they can never be learned as furniture. A learned
promo glued with no mark at all to the sentence after it is removed by its opening words
(:func:`remove_sentences`).

Such a run-on promo never recurs whole, and neither does an editorial note that goes on
differently each time ("CORRECTION: This story has been updated to reflect that ..."). So the
*openings* of sentences and segments are counted too: their first :data:`MIN_OPENING_WORDS` to
:data:`MAX_OPENING_WORDS` words, but only when those words already name the outlet's own furniture
within their first :data:`CUE_WITHIN_WORDS` words (``_PROMO_CUE``: sign up, newsletter, podcast,
free trial, download the, click here, e-mail us, "CORRECTION:", an editorial note) -- not a bare
"you" or question, which quotes repeated for weeks also hold. A learned opening is
removed up to where it ends when capitalised text follows it (a run-on), and with the rest of its
sentence when the sentence goes on in lowercase (the note's own words).
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from archive.text.chunk import split_sentences

MAX_OPENING_WORDS = 30  # longest learned segment looked for at the start of a run-on sentence
MIN_OPENING_WORDS = 6  # shortest opening counted: five-word openings of quotes recur for weeks
MIN_WORDS = 4  # shorter sentences ("Photo: Reuters.", "Kyiv.") are left to the fixed list
MIN_STORIES = 5  # distinct stories of one outlet holding the sentence
MIN_SPAN_DAYS = 21  # between the first and the last of them: longer than one story's news cycle
MIN_STORIES_UNDATED = 10  # when publication dates are unknown, ask for more stories instead
_WORD = re.compile(r"\w+")
# Where glued text joins: after a closing quote that follows punctuation; between a lowercase
# word and a capitalised sentence opener; before and after a run of three or more capitalised
# words (a shouted heading); after a link.
_OPENERS = (
    "A|An|And|Are|As|But|Click|Do|Download|Email|Follow|For|Get|Have|He|How|If|In|Is|It|Join|Listen|"
    "Meanwhile|Read|She|Sign|Subscribe|The|They|This|Want|Watch|We|What|When|You"
)
OPENERS = frozenset(_OPENERS.split("|"))  # capitalised words that open a sentence glued to the one before
_GLUE = re.compile(
    r"(?<=[,.!?;:][\"\u201d\u2019]) +(?=[A-Z])"
    rf"|(?<=[a-z]) +(?=(?:{_OPENERS})\b)"
    r"|(?<=[a-z,]) +(?=(?:[A-Z]{2,}\b[ ,']*){3})"
    r"|\b(?:[A-Z]{2,}[ ,']+){2}[A-Z]{2,}(?P<after_caps> +)(?=[A-Z][a-z])"
    r"|https?://\S+(?P<after_link> +)"
)
# What names an outlet's own furniture: counted openings must hold one of these, early on.
_PROMO = (
    r"sign[- ]up|subscribe|newsletters?|inbox|podcasts?|click here|download (?:the|our)|"
    r"e-?mail (?:us|me)|follow (?:us|me)|free trial|our (?:website|site|coverage|live|latest)|"
    r"correction\s*:|editor'?s note|(?:this|the) (?:story|article|report) (?:has been|was) (?:updated|corrected|amended)"
)
_PROMO_CUE = re.compile(rf"\b(?:{_PROMO})(?!\w)", re.IGNORECASE)
CUE_WITHIN_WORDS = 8  # an opening's cue starts among its first words ("Go to Fox Nation to start a free trial")
# What a glued piece must hold to be counted: it addresses the reader or names the outlet's products.
_READER_CUE = re.compile(
    r"\b(?:you|your|sign[- ]up|subscribe|newsletters?|bulletins?|inbox|download|app|podcasts?|click|"
    rf"e-?mail (?:us|me)|follow (?:us|me)|our (?:website|site|coverage|live|latest))\b|\?\s*$|\b(?:{_PROMO})(?!\w)",
    re.IGNORECASE,
)
_QUOTE_OPENS = re.compile(r"^\W*[\"\u201c\u2018\u00ab\u201e]")
_SPEECH_VERBS = r"(?:said|says|told|wrote|writes|added|asked|tweeted|stated|explained|continued)"
_SPEECH = re.compile(
    rf"[,.!?][\"\u201d\u2019]\s+(?:\w+\s+){{0,3}}?{_SPEECH_VERBS}\b"  # "...," she said
    rf"|\b{_SPEECH_VERBS}(?:\s+\w+)?\s*[:,]\s*[\"\u201c\u2018]",  # she said: "..." / told reporters, "..."
    re.IGNORECASE,
)
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
    """What is counted of ``text``: its sentences long enough to be judged, the segments of glued
    sentences that address the reader and the openings that name furniture, each with its key,
    quotations left out (see the module docstring); spans may overlap."""
    return _judged(text, _split(text))


_Split = list[tuple[int, int, list[tuple[int, int]]]]  # (sentence start, end, its glued pieces)


def _split(text: str) -> _Split:
    """Every sentence of ``text`` with the pieces it is cut into where glued text joins."""
    return [(start, end, glued_pieces(text, start, end)) for start, end in split_sentences(text)]


def is_quotation(sentence: str) -> bool:
    """Does ``sentence`` open with a quotation mark or attribute speech to someone?"""
    return _QUOTE_OPENS.search(sentence) is not None or _SPEECH.search(sentence) is not None


def _judged(text: str, split: _Split, *, counting: bool = True) -> list[Sentence]:
    """Sentences and glued segments; when ``counting``, also openings, and never a quotation."""
    found = []
    for start, end, pieces in split:
        key = sentence_key(text[start:end])
        quoted = counting and is_quotation(text[start:end])
        if key is not None and not quoted:
            found.append(Sentence(start, end, key, text[start:end]))
        glued = _glued_segments(text, pieces)
        if counting:
            glued = [s for s in glued if not is_quotation(s.text)]
            if len(pieces) > 1:
                unquoted = [(a, b) for a, b in pieces if not is_quotation(text[a:b])]
            else:
                unquoted = [] if quoted else pieces  # the one piece is the sentence, already judged
            glued += _openings(text, unquoted)
        found.extend(glued)
    return found


def glued_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The spans of the sentence ``text[start:end]`` cut where glued text joins (itself when nothing is)."""
    cuts = []
    for match in _GLUE.finditer(text, start, end):
        after = (match.group("after_link") and "after_link") or (match.group("after_caps") and "after_caps")
        cut_start = match.start(after) if after else match.start()
        if start < cut_start and match.end() < end:
            cuts.append((cut_start, match.end()))
    starts = [start, *(cut_end for _, cut_end in cuts)]
    ends = [*(cut_start for cut_start, _ in cuts), end]
    return list(zip(starts, ends, strict=True))


def _openings(text: str, pieces: list[tuple[int, int]]) -> list[Sentence]:
    """The openings of ``pieces`` that name the outlet's furniture (see the module docstring)."""
    found = []
    for piece_start, piece_end in pieces:
        cue = _PROMO_CUE.search(text, piece_start, piece_end)
        words = list(_WORD.finditer(text, piece_start, piece_end)) if cue is not None else []
        if (
            cue is None
            or len(words) <= MIN_OPENING_WORDS
            or cue.start() > words[min(CUE_WITHIN_WORDS, len(words)) - 1].start()
        ):
            continue
        for n in range(MIN_OPENING_WORDS, min(len(words) - 1, MAX_OPENING_WORDS) + 1):
            end = words[n - 1].end()
            key = sentence_key(text[piece_start:end]) if end >= cue.end() else None
            if key is not None:
                found.append(Sentence(piece_start, end, key, text[piece_start:end]))
    return found


def _glued_segments(text: str, pieces: list[tuple[int, int]]) -> list[Sentence]:
    """The reader-addressing ``pieces`` of a sentence, when it was glued from several."""
    if len(pieces) < 2:
        return []
    found = []
    for piece_start, piece_end in pieces:
        piece = text[piece_start:piece_end]
        key = sentence_key(piece)
        if key is not None and _READER_CUE.search(piece):
            found.append(Sentence(piece_start, piece_end, key, piece))
    return found


def _learned_openings(text: str, split: _Split, drop: Collection[int]) -> list[Sentence]:
    """Learned reader-addressing segments glued, with no mark at all, to the start of what follows them.

    "Sign up to our World News Bulletin here Putin could..." runs on into whatever the next
    sentence happens to be, so it is found by its learned opening words, not by a cut.
    """
    found = []
    for _, _, pieces in split:
        for piece_start, piece_end in pieces:
            # Every opening tried below must hold a reader cue, and any cue an opening holds is in its piece:
            # most pieces hold none, and their 25 opening keys need not be computed.
            if _READER_CUE.search(text[piece_start:piece_end]) is None:
                continue
            words = list(_WORD.finditer(text, piece_start, piece_end))
            best = None
            for n in range(MIN_WORDS, min(len(words) - 1, MAX_OPENING_WORDS) + 1):
                if sentence_key(text[piece_start : words[n - 1].end()]) in drop:
                    best = words[n - 1].end()
            if best is not None and _READER_CUE.search(text[piece_start:best]):
                end = piece_end if _goes_on_in_lowercase(text, best, piece_end) else best
                found.append(Sentence(piece_start, end, 0, text[piece_start:end]))
    return found


def _goes_on_in_lowercase(text: str, position: int, end: int) -> bool:
    """Does the sentence go on past ``position`` in lowercase (one sentence, not glued text)?"""
    rest = text[position:end].lstrip(" ,;:-\u2013\u2014")
    return rest[:1].islower()


def longest_only(texts: Sequence[str]) -> list[int | None]:
    """For each text: None when it is the opening words of another of ``texts`` (listed with it), else
    the index of its shortest learned opening (itself when it has none): a promo learned whole is
    also learned by its openings, and the shortest is the broadest rule that removes text.
    """
    keys = [" ".join(_WORD.findall(text.casefold())) for text in texts]
    index_of = {key: n for n, key in reversed(list(enumerate(keys)))}
    ordered = sorted(index_of)
    found: list[int | None] = []
    for n, key in enumerate(keys):
        at = bisect.bisect_right(ordered, key + " ")
        if at < len(ordered) and ordered[at].startswith(key + " "):
            found.append(None)
            continue
        words = key.split(" ")
        shorter = (index_of.get(" ".join(words[:size])) for size in range(MIN_OPENING_WORDS, len(words)))
        found.append(next((i for i in shorter if i is not None), n))
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
    split = _split(text)
    learned = [s for s in _judged(text, split, counting=False) if s.key in drop]
    learned += _learned_openings(text, split, drop)
    if not learned:
        return text, 0
    return drop_spans(text, [(s.start, s.end) for s in learned])


def drop_spans(text: str, spans: Collection[tuple[int, int]]) -> tuple[str, int]:
    """``text`` without the character ``spans`` (they may overlap or nest), spaces tidied; and how many
    were removed (a span inside another is not counted).

    Paragraph breaks stay; a paragraph left empty disappears.
    """
    pieces, position = [], 0
    outermost = _outermost(spans)
    for start, end in outermost:
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    joined = "".join(pieces)
    lines = [_SPACE_RUNS.sub(" ", line).strip() for line in joined.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip(), len(outermost)


def _outermost(spans: Collection[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans not inside an earlier one, in text order (a span that starts inside one is cut to its end)."""
    kept: list[tuple[int, int]] = []
    position = 0
    for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
        if end <= position:
            continue  # a segment inside a sentence already removed
        kept.append((max(position, start), end))
        position = end
    return kept


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
