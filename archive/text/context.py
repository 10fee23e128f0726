"""What a passage vector embeds: the passage, with its article's headline in front.

A passage cut from the middle of an article often never names the event, the place or the
people the article is about; the headline does. Embedding ``headline + newline + passage``
lets a query about the article find any of its passages.
"""

from __future__ import annotations

from typing import Literal

PassageFormat = Literal["text", "title"]
CURRENT_PASSAGE_FORMAT: PassageFormat = "title"


def passage_input(passage: str, title: str | None, passage_format: str = CURRENT_PASSAGE_FORMAT) -> str:
    """The text the model embeds for ``passage`` of an article headed ``title``.

    ``text`` (archives embedded before headlines were added) is the passage alone; so is a
    passage that already starts with its headline (a whole document given as title + text).
    """
    headline = (title or "").strip()
    if passage_format == "text" or not headline or passage.startswith(headline):
        return passage
    return f"{headline}\n{passage}"
