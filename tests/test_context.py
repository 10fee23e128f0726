"""Tests for archive.text.context: what passage and article vectors embed."""

from __future__ import annotations

from archive.text.context import ARTICLE_INPUT_CHARS, article_input, passage_input


def test_a_passage_is_embedded_under_its_headline_once() -> None:
    assert passage_input("Shelling went on.", "Kherson shelled") == "Kherson shelled\nShelling went on."
    assert passage_input("Kherson shelled today.", "Kherson shelled") == "Kherson shelled today."
    assert passage_input("Shelling went on.", "Kherson shelled", "text") == "Shelling went on."


def test_an_article_vector_embeds_the_headline_and_the_opening_cut_at_a_word() -> None:
    body = "word " * 1000
    made = article_input("Kherson shelled", body)
    head, rest = made.split("\n", 1)
    assert head == "Kherson shelled"
    assert len(rest) <= ARTICLE_INPUT_CHARS and rest.endswith("word") and not rest.endswith(" ")


def test_an_article_without_headline_or_text_still_has_an_input() -> None:
    assert article_input(None, "Only text.") == "Only text."
    assert article_input("Only a headline", None) == "Only a headline"
    assert article_input("Kyiv", "Kyiv talks resumed.") == "Kyiv talks resumed."
