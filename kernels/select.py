"""Kernels of value-dependent selections: counts per block, then the selected elements or
their indices (see :mod:`nums.ir.sizes`)."""

from __future__ import annotations

import numpy as np

__all__ = ["count_nonzero_block", "nonzero_block", "flatnonzero_block", "masked_block"]


def count_nonzero_block(block: np.ndarray) -> np.ndarray:
    """The number of nonzero elements of ``block``, as an int64 array of one element per
    axis (the block of a per-block count array)."""
    return np.full((1,) * block.ndim, np.count_nonzero(block), dtype=np.int64)


def nonzero_block(offset: tuple[int, ...], block: np.ndarray
                  ) -> tuple[np.ndarray, ...] | np.ndarray:
    """Global indices of the nonzero elements of ``block`` (at ``offset`` in its array), one
    int64 array per axis (a single array for a 1-D block), in C order."""
    found = np.nonzero(block)
    out = tuple((idx + off).astype(np.int64, copy=False) for idx, off in zip(found, offset))
    return out[0] if len(out) == 1 else out


def flatnonzero_block(offset: tuple[int, ...], shape: tuple[int, ...],
                      block: np.ndarray) -> np.ndarray:
    """Flat (C-order) indices in an array of ``shape`` of the nonzero elements of ``block``
    (at ``offset``)."""
    found = np.nonzero(block)
    coords = tuple(idx + off for idx, off in zip(found, offset))
    return np.ravel_multi_index(coords, shape).astype(np.int64, copy=False)


def masked_block(mask: np.ndarray, block: np.ndarray) -> np.ndarray:
    """The elements of ``block`` where ``mask`` is true, in C order (``block[mask]``)."""
    return block[mask]
