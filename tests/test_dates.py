"""Publication dates and date filters."""

from __future__ import annotations

import pytest

from archive.errors import InvalidQueryError
from archive.text.dates import date_key, key_to_iso, normalize_published, optional_key_to_iso, parse_filter_date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2022-03-01", "2022-03-01"),
        ("2022-03-01T10:30:00Z", "2022-03-01T10:30:00"),
        ("2022-03-01T12:30:00+02:00", "2022-03-01T10:30:00"),
        ("Wed, 05 Apr 2017 10:00:00 GMT", "2017-04-05T10:00:00"),
        ("5 April 2017", "2017-04-05"),
        ("April 5, 2017", "2017-04-05"),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_publication_dates_are_normalized_to_iso(raw: str | None, expected: str | None) -> None:
    assert normalize_published(raw) == expected


def test_date_key_is_yyyymmdd_or_zero_when_unknown() -> None:
    assert date_key("2022-03-01T10:00:00") == 20220301
    assert date_key(None) == 0


def test_partial_filter_dates_cover_the_whole_period() -> None:
    assert parse_filter_date("2022") == 20220101
    assert parse_filter_date("2022", end=True) == 20221231
    assert parse_filter_date("2022-03", end=True) == 20220331
    assert parse_filter_date("2022-03-05") == 20220305


@pytest.mark.parametrize("bad", ["March", "2022-13", "2022-02-30", "22-1-1"])
def test_bad_filter_dates_raise_with_the_expected_format(bad: str) -> None:
    with pytest.raises(InvalidQueryError, match=r"YYYY|range|day"):
        parse_filter_date(bad)


def test_key_to_iso_gives_the_day_a_date_key_names() -> None:
    assert key_to_iso(20220304) == "2022-03-04"
    assert key_to_iso(date_key("1999-12-31T23:00:00Z")) == "1999-12-31"


def test_no_date_bound_stays_no_bound() -> None:
    assert optional_key_to_iso(None) is None
    assert optional_key_to_iso(19991231) == "1999-12-31"
