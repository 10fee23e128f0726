"""Tests for archive.search.query: words, phrases and exclusions from user text."""

from __future__ import annotations

import pytest

from archive.search.query import content_words, parse_query


def test_quoted_text_is_a_phrase_and_minus_excludes() -> None:
    parsed = parse_query('"nuclear plant" shelling -Trump -"grain deal"')
    assert parsed.phrases == (("nuclear", "plant"),)
    assert parsed.words == ("shelling",)
    assert parsed.excluded == (("trump",), ("grain", "deal"))
    assert parsed.text == "nuclear plant shelling"


def test_an_unbalanced_quote_runs_to_the_end() -> None:
    assert parse_query('strike on "Kramatorsk station').phrases == (("kramatorsk", "station"),)


def test_a_hyphen_inside_a_word_is_not_an_exclusion() -> None:
    parsed = parse_query("cease-fire talks")
    assert parsed.excluded == () and parsed.words == ("cease", "fire", "talks")


@pytest.mark.parametrize("text", ['"', "-", "((", "*", "'", '""'])
def test_punctuation_alone_has_no_terms(text: str) -> None:
    parsed = parse_query(text)
    assert not parsed.has_positive and parsed.excluded == ()


def test_content_words_drop_stopwords_unless_nothing_is_left() -> None:
    assert content_words(("the", "siege", "of", "mariupol", "siege")) == ("siege", "mariupol")
    assert content_words(("the", "of")) == ("the", "of")
