"""Tests for archive.search.variants: every spelling of a place or name."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ConfigError
from archive.search.variants import load_variants, parse_groups


def test_the_shipped_table_knows_the_common_spellings() -> None:
    variants = load_variants()
    for a, b in [
        ("kyiv", "kiev"),
        ("kharkov", "kharkiv"),
        ("zaporozhye", "zaporizhzhia"),
        ("odessa", "odesa"),
        ("severodonetsk", "sievierodonetsk"),
        ("nikolaev", "mykolaiv"),
        ("donbass", "donbas"),
        ("lugansk", "luhansk"),
        ("chernobyl", "chornobyl"),
        ("artemivsk", "bakhmut"),
        ("zelenskyy", "zelensky"),
    ]:
        assert (b,) in variants.of((a,)) and (a,) in variants.of((b,))


def test_a_term_comes_first_among_its_variants_and_unknown_terms_stand_alone() -> None:
    variants = load_variants()
    assert variants.of(("kiev",))[0] == ("kiev",)
    assert variants.of(("bucha",)) == (("bucha",),)


def test_hyphenated_names_are_phrases() -> None:
    assert ("ivano", "frankovsk") in load_variants().of(("ivano", "frankivsk"))


def test_a_user_file_adds_groups(tmp_path: Path) -> None:
    extra = tmp_path / "mine.txt"
    extra.write_text("# my spellings\nVuhlehirsk, Uglegorsk\n", encoding="utf-8")
    assert ("uglegorsk",) in load_variants(str(extra)).of(("vuhlehirsk",))


def test_a_bad_user_file_says_which_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mine.txt:2"):
        parse_groups("Kyiv, Kiev\nlonely\n", origin="mine.txt")
    with pytest.raises(ConfigError, match="ARCHIVE_VARIANTS"):
        load_variants(str(tmp_path / "missing.txt"))
