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


ARTICLE_INPUT_CHARS = 1500  # past the model's 256 tokens for English news; the rest is never read


def article_input(title: str | None, text: str | None) -> str:
    """The text an article vector embeds: its headline and the opening of its text.

    A reader who remembers an article describes its story, which the headline and lead state;
    a passage vector only sees one part of it. The text is cut at a word boundary.
    """
    headline = (title or "").strip()
    body = (text or "").strip()
    if len(body) > ARTICLE_INPUT_CHARS:
        cut = body.rfind(" ", 0, ARTICLE_INPUT_CHARS)
        body = body[: cut if cut > 0 else ARTICLE_INPUT_CHARS]
    if not headline or body.startswith(headline):
        return body
    return f"{headline}\n{body}" if body else headline
