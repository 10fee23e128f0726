"""Pure, token-aware, sentence-aware chunking with character offsets.

Every chunk is an exact slice of the input (``text[char_start:char_end]``), so
search results can be highlighted in the original article.  Token counts are
computed once per sentence (or word) and summed, which is exact for counters
that are additive over whitespace-separated pieces (BERT wordpiece is); each
finished chunk is still re-counted once so the bound holds for any counter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Chunk",
    "TokenCounter",
    "approx_token_count",
    "bounded_counter",
    "chunk_text",
    "split_sentences",
]

TokenCounter = Callable[[str], int]
"""Counts the tokens of a text, WITHOUT special tokens such as [CLS]/[SEP]."""

MIN_MAX_TOKENS = 8
# BERT WordPiece turns a word longer than this (max_input_chars_per_word) into one [UNK]:
# a 999,000-character run would count as one token. Counting goes by pieces of this size.
MAX_WORD_CHARS = 100
_LONG_RUN = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")


@dataclass(frozen=True)
class Chunk:
    """One chunk: ``text == source[char_start:char_end]``."""

    ordinal: int
    text: str
    char_start: int
    char_end: int
    token_count: int


@dataclass(frozen=True)
class _Unit:
    """The smallest thing packed into chunks: a sentence, word or word piece."""

    start: int
    end: int
    tokens: int
    paragraph_start: bool


# CJK ideographs are one wordpiece each in BERT vocabularies, so they are
# counted one by one.  ASCII and other letters form separate runs because
# non-Latin words split into far more wordpieces in English vocabularies;
# keeping the classes apart also makes the count monotone and subadditive
# (count(a + b) <= count(a) + count(b)) when a word is cut by characters.
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_ASCII_RUN = re.compile(r"[A-Za-z0-9]+")
_OTHER_RUN = re.compile(rf"[^\W_A-Za-z0-9{_CJK}]+")
_ONE_TOKEN_CHAR = re.compile(rf"[{_CJK}_]|[^\w\s]")
_ASCII_CHARS_PER_TOKEN = 6
_OTHER_CHARS_PER_TOKEN = 2

_LINE = re.compile(r"[^\n]+")
_WORD = re.compile(r"\S+")
_NON_SPACE = re.compile(r"\S")
_CLOSERS = "\"'\u201d\u2019\u00bb)]"
# The lookbehind lets a match start only at the first of a run of stops, which
# keeps lines such as "......" linear (no possessive quantifiers on 3.10).
_TERMINATOR = re.compile(rf"(?<![.!?\u2026])[.!?\u2026]+[{re.escape(_CLOSERS)}]*(?=\s+(\S))")
_ABBREVIATION_WINDOW = 16
_OPENERS = "\"'\u201c\u2018\u00ab(["
_DOTTED_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")

# Words that end with a period but almost never end a sentence in news copy.
# "etc" and "a.m."/"p.m." are left out on purpose: they often do end one.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "sgt",
        "cpl",
        "pvt",
        "adm",
        "cmdr",
        "brig",
        "prof",
        "sen",
        "rep",
        "gov",
        "pres",
        "rev",
        "hon",
        "jr",
        "sr",
        "mt",
        "ft",
        "no",
        "vs",
        "approx",
        "est",
        "dept",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "e.g",
        "i.e",
    ]
)


def approx_token_count(text: str) -> int:
    """Cheap, deterministic over-estimate of BERT wordpiece tokens.

    Counts each punctuation character and CJK ideograph as one token, each
    run of ASCII letters and digits as ``ceil(len / 6)`` tokens and each run
    of other letters as ``ceil(len / 2)``.  Pieces never span whitespace, so
    the count is additive: ``count(a + " " + b) == count(a) + count(b)``.
    """
    # Three C-level scans beat one Python loop over every match (hot path).
    ascii_runs = _ASCII_RUN.findall(text)
    other_runs = _OTHER_RUN.findall(text)
    return (
        len(_ONE_TOKEN_CHAR.findall(text))
        + len(ascii_runs)
        + sum((len(run) - 1) // _ASCII_CHARS_PER_TOKEN for run in ascii_runs)
        + len(other_runs)
        + sum((len(run) - 1) // _OTHER_CHARS_PER_TOKEN for run in other_runs)
    )


def bounded_counter(count_tokens: TokenCounter) -> TokenCounter:
    """``count_tokens``, except that a run of non-space characters is counted in 100-character pieces.

    Text without such runs counts exactly as before; a long run counts at least one
    token per 100 characters, so a token budget also bounds the text's length.
    """
    if getattr(count_tokens, "_bounded", False):
        return count_tokens

    def count(text: str) -> int:
        if _LONG_RUN.search(text) is None:
            return count_tokens(text)
        return count_tokens(_LONG_RUN.sub(_spaced, text))

    count._bounded = True  # type: ignore[attr-defined]
    return count


def _spaced(match: re.Match[str]) -> str:
    run = match.group(0)
    return " ".join(run[i : i + MAX_WORD_CHARS] for i in range(0, len(run), MAX_WORD_CHARS))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return ``(start, end)`` spans of the sentences in ``text``.

    Spans exclude surrounding whitespace and together cover every
    non-whitespace character.  Newlines are hard boundaries.  A sentence ends
    at ``.``, ``!``, ``?`` or ``…`` (plus any closing quotes or brackets)
    followed by whitespace, unless the next word starts with a lowercase
    letter, or the period closes a decimal, an initial ("J."), an uppercase
    acronym ("U.S."), or a known abbreviation ("Mr.", "Gen.", "Jan.", "e.g.").
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        start = _first_non_space(text, line.start(), line.end())
        if start is None:
            continue
        for match in _TERMINATOR.finditer(text, start, line.end()):
            if _is_sentence_end(text, match, start):
                spans.append((start, match.end()))
                start = match.start(1)
        spans.append((start, _last_non_space_end(text, start, line.end())))
    return spans


def chunk_text(
    text: str,
    *,
    max_tokens: int = 128,
    overlap_tokens: int = 24,
    count_tokens: TokenCounter = approx_token_count,
) -> list[Chunk]:
    """Split ``text`` into overlapping chunks of whole sentences.

    Sentences are packed greedily while their token total stays within
    ``max_tokens``; a paragraph break ("\\n\\n") starts a new chunk once the
    current one is at least half full.  A sentence longer than
    ``max_tokens`` is split at spaces (and a longer word by characters).
    Each chunk after the first starts with the trailing sentences of the
    previous chunk worth at most ``overlap_tokens`` (never the whole previous
    chunk).  ``count_tokens(chunk.text) <= max_tokens`` holds for every chunk,
    with runs of over 100 non-space characters counted in 100-character pieces
    (:func:`bounded_counter`: a tokenizer would count such a run as one token).

    Raises:
        ValueError: ``max_tokens < 8``, ``overlap_tokens < 0``,
            ``overlap_tokens >= max_tokens``, or ``count_tokens`` rates a
            single character above ``max_tokens``.
    """
    _validate_limits(max_tokens, overlap_tokens)
    bounded = bounded_counter(count_tokens)
    units = _make_units(text, max_tokens, bounded)
    chunks: list[Chunk] = []
    begin = fresh = 0
    while fresh < len(units):
        begin = _fit_overlap(units, begin, fresh, max_tokens)
        end = _extend(units, begin, fresh, max_tokens)
        begin, end, tokens = _enforce_limit(text, units, begin, fresh, end, max_tokens, bounded)
        start, stop = units[begin].start, units[end - 1].end
        piece = text[start:stop]
        if _LONG_RUN.search(piece) is not None:  # the bound was kept by pieces; record the plain count
            tokens = count_tokens(piece)
        chunks.append(Chunk(len(chunks), piece, start, stop, tokens))
        fresh = end
        begin = _overlap_begin(units, begin, end, overlap_tokens)
    return chunks


def _validate_limits(max_tokens: int, overlap_tokens: int) -> None:
    if max_tokens < MIN_MAX_TOKENS:
        raise ValueError(
            f"max_tokens must be at least {MIN_MAX_TOKENS}, got {max_tokens}; "
            "use the embedding model's max_seq_length minus its special tokens"
        )
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(
            f"overlap_tokens must be >= 0 and < max_tokens ({max_tokens}), "
            f"got {overlap_tokens}; use 0 to disable overlap"
        )


def _first_non_space(text: str, start: int, end: int) -> int | None:
    match = _NON_SPACE.search(text, start, end)
    return match.start() if match else None


def _last_non_space_end(text: str, start: int, end: int) -> int:
    return start + len(text[start:end].rstrip())


def _is_sentence_end(text: str, match: re.Match[str], sentence_start: int) -> bool:
    """Decide whether a terminator followed by whitespace ends the sentence."""
    following = match.group(1)
    if following.islower():
        return False
    if match.group(0).rstrip(_CLOSERS) != ".":
        return True
    if following.isdigit():
        # "No. 10", "Jan. 5": a sentence starting with a digit is rare in news.
        return False
    word = _word_before(text, sentence_start, match.start()).lstrip(_OPENERS)
    if len(word) == 1 and word.isalpha():
        return False  # an initial, as in "John F. Kennedy"
    if word.isupper() and _DOTTED_ACRONYM.fullmatch(word):
        return False  # "U.S. Army", "U.N. Security Council"
    return word.casefold() not in _ABBREVIATIONS


def _word_before(text: str, sentence_start: int, end: int) -> str:
    """The non-space run ending at ``end`` ("" if longer than any abbreviation).

    Looking back a bounded distance keeps sentence splitting linear even for
    lines full of periods.
    """
    low = max(sentence_start, end - _ABBREVIATION_WINDOW)
    window = text[low:end]
    if not window or window[-1].isspace():
        return ""
    words = window.split()
    if len(words) == 1 and low > sentence_start and not text[low - 1].isspace():
        return ""
    return words[-1]


def _make_units(text: str, max_tokens: int, count_tokens: TokenCounter) -> list[_Unit]:
    """Sentences, with those over the limit broken into words and pieces."""
    units: list[_Unit] = []
    previous_end = 0
    for start, end in split_sentences(text):
        paragraph_start = bool(units) and text.count("\n", previous_end, start) >= 2
        previous_end = end
        tokens = count_tokens(text[start:end])
        if tokens <= max_tokens:
            units.append(_Unit(start, end, tokens, paragraph_start))
            continue
        for word in _WORD.finditer(text, start, end):
            for piece_start, piece_end, piece_tokens in _split_word(
                text, word.start(), word.end(), max_tokens, count_tokens
            ):
                units.append(_Unit(piece_start, piece_end, piece_tokens, paragraph_start))
                paragraph_start = False
    return units


def _split_word(
    text: str, start: int, end: int, max_tokens: int, count_tokens: TokenCounter
) -> list[tuple[int, int, int]]:
    """Return ``(start, end, tokens)`` pieces of one word, each within the limit."""
    tokens = count_tokens(text[start:end])
    if tokens <= max_tokens:
        return [(start, end, tokens)]
    pieces: list[tuple[int, int, int]] = []
    while start < end:
        size = _longest_fitting_prefix(text, start, end, max_tokens, count_tokens)
        pieces.append((start, start + size, count_tokens(text[start : start + size])))
        start += size
    return pieces


def _longest_fitting_prefix(text: str, start: int, end: int, max_tokens: int, count_tokens: TokenCounter) -> int:
    """Galloping then binary search: O(n log n) counting, not O(n^2)."""
    remaining = end - start
    fits, size = 0, 1
    while True:
        size = min(size, remaining)
        if count_tokens(text[start : start + size]) > max_tokens:
            break
        fits = size
        if size == remaining:
            return fits
        size *= 2
    too_big = size
    while too_big - fits > 1:
        middle = (fits + too_big) // 2
        if count_tokens(text[start : start + middle]) <= max_tokens:
            fits = middle
        else:
            too_big = middle
    if fits == 0:
        raise ValueError(
            f"count_tokens rates the single character {text[start]!r} above "
            f"max_tokens={max_tokens}; pass a counter that excludes special tokens"
        )
    return fits


def _fit_overlap(units: list[_Unit], begin: int, fresh: int, max_tokens: int) -> int:
    """Drop leading overlap units until the first fresh unit fits beside them."""
    total = sum(unit.tokens for unit in units[begin:fresh]) + units[fresh].tokens
    while begin < fresh and total > max_tokens:
        total -= units[begin].tokens
        begin += 1
    return begin


def _extend(units: list[_Unit], begin: int, fresh: int, max_tokens: int) -> int:
    """Greedily add units after ``fresh``; return the exclusive end index."""
    total = sum(unit.tokens for unit in units[begin : fresh + 1])
    end = fresh + 1
    while end < len(units) and total + units[end].tokens <= max_tokens:
        if units[end].paragraph_start and 2 * total >= max_tokens:
            break
        total += units[end].tokens
        end += 1
    return end


def _enforce_limit(
    text: str,
    units: list[_Unit],
    begin: int,
    fresh: int,
    end: int,
    max_tokens: int,
    count_tokens: TokenCounter,
) -> tuple[int, int, int]:
    """Re-count the joined chunk; shrink it if the counter is not additive.

    Trailing units go first (they simply start the next chunk), then overlap
    units; the first fresh unit always stays so that chunking makes progress.
    """
    while True:
        tokens = count_tokens(text[units[begin].start : units[end - 1].end])
        if tokens <= max_tokens or (begin == fresh and end == fresh + 1):
            return begin, end, tokens
        if end > fresh + 1:
            end -= 1
        else:
            begin += 1


def _overlap_begin(units: list[_Unit], begin: int, end: int, overlap_tokens: int) -> int:
    """First unit of the next chunk's overlap (``end`` when there is none).

    The overlap never reaches back to ``begin``: a chunk that contains the
    whole previous chunk would make that one redundant in search results.
    """
    total = 0
    overlap = end
    while overlap - 1 > begin and total + units[overlap - 1].tokens <= overlap_tokens:
        overlap -= 1
        total += units[overlap].tokens
    return overlap
