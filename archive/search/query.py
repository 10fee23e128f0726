"""Read what a user typed: words, "quoted phrases" and -exclusions. Pure, never raises on syntax.

Quotes and a leading minus are the only syntax; everything else is text. An unbalanced quote
opens a phrase that runs to the end. FTS operators (AND, OR, NEAR, *, parentheses) are words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')


@dataclass(frozen=True)
class ParsedQuery:
    """The parts of a query: free words, phrases (each a tuple of words), and excluded words/phrases."""

    text: str  # what the embedding model reads: the query without its syntax
    words: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    excluded: tuple[tuple[str, ...], ...]

    @property
    def has_positive(self) -> bool:
        return bool(self.words or self.phrases)


def parse_query(query: str) -> ParsedQuery:
    """Split ``query`` into words, phrases and exclusions (lowercased words, stopwords kept)."""
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[tuple[str, ...]] = []
    shown: list[str] = []
    for match in _TOKEN.finditer(query):
        minus_phrase, phrase, minus_word, word = match.groups()
        if phrase is not None:
            parts = tuple(WORD.findall(phrase.lower()))
            if not parts:
                continue
            if minus_phrase:
                excluded.append(parts)
            elif len(parts) == 1:
                words.append(parts[0])
                shown.append(phrase.strip())
            else:
                phrases.append(parts)
                shown.append(phrase.strip())
            continue
        parts = tuple(WORD.findall(word.lower()))
        if minus_word and parts:
            excluded.append(parts)
        elif parts:
            words.extend(parts)
            shown.append(word)
    return ParsedQuery(" ".join(shown).strip(), tuple(words), tuple(phrases), tuple(excluded))


def content_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """Words without stopwords, in order, each once; all of them when nothing else is left."""
    kept = [w for w in words if w not in STOPWORDS] or list(words)
    return tuple(dict.fromkeys(kept))
