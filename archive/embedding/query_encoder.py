"""Embed search queries without torch: a NumPy forward pass of BERT-style sentence encoders.

Loading torch and sentence-transformers costs seconds; one query through a 6-layer,
384-wide MiniLM is a few milliseconds of NumPy. :class:`QueryEncoder` reads the
weights straight from ``model.safetensors`` (memory-mapped: only the pages a
query touches are read), tokenizes with the model's own ``tokenizer.json`` and
reproduces sentence-transformers' Transformer -> mean Pooling -> Normalize.

It applies to local model directories whose ``modules.json`` is exactly that
pipeline over a ``bert`` encoder with float weights (all-MiniLM-L6-v2 and its
many BERT-style relatives); :func:`load_query_encoder` returns None for anything
else, and callers fall back to torch. Vectors match sentence-transformers'
to within float rounding (tested: cosine >= 0.9999).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from archive.blas import single_threaded
from archive.embedding.wordpiece import NOT_PLAIN, PRE_TOKENS, PlainWordPiece, is_uncased_bert_wordpiece

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["QueryEncoder", "WordPieceCounter", "load_query_encoder", "unsupported_reason", "wordpiece_counter"]

Vector = npt.NDArray[np.float32]
WEIGHTS_FILE = "model.safetensors"
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None}  # BF16 has no NumPy dtype: unsupported
_POOLING_MODES = ("cls_token", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")


@dataclass(frozen=True)
class _Layer:
    query: tuple[Vector, Vector]
    key: tuple[Vector, Vector]
    value: tuple[Vector, Vector]
    attention_out: tuple[Vector, Vector]
    attention_norm: tuple[Vector, Vector]
    intermediate: tuple[Vector, Vector]
    output: tuple[Vector, Vector]
    output_norm: tuple[Vector, Vector]


class QueryEncoder:
    """A BERT encoder + mean pooling + L2 normalisation, in NumPy."""

    def __init__(
        self, tokenize: Callable[[str], Sequence[int]], tensors: Mapping[str, Vector], config: Mapping[str, Any]
    ) -> None:
        """Use ``tensors`` (names without a ``bert.`` prefix) shaped as ``config`` says; ``tokenize`` gives a
        text's ids, special tokens included and truncated to the model's window."""
        self.tokenize = tokenize
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.word = tensors["embeddings.word_embeddings.weight"]
        self.position = tensors["embeddings.position_embeddings.weight"]
        self.token_type = tensors["embeddings.token_type_embeddings.weight"]
        self.embed_norm = _pair(tensors, "embeddings.LayerNorm")
        self.layers = [_load_layer(tensors, f"encoder.layer.{i}") for i in range(int(config["num_hidden_layers"]))]
        self.dimension = int(self.word.shape[1])

    def encode(self, text: str) -> Vector:
        """Return the normalised float32 embedding of ``text``, shape (dimension,)."""
        ids = np.asarray(self.tokenize(text), dtype=np.int64)
        hidden = self.word[ids] + self.position[: len(ids)] + self.token_type[0]
        hidden = _layer_norm(hidden.astype(np.float32), self.embed_norm, self.eps)
        with single_threaded():
            for layer in self.layers:
                hidden = self._layer(hidden, layer)
        pooled: Vector = hidden.mean(axis=0)
        norm = float(np.linalg.norm(pooled))
        return (pooled / max(norm, 1e-12)).astype(np.float32)

    def _layer(self, hidden: Vector, layer: _Layer) -> Vector:
        tokens, width = hidden.shape
        size = width // self.heads

        def heads(pair: tuple[Vector, Vector]) -> Vector:
            split: Vector = _linear(hidden, pair).reshape(tokens, self.heads, size).transpose(1, 0, 2)
            return split

        q, k, v = heads(layer.query), heads(layer.key), heads(layer.value)
        scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(size))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(tokens, width)
        hidden = _layer_norm(_linear(context, layer.attention_out) + hidden, layer.attention_norm, self.eps)
        inner = _gelu(_linear(hidden, layer.intermediate))
        return _layer_norm(_linear(inner, layer.output) + hidden, layer.output_norm, self.eps)


def unsupported_reason(model_dir: Path) -> str | None:
    """Why the NumPy encoder cannot reproduce the model in ``model_dir``; None when it can."""
    modules = _read_json(model_dir / "modules.json")
    if not isinstance(modules, list):
        return "no modules.json"
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]) or modules[0].get("path"):
        return f"modules {kinds} are not Transformer, Pooling[, Normalize] with the encoder at the top level"
    pooling = _read_json(model_dir / str(modules[1].get("path", "")) / "config.json")
    if not isinstance(pooling, dict) or pooling.get("pooling_mode_mean_tokens") is not True:
        return "pooling is not mean pooling"
    if any(pooling.get(f"pooling_mode_{mode}") for mode in _POOLING_MODES):
        return "pooling combines several modes"
    config = _read_json(model_dir / "config.json")
    if not isinstance(config, dict) or config.get("model_type") != "bert":
        return "the encoder is not a BERT model"
    if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
        return "the encoder uses an activation or position embedding this encoder does not implement"
    st_config = _read_json(model_dir / "config_sentence_transformers.json")
    if isinstance(st_config, dict) and (st_config.get("prompts") or st_config.get("default_prompt_name")):
        return "the model prepends prompts"
    for name in (WEIGHTS_FILE, "tokenizer.json"):
        if not (model_dir / name).is_file():
            return f"{name} is missing"
    return None


def load_query_encoder(model_dir: Path, *, max_seq_length: int | None = None) -> QueryEncoder | None:
    """A :class:`QueryEncoder` for ``model_dir``, or None when the model needs torch.

    ``max_seq_length`` (tokens, special tokens included) defaults to the
    model's ``sentence_bert_config.json``, as sentence-transformers does.
    """
    if unsupported_reason(model_dir) is not None:
        return None
    tensors = _map_safetensors(model_dir / WEIGHTS_FILE)
    if tensors is None:
        return None
    config = _read_json(model_dir / "config.json")
    if max_seq_length is None:
        st_config = _read_json(model_dir / "sentence_bert_config.json")
        value = st_config.get("max_seq_length") if isinstance(st_config, dict) else None
        max_seq_length = value if isinstance(value, int) and value > 0 else int(config["max_position_embeddings"])
    tokenize = _Tokenize(model_dir / "tokenizer.json", min(max_seq_length, int(config["max_position_embeddings"])))
    try:
        return QueryEncoder(tokenize, tensors, config)
    except KeyError:  # a tensor this architecture needs is absent
        return None


class _Tokenize:
    """A text's ids: plain text through :class:`PlainWordPiece` where the tokenizer is BERT's uncased WordPiece
    (no tokenizers import), anything else through the tokenizers library, loaded at its first such text."""

    def __init__(self, tokenizer_json: Path, max_length: int) -> None:
        self.path, self.max_length = tokenizer_json, max_length
        self.plain = PlainWordPiece.from_file(tokenizer_json, max_length)
        self._library: Tokenizer | None = None

    def __call__(self, text: str) -> Sequence[int]:
        ids = self.plain.ids(text) if self.plain is not None else None
        return ids if ids is not None else self.library().encode(text).ids

    def library(self) -> Tokenizer:
        if self._library is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.path))
            tokenizer.no_padding()
            tokenizer.enable_truncation(self.max_length)
            self._library = tokenizer
        return self._library


def _map_safetensors(path: Path) -> dict[str, Vector] | None:
    """Memory-map every tensor of a safetensors file; None for a dtype NumPy cannot read."""
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    raw = np.memmap(path, dtype=np.uint8, mode="r").view(np.ndarray)  # plain arrays: no memmap subclass per op
    start = 8 + length
    tensors: dict[str, Vector] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            if info["dtype"] in _DTYPES:
                return None
            continue  # integer buffers such as position_ids are not weights
        begin, end = (start + int(o) for o in info["data_offsets"])
        array = raw[begin:end].view(dtype).reshape(info["shape"])
        tensors[name.removeprefix("bert.")] = array if dtype == np.float32 else array.astype(np.float32)
    return tensors


def _pair(tensors: Mapping[str, Vector], prefix: str) -> tuple[Vector, Vector]:
    return tensors[f"{prefix}.weight"], tensors[f"{prefix}.bias"]


def _load_layer(tensors: Mapping[str, Vector], prefix: str) -> _Layer:
    return _Layer(
        query=_pair(tensors, f"{prefix}.attention.self.query"),
        key=_pair(tensors, f"{prefix}.attention.self.key"),
        value=_pair(tensors, f"{prefix}.attention.self.value"),
        attention_out=_pair(tensors, f"{prefix}.attention.output.dense"),
        attention_norm=_pair(tensors, f"{prefix}.attention.output.LayerNorm"),
        intermediate=_pair(tensors, f"{prefix}.intermediate.dense"),
        output=_pair(tensors, f"{prefix}.output.dense"),
        output_norm=_pair(tensors, f"{prefix}.output.LayerNorm"),
    )


def _linear(x: Vector, pair: tuple[Vector, Vector]) -> Vector:
    weight, bias = pair  # torch's Linear stores (out, in)
    # (out, in) @ (in, tokens) reads the weights in their stored (row-major) order: BLAS runs it
    # about twice as fast as x @ weight.T for a query's few tokens, with no transposed copy to load.
    out: Vector = (weight @ x.T).T + bias
    return out


def _layer_norm(x: Vector, pair: tuple[Vector, Vector], eps: float) -> Vector:
    weight, bias = pair
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: Vector = (x - mean) / np.sqrt(var + np.float32(eps)) * weight + bias
    return out


def _gelu(x: Vector) -> Vector:
    """Exact (erf) GELU, as BERT's ``"gelu"``."""
    out = _erf(x * np.float32(1 / np.sqrt(2)))
    out += np.float32(1.0)
    out *= x
    out *= np.float32(0.5)
    return out


