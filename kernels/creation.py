"""Creation kernels: each makes one block on the device that owns it, from its offset."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["full", "arange", "linspace", "eye", "diag_from_vector", "diag_of_block"]


def full(shape: tuple[int, ...], value: Any, dtype: np.dtype) -> np.ndarray:
    """Kernel: a block of ``shape`` filled with ``value``."""
    out = np.empty(shape, dtype=dtype)
    out.fill(value)
    return out


def arange(start: Any, step: Any, lo: int, hi: int, dtype: np.dtype) -> np.ndarray:
    """Kernel: elements ``lo:hi`` of ``arange(start, ..., step)``, computed like NumPy's fill:
    ``first + i * delta`` in the result type, with ``first = dtype(start)`` and
    ``delta = dtype(start + step) - first`` (so element 1 is ``dtype(start + step)``)."""
    dtype = np.dtype(dtype)
    first = np.array(start).astype(dtype)[()]
    second = np.array(start + step).astype(dtype)[()]
    with np.errstate(over="ignore"):
        delta = second - first
        out = np.arange(lo, hi, dtype=dtype if dtype.kind != "b" else np.int64)
        out *= delta
        out += first
    if lo <= 1 < hi:
        out[1 - lo] = second
    return out.astype(dtype, copy=False)


def linspace(start: Any, step: Any, delta: Any, div: int, any_step_zero: bool,
             lo: int, hi: int, last: Any, num: int, dtype: np.dtype,
             calc_dtype: np.dtype) -> np.ndarray:
    """Kernel: elements ``lo:hi`` of ``linspace``, with NumPy's own arithmetic."""
    y = np.arange(lo, hi, dtype=calc_dtype)
    if div > 0:
        if any_step_zero:
            y /= div
            y = y * delta
        else:
            y = y * step
    else:
        y = y * delta
    y += start
    if last is not None and hi == num and hi > lo:
        y[-1] = last
    if np.dtype(dtype).kind in "iu":
        y = np.floor(y)
    return y.astype(dtype, copy=False)


def eye(shape: tuple[int, int], row0: int, col0: int, k: int, dtype: np.dtype) -> np.ndarray:
    """Kernel: the block at ``(row0, col0)`` of a matrix with ones on diagonal ``k``."""
    out = np.zeros(shape, dtype=dtype)
    rows = np.arange(shape[0])
    cols = rows + row0 + k - col0
    keep = (cols >= 0) & (cols < shape[1])
    out[rows[keep], cols[keep]] = 1
    return out


def diag_from_vector(shape: tuple[int, int], row0: int, col0: int, k: int,
                     start: int, vector: np.ndarray) -> np.ndarray:
    """Kernel: a block of ``np.diag(v, k)`` given the part of ``v`` from index ``start``."""
    out = np.zeros(shape, dtype=vector.dtype)
    rows = np.arange(shape[0])
    cols = rows + row0 + k - col0
    diag_pos = (rows + row0 - max(-k, 0)) - start
    keep = (cols >= 0) & (cols < shape[1]) & (diag_pos >= 0) & (diag_pos < vector.shape[0])
    out[rows[keep], cols[keep]] = vector[diag_pos[keep]]
    return out


def diag_of_block(k: int, block: np.ndarray) -> np.ndarray:
    """Kernel: the diagonal ``k`` of one block (a copy)."""
    return np.diagonal(block, offset=k).copy()
