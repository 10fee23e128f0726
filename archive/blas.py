"""BLAS threading for small products: one thread for this thread's calls, then the previous setting back.

A query's products are small (a few tokens through the encoder, one vector against
the passage matrix): OpenBLAS's worker threads cost more than they save on a busy
machine (scripts/bench.py measures). Where NumPy's BLAS is not an OpenBLAS that
exposes ``openblas_set_num_threads_local`` this does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["single_threaded"]


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run this thread's BLAS calls on one thread inside the block."""
    setter = _openblas_thread_setter()
    previous = setter(1) if setter is not None else None
    try:
        yield
    finally:
        if setter is not None and previous is not None and previous > 0:
            setter(previous)


@lru_cache(maxsize=1)
def _openblas_thread_setter() -> Callable[[int], int] | None:
    package = Path(np.__file__).resolve().parent
    for folder in (package.parent / "numpy.libs", package / ".dylibs"):
        for library in sorted(folder.glob("*openblas*")) if folder.is_dir() else []:
            try:
                setter = ctypes.CDLL(str(library)).openblas_set_num_threads_local
            except (OSError, AttributeError):
                continue
            setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
            return setter
    return None
