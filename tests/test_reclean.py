"""Tests for archive.ops.reclean, boilerplate learning and furniture removal at ingest (archive clean, archive boilerplate)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner

import archive.ingest.prepare as prepare
from archive import Archive, RawArticle
from archive.cli import cli

# An outlet's own line, not furniture by its form (archive.text.furniture removes a sign-up by its form).
SIGNUP = "Stay with our live coverage of the war in Ukraine for the latest updates every morning."
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
    assert archive.search("stay with our live coverage", k=5, mode="keyword") == []
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
    assert "(also any sentence opening: Stay with our live coverage of ...)" in as_text.output
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


def test_a_promo_that_never_recurs_whole_is_learned_by_its_opening(archive: Archive) -> None:
    # (An editorial note, "CORRECTION: This story has been updated to ...", never gets this far:
    # archive.text.furniture removes it by its form.)
    def noted(i: int) -> RawArticle:
        note = f"Get our free newsletter each morning to {NOTE_ENDINGS[i]}."
        body = f"Report {i} describes event number {i} in detail, with witness{i} named. {note}"
        return RawArticle(text=body, title=f"Story {i}", outlet="CNN", published=f"2022-{1 + i:02d}-03")

    archive.ingest_records([noted(i) for i in range(5)])
    learned = archive.boilerplate("CNN")
    assert [(s.text, s.opening) for s in learned] == [
        ("Get our free newsletter each morning to", "Get our free newsletter each morning")
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


def test_clean_removes_furniture_found_by_its_form_from_articles_stored_before_the_rule(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = "This story has been updated with comments from the ministry."
    call_out = "Have you been affected by the blackout? Email us at tips@example.com."
    body = f"Engineers restored power to the eastern district on Monday after a week of outages. {note} {call_out}"
    monkeypatch.setattr(prepare, "remove_furniture", lambda text: (text, 0))  # an archive from before the rule
    archive.ingest_records([RawArticle(text=body, title="Power restored", outlet="Daily", published="2022-03-01")])
    monkeypatch.undo()
    stored = archive.search("power restored eastern district", k=1, mode="keyword")[0].article_id
    assert note in archive.article(stored).text
    report = archive.clean()
    assert report.changed == 1 and report.sentences == 2
    kept = archive.article(stored).text
    assert kept == "Engineers restored power to the eastern district on Monday after a week of outages."
    assert archive.search("power restored eastern district", k=1, mode="keyword")[0].article_id == stored
    assert archive.clean().changed == 0


def test_ingest_removes_furniture_by_its_form_from_the_first_article_of_an_outlet(archive: Archive) -> None:
    body = (
        "Engineers restored power to the eastern district on Monday after a week of outages. "
        "This story has been updated with comments from the ministry. "
        "Follow our live blog for the latest updates Crews will inspect the lines again on Friday."
    )
    report = archive.ingest_records([RawArticle(text=body, title="Power back", outlet="New", published="2022-03-01")])
    assert report.added == 1
    stored = archive.search("eastern district power", k=1, mode="keyword")[0]
    assert archive.article(stored.article_id).text == (
        "Engineers restored power to the eastern district on Monday after a week of outages. "
        "Crews will inspect the lines again on Friday."
    )
    assert archive.search("updated with comments from the ministry", k=5, mode="keyword") == []


def test_a_rerun_skips_articles_stored_before_their_boilerplate_was_learned(archive: Archive) -> None:
    """Cleaning learns from the archive: a rerun of the same file cleans the early articles with more than
    they were stored with, and must still find them stored (not add each again as its own near-duplicate),
    exact copies (stored without text) included."""
    records = [replace(_story(i, month=1 + i), url=f"https://mirror.example/story-{i}") for i in range(5)]
    copy = replace(records[0], url="https://mirror.example/amp/story-0")
    first = archive.ingest_records([*records, copy])
    assert (first.added, first.duplicates) == (5, 1)
    assert archive.boilerplate() and all(SIGNUP in (archive.article(a).text or "") for a in _ids(archive))
    before = _ids(archive)
    again = archive.ingest_records([*records, copy])
    assert (again.added, again.near_duplicates, again.duplicates, again.skipped) == (0, 0, 0, 6)
    assert _ids(archive) == before
    edited = replace(records[0], text=records[0].text.replace("in detail", "at length, with a correction"))
    changed = archive.ingest_records([edited])  # a changed text at the same URL is still a new version
    assert changed.added == 1 and len(_ids(archive)) == 7


def _ids(archive: Archive) -> set[int]:
    with archive.engine.connect() as conn:
        return {int(r[0]) for r in conn.exec_driver_sql("SELECT id FROM articles")}
