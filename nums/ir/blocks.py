"""Shared arithmetic of the lowerings: block columns of fused inputs, kernels by name.

A lowering walks output blocks in row-major order; for each input of a fused program (a Leaf,
possibly viewed through a permutation and broadcast), :func:`input_columns` gives its refs,
devices and bytes in that order, so per-block loops zip columns instead of indexing grids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nums.ir.nodes import Leaf
from nums.kernels.fused import permute_axes
from nums.kernels.registry import kernel

__all__ = ["K", "aligned", "input_columns", "broadcast_numbers", "split_runs", "selection"]


def selection(sel: list[Any]) -> tuple[Any, ...] | None:
    """None when ``sel`` selects whole blocks, else the index tuple."""
    if all(s is None or s == slice(None) for s in sel):
        return None
    return tuple(slice(None) if s is None else s for s in sel)


class _Kernels:
    """Kernel objects looked up once per process (the registry is built on first use)."""

    def __getattr__(self, name: str) -> Any:
        k = kernel(name)
        setattr(self, name, k)
        return k


K = _Kernels()


def aligned(leaf: Leaf, perm: tuple[int, ...] | None, ndim: int,
             grid_shape: tuple[int, ...], what: str = "refs") -> np.ndarray:
    """``leaf.refs`` (or ``devices``, ``nbytes``, block ``number``) viewed in output-block
    coordinates, flattened."""
    if what == "nbytes":
        arr = leaf.grid.block_nbytes(leaf.dtype.itemsize)
    elif what == "number":
        arr = np.arange(leaf.grid.num_blocks).reshape(leaf.grid.grid_shape)
    else:
        arr = getattr(leaf, what)
    if perm is None and arr.shape == grid_shape:
        return arr.reshape(-1)
    if perm is not None:
        arr = permute_axes(arr, perm)
    if arr.ndim < ndim:
        arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
    return np.broadcast_to(arr, grid_shape).ravel()


def input_columns(inputs: Sequence[tuple[Leaf, Any]], ndim: int,
                   grid_shape: tuple[int, ...]) -> tuple[list[np.ndarray], list[np.ndarray],
                                                         list[np.ndarray]]:
    """Per fused input, in output-block order: its refs, their devices and their bytes."""
    refs = [aligned(leaf, perm, ndim, grid_shape) for leaf, perm in inputs]
    devs = [aligned(leaf, perm, ndim, grid_shape, "devices") for leaf, perm in inputs]
    sizes = [aligned(leaf, perm, ndim, grid_shape, "nbytes") for leaf, perm in inputs]
    return refs, devs, sizes


def broadcast_numbers(inputs: Sequence[tuple[Leaf, Any]], ndim: int,
                       grid_shape: tuple[int, ...]) -> list[np.ndarray | None]:
    """Per fused input, in output-block order, the number of the block read, for inputs
    whose blocks are read by several output blocks (broadcast); None for the others."""
    return [None if leaf.grid.num_blocks == math.prod(grid_shape)
            else aligned(leaf, perm, ndim, grid_shape, "number") for leaf, perm in inputs]


def split_runs(items: list[int], parts: int) -> list[list[int]]:
    """``items`` cut into ``min(len(items), parts)`` runs of near-equal length, in order."""
    parts = min(len(items), parts)
    step, extra = divmod(len(items), parts)
    out, start = [], 0
    for p in range(parts):
        stop = start + step + (p < extra)
        out.append(items[start:stop])
        start = stop
    return out
