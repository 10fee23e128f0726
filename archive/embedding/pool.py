"""Embed passages on every core: one Python thread per core, each running torch on one thread.

On a small CPU, torch's own intra-op threads spend much of each ~110-token batch waiting on
one another: on 2 cores MiniLM embedded ~26-31 passages/s with torch's default 2 threads, but
~35-49/s with two Python threads each running whole forward passes on 1 torch thread (torch
releases the GIL inside its kernels, so the threads really run side by side).

``encode_parallel`` gives the same vectors as ``SentenceTransformer.encode(texts,
normalize_embeddings=True)``: the same tokenizer call (``preprocess``, with the model's default
prompt), forward pass, ``truncate_dim`` and L2 normalisation, in input order. Only the
tokenizer runs under a lock: a fast (Rust) tokenizer is not safe to call from two threads,
because each call re-applies its padding and truncation settings ("Already borrowed").
"""

from __future__ import annotations

import ctypes
import functools
import os
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from archive.config import Precision
from archive.embedding.precision import FLOAT32, autocast
from archive.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "CPU_BATCH_CHARS",
    "bound_kernel_cache",
    "default_workers",
    "encode_parallel",
    "release_freed_memory",
    "usable_cores",
]

# Past a handful of cores, one process's Python threads start to queue on the GIL between kernels.
MAX_DEFAULT_WORKERS = 8
# With one worker, progress is reported after every slice of this many batches: often enough
# for a progress bar, while each encode() call still gets several batches to sort and pad.
BATCHES_PER_PROGRESS = 8
# How long the calling thread waits for a finished batch before looking again: short enough
# that Ctrl-C (delivered to the main thread only between waits) stops an ingest at once.
_POLL_SECONDS = 0.2
_FINISHED = -1  # a worker's last message on the progress queue
# A forward pass's activations grow with its batch's size times its longest text. By default a batch
# holds ``batch_size`` texts of up to BATCH_TEXT_CHARS characters (a passage with its headline); a
# batch of longer texts (article inputs: headline and lead, the model's whole window) holds
# proportionally fewer. Past LONGEST_COUNTED_CHARS the model truncates anyway, so length counts no
# further.
BATCH_TEXT_CHARS = 750
LONGEST_COUNTED_CHARS = 1_500
# On a CPU a batch is bounded by its padded characters instead: a forward pass of 8 passages runs as
# fast per passage as one of 32 on one core (the core is busy either way), with a third of the
# activations. Scratch runs of encode_parallel (2 workers, bfloat16 and float32, 1,024 ukraine_media
# passages with headlines): 6,000 characters embedded 93-95 passages/s against 81-86 at 32 texts a
# batch, and article inputs 56-59/s against 46-53, at 350-460 MB lower peaks.
CPU_BATCH_CHARS = 6_000

Vectors = npt.NDArray[np.float32]


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_workers(device: str, *, workers: int | None, torch_threads: int | None) -> int:
    """How many threads embed passages on ``device``: ``workers`` when given, else a default.

    The default is one per usable core (at most 8), but 1 on a GPU or other accelerator and 1
    when ``torch_threads`` is set (the user chose torch's threading).
    """
    if workers is not None:
        return workers
    if device.split(":")[0] != "cpu" or torch_threads is not None:
        return 1
    return min(usable_cores(), MAX_DEFAULT_WORKERS)


