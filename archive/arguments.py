"""Type checks at the library's edge: a wrong type is an InvalidArgumentError naming the argument.

The library is called from notebooks and other programs as well as the CLI; a
``None`` query or ``k="5"`` should say which argument is wrong, not fail deep
inside SQLAlchemy or NumPy with an error that is no ArchiveError.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from archive.errors import InvalidArgumentError, InvalidSearchArgumentError


def _name(types: tuple[type, ...]) -> str:
    names = ["None" if t is type(None) else t.__name__ for t in types]
    return " or ".join(names)


def require(name: str, value: object, *types: type, error: type[InvalidArgumentError] = InvalidArgumentError) -> None:
    """Raise InvalidArgumentError unless ``value`` is one of ``types`` (a bool is never an int here)."""
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise error(f"{name} must be {_name(types)}, not {type(value).__name__} ({value!r:.60})")


def require_path(name: str, value: object, *, optional: bool = True) -> None:
    """A file or folder argument: str or os.PathLike (or None when ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidArgumentError(f"{name} must be a path (str or pathlib.Path), not {type(value).__name__}")


def require_strings(name: str, value: object) -> None:
    """A sequence of strings (a lone str is refused: it would be read letter by letter)."""
    if value is None:
        return
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidArgumentError(
            f"{name} must be a list of strings, e.g. [{value!r:.40}], not {type(value).__name__}"
        )
    for item in value:
        require(f"each of {name}", item, str)


def require_paths(name: str, value: object) -> None:
    """A sequence of paths (a lone path is refused: say ``[path]``)."""
    if isinstance(value, (str, bytes, os.PathLike)) or not isinstance(value, Sequence):
        raise InvalidArgumentError(f"{name} must be a list of paths, e.g. [{value!r:.40}], not {type(value).__name__}")
    for item in value:
        require_path(f"each of {name}", item, optional=False)


def check_search(
    query: object,
    k: object,
    mode: object,
    since: object,
    until: object,
    outlets: object,
    language: object,
    weights: tuple[object, object],
) -> None:
    """The argument types of :meth:`archive.Archive.search` (values are checked by the search itself)."""
    bad = InvalidSearchArgumentError
    require("query", query, str, error=bad)
    require("k", k, int, error=bad)
    require("mode", mode, str, error=bad)
    for label, value in (("since", since), ("until", until), ("language", language)):
        require(label, value, str, type(None), error=bad)
    require_strings("outlets", outlets)
    for label, weight in zip(("semantic_weight", "keyword_weight"), weights, strict=True):
        require(label, weight, int, float, error=bad)
