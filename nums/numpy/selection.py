"""Selections whose size depends on the values: ``nonzero``, ``flatnonzero`` and boolean-mask
indexing ``x[mask]``.

Each counts per block first, then selects (see :mod:`nums.ir.sizes`): the result has a real
shape as soon as the call returns, and its blocks are ragged along the selected axis, one per
source block with something selected. Sources are taken in row bands (every axis but the
first whole in each block), re-blocked first where they are not, so that the blocks'
selections concatenate in C order as NumPy's do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nums.array.blockarray import BlockArray
from nums.array.conversion import to_node
from nums.array.grid import ArrayGrid
from nums.ir import movement
from nums.ir.nodes import Node
from nums.ir.sizes import count_per_block, ragged_chunks
from nums.ir.tasks import BlockTask, block_tasks

__all__ = ["nonzero", "flatnonzero", "masked_select"]


def _row_bands(node: Node, lead: int = 1) -> Node:
    """``node`` with its axes from ``lead`` on whole in every block."""
    if all(g == 1 for g in node.grid.grid_shape[lead:]):
        return node
    chunks = node.grid.chunks[:lead] + tuple((n,) for n in node.shape[lead:])
    return movement.rechunk(node, chunks)


def nonzero(a: Any) -> tuple[BlockArray, ...]:
    """Indices of the nonzero elements, one int64 array per axis, in C order.

    Parameters
    ----------
    a : array_like
        Input array (at least 1-D).

    Returns
    -------
    tuple of BlockArray
        ``(indices along axis 0, indices along axis 1, ...)``, each blocked like the
        count of nonzero elements per row band of ``a``.

    Raises
    ------
    ValueError
        If ``a`` is 0-d (as in NumPy 2).
    """
    node = to_node(a)
    if node.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use "
                         "np.atleast_1d(scalar).nonzero() instead. If the context of this "
                         "error is of the form `arr[nonzero(cond)]`, just use `arr[cond]`.")
    src = _row_bands(node)
    ndim = src.ndim
    counts = count_per_block(src, "count_nonzero_block").reshape(-1)
    lengths, kept = ragged_chunks(counts.tolist())
    grid = ArrayGrid((lengths,))
    rest = (0,) * (ndim - 1)

    def plan(leaves):
        for j, i in enumerate(kept):
            index = (i, *rest)
            yield BlockTask("nonzero_block", reads=((0, index),),
                            writes=tuple((k, (j,)) for k in range(ndim)),
                            consts=(src.grid.block_offset(index),), device="input")

    outs = block_tasks((src,), [(grid, np.int64)] * ndim, plan)
    return tuple(BlockArray(o) for o in outs)


def flatnonzero(a: Any) -> BlockArray:
    """Indices of the nonzero elements of ``a`` flattened (C order).

    Parameters
    ----------
    a : array_like

    Returns
    -------
    BlockArray
        int64 indices.
    """
    from nums.numpy.manipulation import ravel

    return nonzero(ravel(a))[0]


def masked_select(x: Any, mask: Any) -> BlockArray:
    """``x[mask]`` for a boolean ``mask`` over the leading ``mask.ndim`` axes of ``x``.

    Parameters
    ----------
    x : array_like
    mask : array_like of bool
        Same shape as ``x``'s leading axes.

    Returns
    -------
    BlockArray
        Shape ``(mask.sum(),) + x.shape[mask.ndim:]``.

    Raises
    ------
    IndexError
        If ``mask``'s shape does not match ``x``'s leading axes (NumPy's message).
    """
    node, mask_node = to_node(x), to_node(mask)
    k = mask_node.ndim
    if k == 0 or k > node.ndim or mask_node.shape != node.shape[:k]:
        for axis, (m, n) in enumerate(zip(mask_node.shape, node.shape)):
            if m != n:
                raise IndexError(f"boolean index did not match indexed array along axis "
                                 f"{axis}; size of axis is {n} but size of corresponding "
                                 f"boolean axis is {m}")
        raise IndexError(f"too many indices for array: array is {node.ndim}-dimensional, "
                         f"but {k} were indexed")
    if mask_node.dtype != np.bool_:
        raise IndexError("arrays used as indices must be of integer (or boolean) type")
    mask_node = _row_bands(mask_node)
    want = mask_node.grid.chunks + node.grid.chunks[k:]
    data = node if node.grid.chunks[:k] == want[:k] else movement.rechunk(node, want)
    counts = count_per_block(mask_node, "count_nonzero_block").reshape(-1)
    lengths, kept = ragged_chunks(counts.tolist())
    trailing = data.grid.chunks[k:]
    grid = ArrayGrid((lengths, *trailing))
    mask_rest = (0,) * (k - 1)

    def plan(leaves):
        for j, i in enumerate(kept):
            for tail in np.ndindex(*(len(c) for c in trailing)):
                yield BlockTask("masked_block", reads=((0, (i, *mask_rest)),
                                                       (1, (i, *mask_rest, *tail))),
                                writes=((0, (j, *tail)),), device="input")

    (out,) = block_tasks((mask_node, data), [(grid, node.dtype)], plan)
    return BlockArray(out)
