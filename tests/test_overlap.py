"""Tests for archive.dedup.overlap: shared spans of text whatever the chunk boundaries."""

from __future__ import annotations

import re

import pytest

from archive.dedup.overlap import containment, share_a_span, spans

PARAGRAPH = (
    "The International Committee of the Red Cross said its teams delivered insulin, surgical kits and blankets "
    "to the two hospitals still working in the besieged city after a local truce allowed a convoy to cross."
)


def test_the_same_paragraph_cut_elsewhere_shares_a_span() -> None:
    a = "Shelling went on overnight. " + PARAGRAPH
    b = PARAGRAPH.replace("blankets", "warm blankets") + " Officials asked for fuel and generators."
    assert share_a_span(spans(a), spans(b))


def test_two_reports_in_their_own_words_do_not() -> None:
    other = "Aid trucks reached two hospitals in the encircled city on Wednesday, the Red Cross said, after a truce."
    assert containment(spans(PARAGRAPH), spans(other)) < 0.2
    assert not share_a_span(spans(PARAGRAPH), spans(other))


def test_empty_text_shares_nothing() -> None:
    assert containment(spans(""), spans(PARAGRAPH)) == 0.0


@pytest.mark.parametrize("n", [3, 8, 9])
def test_spans_are_the_hashes_of_every_word_n_gram(n: int) -> None:
    words = re.findall(r"\w+", PARAGRAPH.lower())
    expected = {hash(tuple(words[i : i + n])) for i in range(len(words) - n + 1)}
    assert spans(PARAGRAPH, n) == expected
    assert spans("Kyiv, Kharkiv", n) == {hash(("kyiv", "kharkiv"))}  # shorter than n: the whole run
