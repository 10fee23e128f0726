"""Which float precision passages are embedded in: float32, or bfloat16 under torch's autocast.

Under autocast the matrix products run in bfloat16 while layer norms, softmax and the
pooling stay in float32. On a CPU with AMX tiles (Intel Sapphire Rapids and later) or AVX512-BF16
dot products (Intel Cooper Lake, AMD Zen 4 and later) oneDNN runs those products in hardware, much
faster than float32 at vectors within float rounding of float32's (``scripts/bench.py --sections ingest`` times both pipelines side by side,
``scripts/eval.py`` measures retrieval quality, ``tests/test_precision.py`` bounds the cosine).
Elsewhere bfloat16 is emulated and slower, so ``auto`` takes it only where the CPU multiplies
it natively, and float32 on every other device. Query vectors (float32) stay comparable with either.

torch is imported only by the functions that need it, when a model is loaded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from archive.config import Precision, PrecisionChoice
from archive.errors import ConfigError

__all__ = ["BFLOAT16", "FLOAT32", "autocast", "cpu_has_native_bfloat16", "precision_of", "resolve_precision"]

FLOAT32: Precision = "float32"
BFLOAT16: Precision = "bfloat16"
_CPUINFO = Path("/proc/cpuinfo")
# AMX-BF16 or AVX512-BF16: torch's probes of them, and their names in /proc/cpuinfo.
_TORCH_PROBES = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
_CPUINFO_FLAGS = ("amx_bf16", "avx512_bf16")


def resolve_precision(choice: PrecisionChoice, device: str) -> Precision:
    """The precision ``choice`` means on ``device`` ("cpu", "cuda:0", ...): float32 or bfloat16.

    Raises ConfigError for bfloat16 on a device whose autocast cannot run it (torch would
    fail mid-ingest, or quietly embed in float32).
    """
    kind = device.split(":")[0]
    if choice == "auto":
        return BFLOAT16 if kind == "cpu" and cpu_has_native_bfloat16() else FLOAT32
    if choice == BFLOAT16 and not _runs_bfloat16(kind):
        raise ConfigError(
            f"ARCHIVE_PRECISION=bfloat16 cannot run on {device}: use float32 or auto there (bfloat16 runs on CPUs "
            "and on CUDA GPUs that support it)"
        )
    return choice


def _runs_bfloat16(kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind != "cuda":
        return False
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


@cache
def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware, as oneDNN needs for speed: AMX-BF16 tiles (Intel
    Sapphire Rapids and later) or AVX512-BF16 dot products (Intel Cooper Lake, AMD Zen 4 and later)."""
    import torch

    if not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
        return False
    probes = [getattr(torch.cpu, name, None) for name in _TORCH_PROBES]  # private: cpuinfo where they are gone
    if all(probe is not None for probe in probes):
        try:
            return any(bool(probe()) for probe in probes if probe is not None)
        except RuntimeError:
            pass
    return any(_cpuinfo_flag(flag) for flag in _CPUINFO_FLAGS)


def _cpuinfo_flag(flag: str) -> bool:
    try:
        text = _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(flag in line.split() for line in text.splitlines() if line.startswith("flags"))


@contextlib.contextmanager
def autocast(precision: Precision, device: str) -> Iterator[None]:
    """Run this thread's forward passes in ``precision`` on ``device`` (autocast is per thread)."""
    if precision != BFLOAT16:
        yield
        return
    import torch

    with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16):
        yield


def precision_of(embedder: object) -> str:
    """The precision an embedder embeds passages in: its ``precision``, else float32 (the fake, a user's own)."""
    value = getattr(embedder, "precision", FLOAT32)
    return value if isinstance(value, str) and value else FLOAT32
