"""Checks for numeric arguments: NaN, infinities and values out of range are refused with the valid range.

``nan < 0`` and ``nan > 1`` are both false, so a plain range check lets NaN
through, where it silently switches comparisons off (a NaN threshold never
matches, a NaN deadline never passes).
"""

from __future__ import annotations

import math

from archive.errors import ArchiveError, ConfigError


def describe_range(minimum: float | None, maximum: float | None) -> str:
    """``from 0 to 1``, ``at least 1``, ``at most 10`` or ``any finite number``."""
    if minimum is not None and maximum is not None:
        return f"from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"at least {minimum:g}"
    if maximum is not None:
        return f"at most {maximum:g}"
    return "any finite number"


def check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    error: type[ArchiveError] = ConfigError,
) -> float:
    """``value`` if it is a finite number (an int when ``integer``) within the bounds; else ``error``."""
    kind = "a whole number" if integer else "a number"
    valid = f"{name} must be {kind} {describe_range(minimum, maximum)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise error(f"{valid} (got {value!r})")
    if not math.isfinite(value):
        raise error(f"{valid}, not {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise error(f"{valid} (got {value!r})")
    return value
