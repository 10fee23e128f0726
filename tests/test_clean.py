"""Tests for archive.text.clean: normalization, headline and duplicate removal."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.text.clean import CleanedArticle, clean_article, normalize_text

SEED_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed_article.txt"
SEED_TITLE = "Putin and Trump Discuss Cease-Fire in Ukraine Conflict"

LEDE = "Russian drones struck the port of Odesa overnight, officials said on Tuesday."
HEADLINE = "Drones Hit Odesa Port as Talks Stall"
PARA_A = "The strike damaged grain silos and injured four dock workers, the governor said."
PARA_B = "Ukraine's air force said it shot down 31 of the 40 drones launched from Crimea."
PARA_C = "Diplomats in Geneva said the next round of talks had been postponed."
DUPLICATED_ARTICLE = "\n".join([HEADLINE, "", HEADLINE, LEDE, PARA_A, PARA_B, PARA_C, PARA_A, PARA_B])


def paragraphs(cleaned: CleanedArticle) -> list[str]:
    return cleaned.text.split("\n\n") if cleaned.text else []


@pytest.mark.shared
def test_seed_article_keeps_each_distinct_paragraph_once_in_order() -> None:
    if not SEED_PATH.exists():
        pytest.skip(f"seed article not found at {SEED_PATH} (needs shared/ beside the repo)")
    lines = [line for line in SEED_PATH.read_text(encoding="utf-8").splitlines() if line]
    lede, subtitle, distinct = lines[0], lines[3], lines[4:9]

    cleaned = clean_article(SEED_PATH.read_text(encoding="utf-8"))

    assert cleaned.title == SEED_TITLE
    assert paragraphs(cleaned) == [lede, subtitle, *distinct]
    # 1 second copy of the headline + 4 reprinted paragraphs; the first
    # headline copy moved to `title` and is not counted as removed.
    assert cleaned.removed == 5


def test_inline_duplicated_article_is_cleaned_without_shared_data() -> None:
    cleaned = clean_article(DUPLICATED_ARTICLE)

    assert cleaned.title == HEADLINE
    assert paragraphs(cleaned) == [LEDE, PARA_A, PARA_B, PARA_C]
    assert cleaned.removed == 3


def test_repeated_headline_is_preferred_over_an_earlier_headline_like_line() -> None:
    text = "\n".join(["Kyiv Bureau", HEADLINE, HEADLINE, LEDE])

    assert clean_article(text).title == HEADLINE


def test_long_sentence_lede_is_not_taken_as_headline() -> None:
    long_lede = " ".join(["word"] * 30) + "."
    cleaned = clean_article("\n".join([long_lede, PARA_A]))

    assert cleaned.title == ""
    assert paragraphs(cleaned) == [long_lede, PARA_A]


def test_short_first_line_becomes_headline_when_no_line_is_headline_like() -> None:
    cleaned = clean_article("\n".join([LEDE, PARA_A]))

    assert cleaned.title == LEDE
    assert paragraphs(cleaned) == [PARA_A]


def test_detect_headline_false_leaves_the_first_line_in_the_body() -> None:
    cleaned = clean_article(DUPLICATED_ARTICLE, detect_headline=False)

    assert cleaned.title == ""
    assert paragraphs(cleaned)[0] == HEADLINE
    assert paragraphs(cleaned).count(HEADLINE) == 1


def test_given_title_is_removed_from_body_ignoring_case_and_edge_punctuation() -> None:
    text = "\n".join([f"“{HEADLINE.upper()}”", LEDE, f"{HEADLINE}.", PARA_A])

    cleaned = clean_article(text, title=f"  {HEADLINE}\n")

    assert cleaned.title == HEADLINE
    assert paragraphs(cleaned) == [LEDE, PARA_A]
    assert cleaned.removed == 2


def test_blank_title_falls_back_to_detection() -> None:
    assert clean_article(DUPLICATED_ARTICLE, title=" \u00a0 ").title == HEADLINE


def test_short_lines_may_repeat_but_long_paragraphs_may_not() -> None:
    text = "\n".join([HEADLINE, PARA_A, "—", PARA_B, "—", f"  {PARA_A.upper()}  "])

    cleaned = clean_article(text)

    assert paragraphs(cleaned) == [PARA_A, "—", PARA_B, "—"]


@pytest.mark.parametrize(
    "line",
    [
        "Advertisement",
        "ADVERTISEMENT",
        "Skip to main content",
        "Skip to content",
        "Share this article",
        "Share on Facebook",
        "Follow us on Telegram",
        "Sign up for our daily Ukraine war newsletter",
        "Subscribe now",
        "Read more",
        "Read more:",
        "Related: Zelensky visits front line",
        "Click here to read the full report",
        "© 2024 Reuters. All rights reserved.",
        "(c) 2023 The Associated Press",
        "All rights reserved",
        "Photo: Reuters/Gleb Garanich",
        "Image: Getty Images",
        "Listen to this article",
        "Copy link",
        "Print",
        "Email",
    ],
)
def test_boilerplate_line_is_dropped_and_counted(line: str) -> None:
    cleaned = clean_article("\n".join([LEDE, line, PARA_A]), title=HEADLINE)

    assert paragraphs(cleaned) == [LEDE, PARA_A]
    assert cleaned.removed == 1


@pytest.mark.parametrize(
    "line",
    [
        "Related talks in Geneva stalled.",
        "Subscribers to the Kyiv Independent were told of the outage on Monday, the paper "
        "said, and the service resumed only after the strike ended and power was restored "
        "across the city and its suburbs, including the districts hit hardest overnight.",
        "Printers in Kharkiv kept working through the blackout.",
    ],
)
def test_prose_resembling_boilerplate_is_kept(line: str) -> None:
    cleaned = clean_article("\n".join([LEDE, line]), title=HEADLINE)

    assert paragraphs(cleaned) == [LEDE, line]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("line one\r\nline two\rline three", "line one\nline two\nline three"),
        ("cease\u00a0fire\tnow\u2003today", "cease fire now today"),
        ("\ufeffzero\u200bwidth\u2060joined", "zerowidthjoined"),
        ("bell\x07 and\x00 null\x1b", "bell and null"),
        ("  many    spaces  \n\n\n\n\nnext  ", "many spaces\n\nnext"),
        ("line \u2028 separated", "line\nseparated"),
        ("e\u0301", "\u00e9"),
        ("“curly quotes” stay", "“curly quotes” stay"),
        ("ﬁ ligature stays", "ﬁ ligature stays"),
        ("", ""),
    ],
)
def test_normalize_text_cases(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_normalize_text_keeps_zero_width_joiners_that_change_spelling() -> None:
    persian = "می\u200cخواهم"

    assert normalize_text(persian) == persian


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)

    assert normalize_text(once) == once


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\u00a0\n", "\u200b\ufeff"])
def test_empty_input_gives_empty_article(text: str) -> None:
    assert clean_article(text) == CleanedArticle(title="", text="", removed=0)


def test_clean_article_output_is_stable_when_cleaned_again() -> None:
    cleaned = clean_article(DUPLICATED_ARTICLE)
    again = clean_article(cleaned.text, title=cleaned.title)

    assert again.text == cleaned.text
    assert again.removed == 0


_LINE_POOL = [HEADLINE, LEDE, PARA_A, PARA_B, PARA_C, "—", "Advertisement", "Kyiv", ""]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_LINE_POOL), st.text(max_size=60)),
        max_size=12,
    )
)
def test_clean_article_is_idempotent_on_its_own_output(lines: list[str]) -> None:
    cleaned = clean_article("\n".join(lines))

    again = clean_article(cleaned.text, title=cleaned.title)

    assert again.text == cleaned.text
    assert again.title == cleaned.title
