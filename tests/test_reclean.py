"""Tests for archive.ops.reclean and boilerplate learning at ingest (archive clean, archive boilerplate)."""

from __future__ import annotations

from click.testing import CliRunner

from archive import Archive, RawArticle
from archive.cli import cli

SIGNUP = "Sign up to our free Ukraine war bulletin for the latest updates every morning."
WIRE = "The agency said the convoy of twelve trucks reached the besieged town after a three-day delay."


def _story(i: int, *, month: int, extra: str = "") -> RawArticle:
    body = (
        f"Report {i} describes event number {i} in detail, with witness{i} and place{i} named. "
        f"Officials gave figure{i} for the damage. {extra} {SIGNUP}"
    )
    return RawArticle(text=body, title=f"Story {i}", outlet="Mirror", published=f"2022-{month:02d}-0{1 + i % 8}")


def test_a_sentence_in_many_stories_weeks_apart_is_learned_and_removed_from_later_ones(archive: Archive) -> None:
    archive.ingest_records([_story(i, month=1 + i) for i in range(5)])
    learned = archive.boilerplate()
    assert [s.text for s in learned] == [SIGNUP] and learned[0].stories == 5 and learned[0].outlet == "Mirror"
    archive.ingest_records([_story(9, month=9)])
    later = archive.search("Report 9 event number 9", k=1, mode="keyword")[0]
    assert SIGNUP not in archive.article(later.article_id).text


def test_archive_clean_removes_it_from_earlier_articles_keeping_their_ids(archive: Archive) -> None:
    archive.ingest_records([_story(i, month=1 + i) for i in range(5)])  # learned from these five
    archive.ingest_records([_story(5, month=7)])  # stored without it
    before = {h.article_id for h in archive.search("event number", k=10, mode="keyword")}
    assert before and any(SIGNUP in archive.article(a).text for a in before)
    report = archive.clean()
    assert report.changed == 5 and report.sentences == 5 and report.articles == 6
    assert all(SIGNUP not in archive.article(a).text for a in before)
    assert {h.article_id for h in archive.search("event number", k=10, mode="keyword")} == before
    assert archive.search("free Ukraine war bulletin", k=5, mode="keyword") == []
    assert archive.clean().changed == 0  # a rerun changes nothing


def test_sentences_of_one_news_cycle_or_of_copies_are_not_boilerplate(archive: Archive) -> None:
    # Five stories within a week quoting the same wire sentence: a news cycle, not furniture.
    archive.ingest_records([_story(i, month=3, extra=WIRE) for i in range(5)])
    assert WIRE not in {s.text for s in archive.boilerplate()}
    # The same story carried five times is one story.
    copy = _story(20, month=1, extra=WIRE)
    archive.ingest_records(
        [RawArticle(text=copy.text, title=copy.title, outlet="Wire", published=f"2022-0{m}-01") for m in range(1, 6)]
    )
    assert archive.boilerplate("Wire") == []


def test_clean_and_boilerplate_commands_report_as_json(archive: Archive, runner: CliRunner) -> None:
    archive.ingest_records([_story(i, month=1 + i) for i in range(5)])
    db = str(archive.path)
    shown = runner.invoke(cli, ["boilerplate", "-d", db, "--json", "--model", "fake"])
    assert shown.exit_code == 0 and SIGNUP in shown.output
    as_text = runner.invoke(cli, ["boilerplate", "-d", db, "--model", "fake"])
    assert "(also any sentence opening: Sign up to our free Ukraine ...)" in as_text.output
    cleaned = runner.invoke(cli, ["clean", "-d", db, "--json", "--model", "fake"])
    assert cleaned.exit_code == 0 and '"changed": 5' in cleaned.output


def test_an_archive_stored_before_counting_learns_from_its_stored_stories(archive: Archive) -> None:
    from archive import IngestOptions

    archive.ingest_records([_story(i, month=1 + i) for i in range(6)], options=IngestOptions(learn_boilerplate=False))
    assert archive.boilerplate() == []
    report = archive.clean()
    assert report.relearned == 6 and report.changed == 6
    assert [s.text for s in archive.boilerplate()] == [SIGNUP]
    assert archive.clean().relearned == 0  # counted once; --relearn counts again
    assert archive.clean(relearn=True).relearned == 6


NOTE_ENDINGS = [
    "reflect the new date",
    "correct a name",
    "clarify the figures",
    "fix a quote",
    "note a delay",
    "add a map",
]


def test_an_editorial_note_that_never_recurs_whole_is_learned_by_its_opening(archive: Archive) -> None:
    def noted(i: int) -> RawArticle:
        note = f"CORRECTION: This story has been updated to {NOTE_ENDINGS[i]}."
        body = f"Report {i} describes event number {i} in detail, with witness{i} named. {note}"
        return RawArticle(text=body, title=f"Story {i}", outlet="CNN", published=f"2022-{1 + i:02d}-03")

    archive.ingest_records([noted(i) for i in range(5)])
    learned = archive.boilerplate("CNN")
    assert [(s.text, s.opening) for s in learned] == [
        ("CORRECTION: This story has been updated to", "CORRECTION: This story has been updated")
    ]
    archive.ingest_records([noted(5)])
    later = archive.search("Report 5 event number 5", k=1, mode="keyword")[0]
    assert archive.article(later.article_id).text == "Report 5 describes event number 5 in detail, with witness5 named."


def test_a_quotation_repeated_in_follow_ups_for_months_is_not_learned(archive: Archive) -> None:
    quote = "\u201cI'm terrified I might be here forever,\u201d she wrote to the president in a letter."
    archive.ingest_records([_story(i, month=1 + i, extra=quote) for i in range(6)])
    assert quote not in {s.text for s in archive.boilerplate()}
    later = archive.search("Report 5 event number 5", k=1, mode="keyword")[0]
    assert quote in archive.article(later.article_id).text
