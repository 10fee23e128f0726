"""Tests for archive.text.furniture: newsroom furniture found by its form, at sentence level."""

from __future__ import annotations

import pytest

from archive.text.furniture import remove_furniture

PROSE = "Shelling hit the northern district overnight. Rescue crews worked until dawn to reach the wounded."


def _removed(text: str) -> str:
    cleaned, count = remove_furniture(text)
    assert count > 0, text
    assert remove_furniture(cleaned) == (cleaned, 0)  # idempotent
    return cleaned


@pytest.mark.parametrize(
    "note",
    [
        "This story has been updated with comments from the governor.",
        "This article was amended on 3 June 2022 to correct the name of the village.",
        "\u2022 This article was amended on 6 June 2022.",
        "Editor's note: This report was updated to include the ministry's response.",
        "CORRECTION: An earlier version of this story misstated the number of trucks.",
        "Correction: A quote in this story has been corrected.",
        "A previous version of this story gave the wrong date for the vote.",
        "[This report was updated Friday, Sept. 11.]",
    ],
)
def test_an_editorial_note_goes_and_the_reporting_stays(note: str) -> None:
    assert _removed(f"{PROSE} {note}") == PROSE
    assert _removed(f"{note} {PROSE}") == PROSE


def test_a_reader_call_out_goes_with_the_questions_before_it() -> None:
    call_out = (
        "Have you been affected by the blackout? Or do you have any questions about it? "
        "Email us at: haveyoursay@example.co.uk."
    )
    assert _removed(f"{PROSE} {call_out}") == PROSE
    assert _removed(f"{PROSE} Send your story ideas to desk@example.com.") == PROSE


def test_prose_glued_after_a_call_out_address_stays() -> None:
    glued = "Did you witness this? Let us know at news@example.co.uk Crews reached the site at noon."
    assert _removed(f"{PROSE} {glued}") == f"{PROSE} Crews reached the site at noon."


def test_an_address_in_reporting_that_does_not_address_the_reader_stays() -> None:
    text = f"{PROSE} The hackers sent the fake invoices from billing@example.com, the company said in a filing."
    assert remove_furniture(text) == (text, 0)


def test_a_staff_bio_at_the_end_goes_with_what_follows_it() -> None:
    bio = "Jane Roe is an associate editor for Example News. She joined Example in 2020. Follow her on Twitter."
    assert _removed(f"{PROSE} {bio}") == PROSE


@pytest.mark.parametrize(
    "ending",
    [
        "Evan Roe is a reporter for The Daily Example. He was arrested in March. His trial opens on Monday.",
        "Brent Roe was an American journalist and filmmaker. He was shot dead at a checkpoint.",
        "Michael Roe is a military analyst at a research centre. He said the offensive had stalled.",
    ],
)
def test_a_journalist_in_the_news_at_the_end_is_reporting(ending: str) -> None:
    text = f"{PROSE} {ending}"
    assert remove_furniture(text) == (text, 0)


def test_an_article_that_opens_with_the_form_of_a_bio_keeps_it() -> None:
    text = "Jane Roe is a correspondent for Example News. She joined in 2020."
    assert remove_furniture(text) == (text, 0)


def test_the_same_words_early_in_an_article_are_reporting() -> None:
    early = "John Smith is a reporter for a regional paper who was detained at the border."
    text = f"{early} {PROSE} Officials gave no reason. The paper called for his release. Talks continue. More soon."
    assert remove_furniture(text) == (text, 0)


@pytest.mark.parametrize(
    ("promo", "left"),
    [
        ("Follow our live blog for the latest updates.", ""),
        ("Download the Example News app for breaking news and politics", ""),
        ("\u00a9 2022 Example.", ""),
        ("The-Wire \u2122 & \u00a9 2022 Example Network, Inc.", ""),
        (
            "Sign up to the daily Business email or follow us on Twitter at @ExampleDesk Supply cuts continue.",
            "Supply cuts continue.",
        ),
        ("READ MORE: Convoy reaches the besieged town", ""),
    ],
)
def test_promos_and_link_markers_go(promo: str, left: str) -> None:
    assert _removed(f"{PROSE} {promo}") == f"{PROSE} {left}".strip()


def test_prose_run_on_after_a_long_promo_stays() -> None:
    glued = (
        "Click here to follow our live blog with the latest updates Less than an hour later the convoy "
        "had been stopped at the checkpoint."
    )
    cleaned = _removed(f"{PROSE} {glued}")
    assert cleaned == f"{PROSE} Less than an hour later the convoy had been stopped at the checkpoint."


def test_a_long_read_more_loses_only_its_marker() -> None:
    text = (
        f"{PROSE} Read more: the ministry said the twelve trucks carried food, water, medicine and fuel for "
        "the hospital and the shelters of the old town, which has been cut off since March."
    )
    assert _removed(text) == text.replace("Read more: ", "")


@pytest.mark.parametrize(
    "text",
    [
        "Ukrainian citizens who download the app can report drones by pointing their phones at the sky.",
        "\u201cFollow us on Twitter, and you will see the truth,\u201d the spokesman said.",
        "Reporters were told the story had been changed by the censors, the editor said.",
        "The article was edited by the censors before it ran, according to two people who saw it.",
        "If you have information about collaborators, write to tips@example.gov.ua, the security service said.",
        "Volunteers gave out a contact address, help@example.org.ua, for your questions.",
        "Download the Diia app and report the location of Russian troops, officials urged residents.",
        "Sign up for a contract and receive 200,000 roubles, the billboards in Moscow read.",
        "Follow them into the basement and you find families who have lived there for weeks.",
        "An earlier version of this report, released in June, documented 400 cases of torture.",
        PROSE,
        "",
    ],
)
def test_reporting_that_mentions_such_words_stays(text: str) -> None:
    assert remove_furniture(text) == (text, 0)


def test_paragraph_breaks_stay_and_an_emptied_paragraph_goes() -> None:
    text = f"{PROSE}\n\nThis story has been updated.\n\nTalks resume on Monday in Istanbul."
    assert _removed(text) == f"{PROSE}\n\nTalks resume on Monday in Istanbul."


def test_one_removal_counts_once_however_many_rules_cover_it() -> None:
    text = f"{PROSE} Correction: did you see an error in this story? Email us at fix@example.com."
    assert remove_furniture(text) == (PROSE, 1)


@pytest.mark.parametrize(
    "run",
    [
        "Contact us at " + "a." * 50_000 + "@",
        "Note: " + "-" * 50_000 + " updated",  # punctuation after a colon, before a note's opening
        ": " * 25_000 + "updated",
        "_" * 50_000 + " updated this",
        "note:" + " " * 50_000 + "this updated \u00a9",  # spaces before a copyright sign
    ],
)
def test_long_runs_of_punctuation_are_read_in_linear_time(run: str) -> None:
    # Quadratic backtracking over these took seconds at 20,000 characters; linear, a few tenths here.
    assert remove_furniture(f"{PROSE} {run}")[0].startswith(PROSE)
