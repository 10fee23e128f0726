"""Spelling variants (Kyiv/Kiev, Zelensky/Zelenskyy...): every spelling of a name matches in keyword search.

The shipped table is ``variants.txt`` next to this module; a user file in the same format adds
groups (``ARCHIVE_VARIANTS``, resolved by ``archive.config``). Lookups are on the words as the
keyword index tokenizes them (lowercase, split at punctuation), so "Ivano-Frankivsk" is the
two-word phrase "ivano frankivsk".
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from archive.errors import ConfigError
from archive.search.query import WORD

SHIPPED = Path(__file__).with_name("variants.txt")
Term = tuple[str, ...]  # the words of a word or a phrase


class Variants:
    """Groups of spellings; :meth:`of` gives every spelling of a term (itself included, first)."""

    def __init__(self, groups: Iterable[Iterable[str]]) -> None:
        self._by_term: dict[Term, tuple[Term, ...]] = {}
        for group in groups:
            terms = tuple(dict.fromkeys(t for t in (tuple(WORD.findall(v.lower())) for v in group) if t))
            if len(terms) < 2:
                continue
            for term in terms:
                known = self._by_term.get(term, ())
                self._by_term[term] = tuple(dict.fromkeys((*known, *terms)))

    def of(self, term: Term) -> tuple[Term, ...]:
        others = self._by_term.get(term, ())
        return (term, *(t for t in others if t != term))

    def __len__(self) -> int:
        return len(self._by_term)


def parse_groups(text: str, *, origin: str) -> list[list[str]]:
    """Groups from a variants file: one per line, spellings separated by commas, # comments."""
    groups = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spellings = [s.strip() for s in line.split(",") if s.strip()]
        if len(spellings) < 2:
            raise ConfigError(f"{origin}:{number}: a variants line lists two or more spellings separated by commas")
        groups.append(spellings)
    return groups


@lru_cache(maxsize=8)
def load_variants(user_file: str | None = None) -> Variants:
    """The shipped table plus ``user_file``'s groups (ConfigError when it cannot be read)."""
    groups = parse_groups(SHIPPED.read_text(encoding="utf-8"), origin=str(SHIPPED))
    if user_file:
        try:
            text = Path(user_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the variants file {user_file}: {exc}; fix ARCHIVE_VARIANTS") from exc
        groups += parse_groups(text, origin=user_file)
    return Variants(groups)
