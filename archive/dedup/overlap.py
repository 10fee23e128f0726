"""Do two passages share a long span of text, whatever their chunk boundaries? Pure.

Containment of word 8-grams: the share of the shorter text's 8-grams that the other holds.
A syndicated paragraph cut at different places, or lightly edited, keeps most of its 8-grams;
two reports of the same event in their own words share almost none.
"""

from __future__ import annotations

import re

SPAN_WORDS = 8
# Half of the shorter passage's 8-grams in the other: a shared run of ~50+ words in 128-token passages.
CONTAINMENT = 0.5
_WORD = re.compile(r"\w+")


def spans(text: str, n: int = SPAN_WORDS) -> frozenset[int]:
    """Hashes of the word ``n``-grams of ``text`` (lowercased); a short text gives its whole word run."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset({hash(tuple(words))}) if words else frozenset()
    if n == 8:  # SPAN_WORDS: the n-grams as tuples, built in C (eight slices named: a third faster than a generator)
        w = words
        return frozenset(map(hash, zip(w, w[1:], w[2:], w[3:], w[4:], w[5:], w[6:], w[7:])))
    return frozenset(map(hash, zip(*(words[i:] for i in range(n)))))


def containment(a: frozenset[int], b: frozenset[int]) -> float:
    """Share of the smaller set found in the other (0 when either is empty)."""
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return len(small & large) / len(small)


def share_a_span(a: frozenset[int], b: frozenset[int], threshold: float = CONTAINMENT) -> bool:
    return containment(a, b) >= threshold
