"""What the archive needs from an embedding model: the Embedder protocol and its value types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from archive.errors import ConfigError, InvalidArgumentError

Vectors = npt.NDArray[np.float32]
ProgressCallback = Callable[[int], None]
"""Called with the number of texts finished since the previous call."""


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


def check_texts(texts: Sequence[str], batch_size: int) -> list[str]:
    """The texts as a list; a single string or a bad batch size is a caller's mistake."""
    if isinstance(texts, str):
        raise InvalidArgumentError("embed() takes a sequence of texts; use embed_query() for a single text")
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    return list(texts)