def _erf(x: Vector) -> Vector:
    """erf of a float32 array, a new array (the products run in place: a query's hidden states are small,
    and each temporary array costs about what its arithmetic does)."""
    # Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32 resolution of GELU's output.
    a = np.abs(x)
    t = a * np.float32(0.3275911)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(coefficient)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(np.float32(1.0), poly, out=poly)
    out: Vector = np.copysign(poly, x, out=poly)
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- token counting for chunking -------------------------------------------------
# Chunking counts the tokens of every sentence it packs; tokenizers' encode() spends
# ~125 us per sentence here, mostly normalising and pre-tokenising with offsets. For
# BERT's uncased WordPiece and plain (ASCII) text both steps are a lowercase and a regex,
# and word counts repeat across a news archive, so a cache answers most words.
_COUNTER_CACHE_WORDS = 200_000


class WordPieceCounter:
    """Counts BERT WordPiece tokens (no special tokens) exactly as ``tokenizer.encode`` would."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        """Count with ``tokenizer``'s vocabulary; it must pass :func:`wordpiece_counter`'s checks."""
        self.tokenizer = tokenizer
        self.model = tokenizer.model
        self.words: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        """Return the number of tokens of ``text``."""
        if NOT_PLAIN.search(text):
            return len(self.tokenizer.encode(text, add_special_tokens=False).ids)
        words = self.words
        total = 0
        for word in PRE_TOKENS.findall(text.lower()):
            count = words.get(word)
            if count is None:
                if len(words) >= _COUNTER_CACHE_WORDS:
                    words.clear()
                count = words[word] = len(self.model.tokenize(word))
            total += count
        return total


def wordpiece_counter(tokenizer: Tokenizer, tokenizer_json: Path) -> WordPieceCounter | None:
    """A :class:`WordPieceCounter` when ``tokenizer_json`` is uncased BERT WordPiece, else None."""
    config = _read_json(tokenizer_json)
    return WordPieceCounter(tokenizer) if isinstance(config, dict) and is_uncased_bert_wordpiece(config) else None
