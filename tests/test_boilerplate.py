"""Tests for archive.text.boilerplate: what counts as learned furniture, and removing it."""

from __future__ import annotations

from archive.text.boilerplate import is_boilerplate, remove_sentences, sentence_key, sentences

SIGNUP = "Sign up to our free Ukraine war bulletin for the latest updates every morning."


def test_keys_ignore_case_and_punctuation_and_skip_short_sentences() -> None:
    assert sentence_key(SIGNUP) == sentence_key(SIGNUP.upper().replace(".", "!"))
    assert sentence_key("Photo: Reuters.") is None


def test_many_stories_weeks_apart_make_boilerplate() -> None:
    assert is_boilerplate(5, "2022-03-01", "2022-04-01")
    assert not is_boilerplate(4, "2022-03-01", "2022-06-01")  # too few stories
    assert not is_boilerplate(40, "2022-03-01", "2022-03-05")  # one news cycle: a quote, a wire story
    assert is_boilerplate(10, None, None) and not is_boilerplate(9, None, "2022-01-01")


def test_removing_sentences_keeps_the_rest_and_paragraphs() -> None:
    text = f"Russian forces shelled Kherson again on Tuesday. {SIGNUP} Officials said two people died.\n\n{SIGNUP}"
    cleaned, removed = remove_sentences(text, {sentence_key(SIGNUP) or 0})
    assert removed == 2
    assert cleaned == "Russian forces shelled Kherson again on Tuesday. Officials said two people died."


def test_nothing_to_remove_leaves_the_text_untouched() -> None:
    text = "Russian forces shelled Kherson again on Tuesday.  Officials said."
    assert remove_sentences(text, {123}) == (text, 0)
    assert [s.text for s in sentences(text)] == ["Russian forces shelled Kherson again on Tuesday."]
