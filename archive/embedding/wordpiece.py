"""BERT's uncased WordPiece for plain text, in Python: a query's token ids without the tokenizers library. Pure.

A one-shot ``archive search`` embeds one short query. Importing ``tokenizers`` and building its
tokenizer from ``tokenizer.json`` cost that search ~30 ms; reading the vocabulary out of the same
file costs ~10 ms, and a query's few words take microseconds. For plain text (ASCII and the
typographic punctuation common in news) BERT's normalizer and pre-tokenizer are a lowercase and a
regex, so the ids here are the library's own (``tests/test_wordpiece.py`` compares them on every
sentence of the sample articles); anything else (accents, other scripts, control characters) is
left to the library (:meth:`PlainWordPiece.ids` returns None).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["NOT_PLAIN", "PRE_TOKENS", "PlainWordPiece", "is_uncased_bert_wordpiece"]

# Typographic punctuation common in news: Unicode P* characters that NFD and lowercasing leave alone.
TYPOGRAPHIC = "\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2026\u2022\u2032\u2033\u00ab\u00bb\u00b7"
# BertPreTokenizer on lowercased plain text: runs of letters and digits, and each punctuation character alone.
PRE_TOKENS = re.compile(rf"[a-z0-9]+|[!-/:-@\[-`{{-~{TYPOGRAPHIC}]")
NOT_PLAIN = re.compile(rf"[^\t\n\r\x20-\x7e{TYPOGRAPHIC}]")  # anything else takes tokenizers' own path


def is_uncased_bert_wordpiece(config: Mapping[str, Any]) -> bool:
    """Whether a ``tokenizer.json`` (parsed) is BERT's uncased WordPiece, which :data:`PRE_TOKENS` reproduces."""
    normalizer, pre, model = (config.get(k) or {} for k in ("normalizer", "pre_tokenizer", "model"))
    bert_normalizer = normalizer.get("type") == "BertNormalizer" and normalizer.get("clean_text") is True
    uncased = normalizer.get("lowercase") is True  # accents are not plain text: stripped or not, never seen here
    return bert_normalizer and uncased and pre.get("type") == "BertPreTokenizer" and model.get("type") == "WordPiece"


class PlainWordPiece:
    """Token ids of plain text, ``[CLS] ... [SEP]`` and truncated to ``max_length`` as the library would."""

    def __init__(self, vocab: Mapping[str, int], *, unknown: str, prefix: str, max_word: int, max_length: int) -> None:
        self.vocab = vocab
        self.unknown = vocab[unknown]
        self.prefix = prefix
        self.max_word = max_word
        self.first, self.last = vocab["[CLS]"], vocab["[SEP]"]
        self.max_length = max_length

    @classmethod
    def from_file(cls, tokenizer_json: Path, max_length: int) -> PlainWordPiece | None:
        """The tokenizer of ``tokenizer_json``; None unless it is uncased BERT WordPiece with a single-text
        template of ``[CLS] text [SEP]``."""
        try:
            config = json.loads(tokenizer_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(config, dict) or not is_uncased_bert_wordpiece(config) or not _cls_text_sep(config):
            return None
        model = config["model"]
        vocab = model.get("vocab")
        if not isinstance(vocab, dict) or not {"[CLS]", "[SEP]", model.get("unk_token")} <= vocab.keys():
            return None
        return cls(
            vocab,
            unknown=str(model["unk_token"]),
            prefix=str(model.get("continuing_subword_prefix", "##")),
            max_word=int(model.get("max_input_chars_per_word", 100)),
            max_length=max_length,
        )

    def ids(self, text: str) -> list[int] | None:
        """The ids of ``text`` with its special tokens; None when it is not plain text."""
        if NOT_PLAIN.search(text):
            return None
        pieces: list[int] = []
        for word in PRE_TOKENS.findall(text.lower()):
            pieces.extend(self._word(word))
        return [self.first, *pieces[: max(self.max_length - 2, 0)], self.last]

    def _word(self, word: str) -> list[int]:
        """WordPiece of one pre-token: the longest vocabulary piece first, then again from where it ended."""
        if len(word) > self.max_word:
            return [self.unknown]
        found: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                token = self.vocab.get(piece)
                if token is not None:
                    found.append(token)
                    break
                end -= 1
            else:
                return [self.unknown]  # a word with a piece outside the vocabulary is unknown whole
            start = end
        return found


def _cls_text_sep(config: Mapping[str, Any]) -> bool:
    """Whether the post-processor wraps a single text as ``[CLS] text [SEP]``."""
    post = config.get("post_processor") or {}
    if post.get("type") == "BertProcessing":
        return [t[0] for t in (post.get("cls"), post.get("sep")) if t] == ["[CLS]", "[SEP]"]
    if post.get("type") != "TemplateProcessing":
        return False
    single = post.get("single") or []
    names = [next(iter(part.values())).get("id") for part in single if isinstance(part, dict) and part]
    return names == ["[CLS]", "A", "[SEP]"]
