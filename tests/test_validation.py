"""archive.validation: NaN, infinities, wrong types and values out of range are refused with the range."""

from __future__ import annotations

import math

import pytest

from archive.errors import ConfigError, InvalidQueryError
from archive.validation import check_number, describe_range


def test_a_number_in_range_comes_back() -> None:
    assert check_number("x", 0.5, minimum=0, maximum=1) == 0.5
    assert check_number("k", 3, minimum=1, integer=True) == 3


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1.5, -0.1, "0.5", None, True])
def test_bad_values_are_refused_naming_the_range(value: object) -> None:
    with pytest.raises(ConfigError, match="x must be a number from 0 to 1"):
        check_number("x", value, minimum=0, maximum=1)


def test_integers_only_and_the_error_class() -> None:
    with pytest.raises(InvalidQueryError, match="k must be a whole number at least 1"):
        check_number("k", 2.0, minimum=1, integer=True, error=InvalidQueryError)


def test_ranges_read_naturally() -> None:
    assert describe_range(0, 1) == "from 0 to 1"
    assert describe_range(1, None) == "at least 1"
    assert describe_range(None, 10) == "at most 10"
    assert describe_range(None, None) == "any finite number"