def encode_parallel(
    model: SentenceTransformer,
    texts: Sequence[str],
    *,
    batch_size: int,
    workers: int,
    progress: Callable[[int], None] | None = None,
    precision: Precision = FLOAT32,
    batch_chars: int | None = None,
) -> Vectors:
    """Embed ``texts`` with ``model`` on ``workers`` threads: float32, L2-normalised, input order.

    ``precision`` "bfloat16" runs each thread's forward passes under torch's autocast
    (``archive.embedding.precision``); the vectors handed back are float32 either way.

    Texts are sorted longest first and cut into batches of ``batch_size`` (fewer for long texts, and
    at most ``batch_chars`` padded characters when given: see :func:`cut_batches`), so each batch
    pads to similar lengths; the threads take batches in
    turn. ``progress`` hears the number of texts finished after every few batches, always on the
    calling thread. One worker (or a single batch) calls
    ``model.encode`` on this thread, with torch's thread count as it is.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    if workers < 1:
        raise ConfigError(f"embedding needs at least 1 worker thread, got {workers}")
    items = list(texts)
    if not items:
        return np.empty((0, _dimension(model)), dtype=np.float32)
    order = sorted(range(len(items)), key=lambda i: -len(items[i]))
    batches = cut_batches([len(items[i]) for i in order], batch_size, batch_chars)
    batches = [[order[i] for i in batch] for batch in batches]
    prompt = _default_prompt(model)
    if workers == 1 or len(batches) == 1 or (prompt and not hasattr(model, "preprocess")):
        return _encode_serial(model, items, batches, progress, precision)
    return _Pool(model, items, batches, prompt, precision).run(min(workers, len(batches)), progress)


def cut_batches(lengths: Sequence[int], batch_size: int, batch_chars: int | None = None) -> list[list[int]]:
    """Positions ``0..len(lengths)-1`` (texts of these lengths, longest first) cut into consecutive batches
    of at most ``batch_size`` texts and ``batch_chars`` padded characters (the batch's first, longest,
    text counted once per text, up to LONGEST_COUNTED_CHARS). ``batch_chars`` defaults to
    ``batch_size * BATCH_TEXT_CHARS``. Every batch holds at least one text."""
    budget = batch_size * BATCH_TEXT_CHARS if batch_chars is None else batch_chars
    batches: list[list[int]] = []
    start = 0
    while start < len(lengths):
        longest = max(1, min(lengths[start], LONGEST_COUNTED_CHARS))
        size = max(1, min(batch_size, budget // longest))
        batches.append(list(range(start, min(start + size, len(lengths)))))
        start += size
    return batches


def _encode_serial(
    model: SentenceTransformer,
    items: list[str],
    batches: list[list[int]],
    progress: Callable[[int], None] | None,
    precision: Precision,
) -> Vectors:
    out: Vectors | None = None
    with autocast(precision, str(model.device)):  # once: leaving it drops autocast's cast weights
        for start in range(0, len(batches), BATCHES_PER_PROGRESS):
            group = batches[start : start + BATCHES_PER_PROGRESS]
            rows = [row for batch in group for row in batch]
            vectors = model.encode(
                [items[i] for i in rows],
                batch_size=len(group[0]),  # the group's longest texts set its (smallest) batch
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            block = np.asarray(vectors, dtype=np.float32)
            if out is None:
                out = np.empty((len(items), block.shape[1]), dtype=np.float32)
            out[rows] = block
            if progress is not None:
                progress(len(rows))
    assert out is not None  # items is not empty
    return out


class _Pool:
    """One ``encode_parallel`` call: the shared batch index, the results and the stop flag."""

    def __init__(
        self,
        model: SentenceTransformer,
        items: list[str],
        batches: list[list[int]],
        prompt: str | None,
        precision: Precision = FLOAT32,
    ) -> None:
        self.model = model
        self.precision = precision
        self.items = items
        self.batches = batches
        self.prompt = prompt
        self.truncate_dim: int | None = getattr(model, "truncate_dim", None)
        self.results: list[Vectors | None] = [None] * len(batches)
        self.lock = threading.Lock()  # guards next_batch and the tokenizer
        self.next_batch = 0
        self.stop = threading.Event()
        self.finished: queue.Queue[int] = queue.Queue()
        self.errors: list[BaseException] = []

    def run(self, workers: int, progress: Callable[[int], None] | None) -> Vectors:
        """Start the workers, relay their progress on this thread, and gather the vectors."""
        import torch

        self.model.eval()  # as encode() does
        previous = torch.get_num_threads()
        # Threads started from here read torch's thread count when they first run an op.
        torch.set_num_threads(1)
        threads: list[threading.Thread] = []
        try:
            for number in range(workers):
                thread = threading.Thread(target=self._work, name=f"archive-embed-{number}", daemon=True)
                thread.start()
                threads.append(thread)
            self._relay(len(threads), progress)
        finally:
            self.stop.set()  # an error or Ctrl-C here: workers stop after their current batch
            for thread in threads:
                thread.join()
            torch.set_num_threads(previous)
        if self.errors:
            raise self.errors[0]
        blocks = [block for block in self.results if block is not None]
        assert len(blocks) == len(self.batches)  # no error and no interrupt: every batch ran
        stacked = np.concatenate(blocks)
        out = np.empty_like(stacked)
        out[[row for batch in self.batches for row in batch]] = stacked
        return out

    def _relay(self, running: int, progress: Callable[[int], None] | None) -> None:
        # Reported in slices of BATCHES_PER_PROGRESS batches, as the one-worker path does.
        step, pending = len(self.batches[0]) * BATCHES_PER_PROGRESS, 0
        while running:
            try:
                done = self.finished.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if done == _FINISHED:
                running -= 1
                continue
            pending += done
            if progress is not None and not self.stop.is_set() and pending >= step:
                progress(pending)
                pending = 0
        if progress is not None and pending and not self.stop.is_set():
            progress(pending)

    def _work(self) -> None:
        import torch

        try:
            with torch.inference_mode(), autocast(self.precision, str(self.model.device)):  # per thread
                while not self.stop.is_set():
                    with self.lock:
                        number = self.next_batch
                        self.next_batch += 1
                        if number >= len(self.batches):
                            return
                        features = self._preprocess([self.items[i] for i in self.batches[number]])
                    self.results[number] = self._forward(features)
                    self.finished.put(len(self.batches[number]))
        except BaseException as exc:
            self.errors.append(exc)
            self.stop.set()
        finally:
            self.finished.put(_FINISHED)

    def _preprocess(self, texts: list[str]) -> dict[str, Any]:
        preprocess = getattr(self.model, "preprocess", None)
        if preprocess is not None:  # sentence-transformers >= 6 (tokenize() is deprecated there)
            features: dict[str, Any] = preprocess(texts, prompt=self.prompt)
            return features
        return dict(self.model.tokenize(texts))  # older releases; prompts go the serial way

    def _forward(self, features: dict[str, Any]) -> Vectors:
        import torch

        device = self.model.device
        moved = {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in features.items()}
        embeddings = self.model(moved)["sentence_embedding"]
        if self.truncate_dim is not None:
            embeddings = embeddings[..., : self.truncate_dim]
        embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
        block: Vectors = embeddings.float().cpu().numpy()
        return block


def _default_prompt(model: SentenceTransformer) -> str | None:
    """The prompt encode() adds when called without one: the model's default prompt, if any."""
    name = getattr(model, "default_prompt_name", None)
    prompts = getattr(model, "prompts", None) or {}
    return prompts.get(name) if name is not None else None


def _dimension(model: SentenceTransformer) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = getter()
    return dimension if isinstance(dimension, int) else 0


# oneDNN (torch's bfloat16 products on a CPU) keeps every kernel it built, with the weights packed for
# it, for up to 1,024 shapes; each batch's padded length is a new shape, so over a long ingest that
# cache grew by hundreds of MB. A few dozen cover the shapes of the batches in flight.
KERNEL_CACHE_CAPACITY = 32
_KERNEL_CACHE_VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"


def bound_kernel_cache() -> None:
    """Cap oneDNN's kernel cache (read when it builds its first kernel); a value the user set stays."""
    os.environ.setdefault(_KERNEL_CACHE_VARIABLE, str(KERNEL_CACHE_CAPACITY))


def release_freed_memory() -> None:
    """Hand memory freed by the last forward passes back to the system (glibc only; elsewhere nothing).

    Every batch pads to its own length, so each pass allocates activations of new sizes;
    glibc keeps the freed blocks, and an ingest's peak RSS grew by ~45 MB per 512-passage
    call without this (flat with it; ``scripts/bench.py`` measures ingest RSS).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim
