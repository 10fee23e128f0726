"""Tests for archive.text.boilerplate: what counts as learned furniture, and removing it."""

from __future__ import annotations

from archive.text.boilerplate import (
    is_boilerplate,
    is_quotation,
    longest_only,
    remove_sentences,
    sentence_key,
    sentences,
)

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


GLUED = (
    "Russia is already beginning to talk constructively,\u201d Want all the latest news and analysis from Ukraine? "
    "Sign up to our World News Bulletin here In more good news for peace talks, US officials said Russia was willing."
)


def test_a_promo_glued_to_prose_without_a_full_stop_is_its_own_segment() -> None:
    texts = [s.text for s in sentences(GLUED)]
    assert "Want all the latest news and analysis from Ukraine?" in texts
    assert "Sign up to our World News Bulletin here" in texts


def test_glued_pieces_of_plain_reporting_are_not_counted() -> None:
    text = "\u201cWe will win,\u201d Zelensky said in his nightly video address on Monday. He said the army was ready."
    # Neither the quotation nor its glued attribution ("Zelensky said in his nightly...") is counted.
    assert [s.text for s in sentences(text)] == ["He said the army was ready."]


def test_a_shouted_heading_and_a_link_cut_glued_text() -> None:
    text = "Sued over aid, http://apple.co/2HPocUL WHAT YOU NEED TO KNOW TODAY Download the ABC News app for the Note."
    texts = [s.text for s in sentences(text)]
    assert "Download the ABC News app for the Note." in texts
    assert "WHAT YOU NEED TO KNOW TODAY" in texts


def test_removing_a_learned_segment_keeps_the_prose_it_was_glued_to() -> None:
    drop = {
        sentence_key("Sign up to our World News Bulletin here") or 0,
        sentence_key("Want all the latest news and analysis from Ukraine?") or 0,
    }
    cleaned, removed = remove_sentences(GLUED, drop)
    assert removed == 2
    assert cleaned == (
        "Russia is already beginning to talk constructively,\u201d In more good news for peace talks, "
        "US officials said Russia was willing."
    )


def test_a_learned_promo_running_on_into_the_next_sentence_is_removed_by_its_opening() -> None:
    promo = "Sign up to our World News Bulletin here"
    text = f"The Kremlin has not commented. {promo} Gerasimov, a deputy commander, was killed in the fighting."
    cleaned, removed = remove_sentences(text, {sentence_key(promo) or 0})
    assert (cleaned, removed) == (
        "The Kremlin has not commented. Gerasimov, a deputy commander, was killed in the fighting.",
        1,
    )


def test_a_learned_sentence_of_plain_reporting_is_not_cut_out_of_a_longer_one() -> None:
    learned = "The Kremlin has not commented"
    text = "The Kremlin has not commented on the strike near Kherson, officials said."
    assert remove_sentences(text, {sentence_key(learned) or 0}) == (text, 0)


def test_the_opening_of_a_promo_naming_the_outlets_furniture_is_counted() -> None:
    text = "Sign up for the free Mirror newsletter Challenger tanks also arrived today in Estonia."
    texts = {s.text for s in sentences(text)}
    assert "Sign up for the free Mirror newsletter" in texts
    assert "Sign up for the free Mirror newsletter Challenger tanks also arrived today in" in texts
    assert "Sign up for the free" not in texts  # five words: quotes repeat openings that short


def test_openings_of_quotes_addressing_the_reader_are_not_counted() -> None:
    text = "Do you want to threaten them with such a prospect? Gentlemen, check those who generate them."
    assert [s.text for s in sentences(text)] == [
        "Do you want to threaten them with such a prospect?",
        "Gentlemen, check those who generate them.",
    ]


def test_a_learned_opening_followed_by_a_new_sentence_is_cut_where_it_ends() -> None:
    promo = "Sign up for the free Mirror newsletter"
    text = f"Britain is bolstering NATO numbers. {promo} Challenger tanks also arrived today."
    assert remove_sentences(text, {sentence_key(promo) or 0}) == (
        "Britain is bolstering NATO numbers. Challenger tanks also arrived today.",
        1,
    )


def test_a_learned_editorial_note_goes_with_the_rest_of_its_sentence() -> None:
    opening = "CORRECTION: This story has been updated to"
    text = (
        "The budget is capped at $770 million. "
        "CORRECTION: This story has been updated to reflect that the formula was agreed this week."
    )
    assert remove_sentences(text, {sentence_key(opening) or 0}) == ("The budget is capped at $770 million.", 1)


def test_a_listing_keeps_a_learned_promo_once_not_again_by_its_openings() -> None:
    texts = [
        "Sign up for the free Mirror newsletter today",
        "Sign up for the free Mirror newsletter",
        "Sign up for the free Mirror",
        "Sign up for the Daily",
    ]
    # The whole promo is listed once, with its shortest learned opening (the broadest rule).
    assert longest_only(texts) == [2, None, None, 3]


def test_quotations_are_never_counted_however_often_a_long_story_repeats_them() -> None:
    text = (
        "\u201cI just keep hearing that, you know, he has the power. "
        "\u201cShe's a political pawn,\u201d she said. Former Marine Paul Whelan has been detained since 2019."
    )
    assert [s.text for s in sentences(text)] == ["Former Marine Paul Whelan has been detained since 2019."]
    assert is_quotation("\u201cShe's a political pawn,\u201d his wife Cherelle told reporters.")
    assert not is_quotation('Download the ABC News app and select "The Note" as an item of interest.')


def test_a_promo_glued_after_a_quotation_is_still_counted() -> None:
    text = "\u201cWe will win,\u201d Zelensky said Sign up to our World News Bulletin here"
    texts = [s.text for s in sentences(text)]
    assert "Sign up to our World News Bulletin here" in texts
    assert not any(t.startswith("\u201cWe") for t in texts)
