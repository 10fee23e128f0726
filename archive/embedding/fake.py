"""A deterministic fake embedder for tests: hashed bag of words, no model, no torch."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from archive.embedding.base import ProgressCallback, Vectors, check_texts
from archive.errors import ConfigError


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
        items = check_texts(texts, batch_size)
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
