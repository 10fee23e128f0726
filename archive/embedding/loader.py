"""Pick the embedder for a model spec: ``fake``/``fake:<dim>`` for tests, else a local model."""

from __future__ import annotations

from pathlib import Path

from archive.config import EmbeddingSettings
from archive.embedding.base import Embedder
from archive.embedding.fake import FakeEmbedder
from archive.embedding.sentence import SentenceTransformerEmbedder
from archive.errors import ConfigError


def load_embedder(model: str | None, *, home: Path, options: EmbeddingSettings | None = None) -> Embedder:
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
    return SentenceTransformerEmbedder(model, home=home, options=options)


def same_model(recorded: str, requested: str) -> bool:
    strip = "sentence-transformers/"
    return recorded.removeprefix(strip) == requested.removeprefix(strip)


def spec_for(recorded: str) -> str:
    """How to load the model a database records (fake embedders are recorded by name)."""
    if recorded == "fake-embedder":
        return "fake"
    if recorded.startswith("fake-embedder:"):
        return "fake:" + recorded.partition(":")[2]
    return recorded
