"""Turning user inputs (BlockArrays, NumPy arrays, lists, scalars) into IR nodes.

New arrays without ``block_shape=`` get their blocks from :func:`default_grid_block_shape`:
the default block shape under the session's alignment rule (arrays sharing the length of a
split leading axis share its partition; see :mod:`nums.array.grid`).

Inputs are checked here: ``block_shape`` (:func:`nums.array.grid.check_block_shape`),
masked arrays (refused: nums arrays have no mask, so the mask would be lost silently), and
arrays of a session that was shut down (:func:`check_live`: their blocks are gone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nums.array.grid import ArrayGrid, aligned_block_shape, check_block_shape
from nums.ir.nodes import Leaf, Node
from nums.runtime import session as _session_module
from nums.runtime.session import current, stale_array_error

__all__ = ["check_dtype", "check_live", "check_not_masked", "grid_for",
           "default_grid_block_shape", "node_from_numpy", "is_blockarray", "to_node",
           "as_blockarray", "SUPPORTED_KINDS"]

SUPPORTED_KINDS = "biufc"


def check_dtype(dtype: Any, argument: str = "dtype") -> np.dtype:
    """Return ``np.dtype(dtype)``; TypeError naming the dtype if nums cannot hold it."""
    dt = np.dtype(dtype)
    if dt.kind not in SUPPORTED_KINDS:
        raise TypeError(f"nums arrays hold booleans and numbers; {argument} {dt} "
                        f"({dt.name}) is not supported")
    return dt


def check_live(node: Node) -> Node:
    """``node`` itself; RuntimeError if it is a Leaf whose session was shut down (its blocks
    died with that session), or a node computed by such a session (its cached ``leaf``).
    Deferred nodes that read such Leaves are checked when they are computed."""
    leaf = node if type(node) is Leaf else node.leaf
    if type(leaf) is Leaf and leaf.session != _session_module.running_id:
        raise stale_array_error(leaf.session)
    return node


def check_not_masked(x: Any, argument: str = "the input") -> None:
    """TypeError naming ``argument`` if ``x`` is a NumPy masked array, or a (nested) list or
    tuple holding one (nums arrays have no mask; converting would drop it silently)."""
    if isinstance(x, np.ma.MaskedArray):
        where = "is"
    elif (type(x) is list or type(x) is tuple) and _holds_masked(x):
        where = "holds"
    else:
        return
    raise TypeError(f"masked arrays are not supported ({argument} {where} a "
                    "numpy.ma.MaskedArray; nums arrays have no mask): pass its "
                    ".filled(value) or .data to choose what the masked entries become")


def _holds_masked(items: list[Any] | tuple[Any, ...]) -> bool:
    """Whether nested lists and tuples hold a masked array (walked without recursion; the
    types of a sequence's items are collected at C speed, so scalars cost little)."""
    stack = [items]
    while stack:
        seq = stack.pop()
        types = set(map(type, seq))
        if any(issubclass(t, np.ma.MaskedArray) for t in types):
            return True
        if list in types or tuple in types:
            stack.extend(item for item in seq if type(item) is list or type(item) is tuple)
    return False


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
    partitions = session.default_partitions
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
        block_shape = check_block_shape(block_shape, shape)
        block_shape = tuple(max(1, min(b, n)) if n > 0 else 0
                            for b, n in zip(block_shape, shape))
    return ArrayGrid.regular(shape, block_shape)


def node_from_numpy(array: np.ndarray, grid: ArrayGrid | None = None,
                    block_shape: Sequence[int] | None = None, copy: bool = True) -> Node:
    """Put a NumPy array's blocks on their devices (TypeError for a masked array)."""
    from nums.ir.creation import leaf_from_blocks

    check_not_masked(array, "the array")
    check_dtype(array.dtype)
    if grid is None:
        grid = grid_for(array.shape, array.dtype, block_shape)
    return leaf_from_blocks(grid, array.dtype, array, copy)


def is_blockarray(x: Any) -> bool:
    """Whether ``x`` is a nums BlockArray."""
    return hasattr(x, "_node") and hasattr(x, "grid")


def to_node(x: Any, grid: ArrayGrid | None = None) -> Node:
    """A node for ``x``: a BlockArray's own node, or a NumPy array / nested list put on blocks
    (of ``grid`` if given). RuntimeError for an array of a session that was shut down,
    TypeError for a masked array."""
    if is_blockarray(x):
        return check_live(x._node)
    check_not_masked(x)
    return node_from_numpy(np.asarray(x), grid=grid, copy=True)


def as_blockarray(x: Any) -> Any:
    """``x`` itself if it is a BlockArray, else a BlockArray of ``np.asarray(x)`` (default
    blocks; a NumPy input is read without copying on the local backend). RuntimeError for
    an array of a session that was shut down, TypeError for a masked array."""
    if is_blockarray(x):
        check_live(x._node)
        return x
    check_not_masked(x)
    from nums.array.blockarray import BlockArray

    return BlockArray(node_from_numpy(np.asarray(x), copy=False))
