"""Turning user inputs (BlockArrays, NumPy arrays, lists, scalars) into IR nodes.

New arrays without ``block_shape=`` get their blocks from :func:`default_grid_block_shape`:
the default block shape under the session's alignment rule (arrays sharing the length of a
split leading axis share its partition; see :mod:`nums.array.grid`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nums.array.grid import ArrayGrid, aligned_block_shape
from nums.ir.nodes import Node
from nums.runtime.session import current

__all__ = ["check_dtype", "grid_for", "default_grid_block_shape", "node_from_numpy",
           "is_blockarray", "to_node", "as_blockarray", "SUPPORTED_KINDS"]

SUPPORTED_KINDS = "biufc"


def check_dtype(dtype: Any, argument: str = "dtype") -> np.dtype:
    """Return ``np.dtype(dtype)``; TypeError naming the dtype if nums cannot hold it."""
    dt = np.dtype(dtype)
    if dt.kind not in SUPPORTED_KINDS:
        raise TypeError(f"nums arrays hold booleans and numbers; {argument} {dt} "
                        f"({dt.name}) is not supported")
    return dt


def default_grid_block_shape(shape: Sequence[int], itemsize: int,
                             record: bool = True) -> tuple[int, ...]:
    """The running session's default block shape for a new array of ``shape``.

    :func:`nums.array.grid.aligned_block_shape` with the session's ``block_size``, device
    count and table of remembered partitions: the first array whose leading axis of length n
    is split gets the pure default and records its rows per block; later arrays of length n
    reuse that partition while their blocks stay within twice ``block_size``. ``record``:
    False where the caller does not use the result along axis 0. A session whose
    ``default_partitions`` is None (as benchmarks set to compare) gets the pure default.
    """
    session = current()
    partitions = getattr(session, "default_partitions", None)
    return aligned_block_shape(shape, itemsize, session.settings.block_size,
                               len(session.devices), partitions, record)


def grid_for(shape: Sequence[int], dtype: np.dtype,
             block_shape: Sequence[int] | None = None) -> ArrayGrid:
    """The grid of a new array: ``block_shape`` if given, else the session's default (aligned
    with earlier arrays of the same leading length, see :func:`default_grid_block_shape`)."""
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise ValueError("negative dimensions are not allowed")
    if block_shape is None:
        block_shape = default_grid_block_shape(shape, np.dtype(dtype).itemsize)
    else:
        if isinstance(block_shape, (int, np.integer)):
            block_shape = (int(block_shape),)
        block_shape = tuple(int(b) for b in block_shape)
        if len(block_shape) != len(shape):
            raise ValueError(f"block_shape {block_shape} does not have the {len(shape)} "
                             f"dimensions of shape {shape}")
        if any(b <= 0 for b, n in zip(block_shape, shape) if n > 0):
            raise ValueError(f"block_shape entries must be positive, got {block_shape}")
        block_shape = tuple(max(1, min(b, n)) if n > 0 else 0
                            for b, n in zip(block_shape, shape))
    return ArrayGrid.regular(shape, block_shape)


def node_from_numpy(array: np.ndarray, grid: ArrayGrid | None = None,
                    block_shape: Sequence[int] | None = None, copy: bool = True) -> Node:
    """Put a NumPy array's blocks on their devices."""
    from nums.ir.creation import leaf_from_blocks

    check_dtype(array.dtype)
    if grid is None:
        grid = grid_for(array.shape, array.dtype, block_shape)
    return leaf_from_blocks(grid, array.dtype, array, copy)


def is_blockarray(x: Any) -> bool:
    """Whether ``x`` is a nums BlockArray."""
    return hasattr(x, "_node") and hasattr(x, "grid")


def to_node(x: Any, grid: ArrayGrid | None = None) -> Node:
    """A node for ``x``: a BlockArray's own node, or a NumPy array / nested list put on blocks
    (of ``grid`` if given)."""
    if is_blockarray(x):
        return x._node
    return node_from_numpy(np.asarray(x), grid=grid, copy=True)


def as_blockarray(x: Any) -> Any:
    """``x`` itself if it is a BlockArray, else a BlockArray of ``np.asarray(x)`` (default
    blocks; a NumPy input is read without copying on the local backend)."""
    if is_blockarray(x):
        return x
    from nums.array.blockarray import BlockArray

    return BlockArray(node_from_numpy(np.asarray(x), copy=False))
