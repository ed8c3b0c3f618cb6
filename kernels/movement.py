"""Data-movement kernels: slicing, assembling a block from pieces, updating a region.

These are the block-level halves of getitem, setitem, rechunk, reshape and concatenate; the
IR (:mod:`nums.ir.movement`) plans which pieces of which blocks make each output block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["take_slice", "assemble", "update_region", "reshape_block", "flat_assemble"]

Slices = tuple[slice, ...]


def take_slice(index: tuple[Any, ...], block: np.ndarray) -> np.ndarray:
    """Kernel: ``block[index]`` (a view where NumPy gives one)."""
    return block[index]


def assemble(shape: tuple[int, ...], dtype: np.dtype,
             pieces: tuple[tuple[int, tuple[Any, ...], Slices], ...],
             *blocks: np.ndarray) -> np.ndarray:
    """Kernel: a new block of ``shape`` filled from pieces ``(input, source index, target)``."""
    out = np.empty(shape, dtype=dtype)
    for k, source, target in pieces:
        out[target] = blocks[k][source]
    return out


def update_region(target: tuple[Any, ...], source: tuple[Any, ...] | None,
                  block: np.ndarray, value: Any) -> np.ndarray:
    """Kernel: a copy of ``block`` with ``block[target] = value[source]``."""
    out = block.copy()
    out[target] = value if source is None else np.asarray(value)[source]
    return out


def reshape_block(shape: tuple[int, ...], block: np.ndarray) -> np.ndarray:
    """Kernel: ``block.reshape(shape)`` (a view for contiguous blocks)."""
    return block.reshape(shape)


def flat_assemble(shape: tuple[int, ...], dtype: np.dtype,
                  pieces: tuple[tuple[int, int, int, int], ...],
                  *blocks: np.ndarray) -> np.ndarray:
    """Kernel: a block of ``shape`` whose C-order elements come from ranges of flat inputs.

    Each piece ``(input, source start, target start, length)`` copies ``length`` consecutive
    elements of the flattened input into the flattened output.
    """
    out = np.empty(shape, dtype=dtype)
    flat = out.reshape(-1)
    for k, src, dst, n in pieces:
        flat[dst:dst + n] = np.ravel(blocks[k])[src:src + n]
    return out
