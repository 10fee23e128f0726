"""Which float precision passages are embedded in: float32, or bfloat16 under torch's autocast.

Under autocast the matrix products run in bfloat16 while layer norms, softmax and the
pooling stay in float32. On a CPU with AMX (Intel Sapphire Rapids and later) oneDNN runs
those products on the AMX tiles: all-MiniLM-L6-v2 embedded news passages about twice as fast
as in float32, at a cosine of 0.99998 to the float32 vectors (``scripts/bench.py`` and
``scripts/eval.py`` measure speed and retrieval quality). Elsewhere bfloat16 is emulated and
slower, so ``auto`` takes it only where the CPU multiplies it natively, and float32 on every
other device. Query vectors (the NumPy encoder, float32) stay comparable with either.

torch is imported only by the functions that need it, when a model is loaded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from archive.config import PrecisionChoice

__all__ = ["BFLOAT16", "FLOAT32", "autocast", "cpu_has_native_bfloat16", "precision_of", "resolve_precision"]

FLOAT32 = "float32"
BFLOAT16 = "bfloat16"
_CPUINFO = Path("/proc/cpuinfo")


def resolve_precision(choice: PrecisionChoice, device: str) -> str:
    """The precision ``choice`` means on ``device`` ("cpu", "cuda:0", ...): float32 or bfloat16."""
    if choice != "auto":
        return choice
    if device.split(":")[0] == "cpu" and cpu_has_native_bfloat16():
        return BFLOAT16
    return FLOAT32


@cache
def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX-BF16 tiles), as oneDNN needs for speed."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # torch >= 2.3; private but stable
    if probe is not None:
        try:
            return bool(probe()) and bool(torch.backends.mkldnn.is_available())  # type: ignore[no-untyped-call]
        except RuntimeError:
            pass
    return _cpuinfo_flag("amx_bf16")


def _cpuinfo_flag(flag: str) -> bool:
    try:
        text = _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(flag in line.split() for line in text.splitlines() if line.startswith("flags"))


@contextlib.contextmanager
def autocast(precision: str, device: str) -> Iterator[None]:
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
