"""The elementwise template: any ufunc-like operation over broadcast operands.

Builds a :class:`~nums.ir.nodes.Map` node (deferred, fused at lowering). Shapes, dtypes and
casting are checked here, at the call, with NumPy's own rules: the result dtype is what NumPy
gives for the same operation on 0-d operands of the same dtypes (Python scalars stay weak,
NEP 50), and broadcast errors are NumPy's ValueError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nums.array.conversion import (
    SUPPORTED_KINDS,
    check_live,
    check_not_masked,
    default_grid_block_shape,
    node_from_numpy,
)
from nums.array.grid import ArrayGrid, default_block_shape
from nums.array.indexing import normalize_index
from nums.ir.elementwise import Map, Transpose
from nums.ir.movement import getitem, rechunk
from nums.ir.nodes import Node
from nums.runtime.session import current

__all__ = ["elementwise", "result_dtype", "transpose_node", "new_axes_view", "broadcast_node",
           "cast_node"]

_PY_SCALARS = (bool, int, float, complex)


def _dummy(arg: Any) -> Any:
    if isinstance(arg, Node):
        return np.ones((), dtype=arg.dtype)
    return arg


_DTYPE_CACHE: dict[tuple[Any, ...], np.dtype] = {}
_UNCACHEABLE = object()


def _dtype_key(arg: Any) -> Any:
    if isinstance(arg, Node):
        return arg.dtype
    if type(arg) is int and not 0 <= arg < 128:
        return _UNCACHEABLE  # the value decides (NumPy raises OverflowError for out-of-range ints)
    if isinstance(arg, (np.generic, np.ndarray)):
        return arg.dtype  # strong types (NEP 50), like arrays
    return type(arg)


def result_dtype(op: Any, args: tuple[Any, ...]) -> np.dtype:
    """The dtype NumPy gives ``op`` on these operands (raising NumPy's errors)."""
    key = (op, *map(_dtype_key, args))
    found = _DTYPE_CACHE.get(key)
    if found is not None:
        return found
    dummies = [_dummy(a) for a in args]
    with np.errstate(all="ignore"):
        if isinstance(op, np.ufunc):
            out = op(*dummies)
        elif isinstance(op, tuple):  # ("nth", ufunc, k)
            out = op[1](*dummies)[op[2]]
        elif op == "where":
            out = np.where(*dummies)
        elif op == "clip":
            out = np.clip(*dummies)
        elif op in ("real", "imag"):
            out = getattr(np, op)(*dummies)
        else:
            raise AssertionError(op)
    dt = np.asarray(out).dtype
    if dt.kind not in SUPPORTED_KINDS:
        raise TypeError(f"nums cannot hold the {dt} result of {getattr(op, '__name__', op)}")
    if not any(k is _UNCACHEABLE for k in key):
        _DTYPE_CACHE[key] = dt
    return dt


def _scalar(x: Any) -> Any | None:
    """``x`` as an operand scalar (Python scalars stay weak), or None if it is an array."""
    if isinstance(x, _PY_SCALARS):
        return x
    if isinstance(x, np.generic):
        return x
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return x[()]
    return None


def _pad_chunks(node: Node, ndim: int) -> tuple[tuple[int, ...], ...]:
    return ((1,),) * (ndim - node.ndim) + node.grid.chunks


def elementwise(op: Any, *operands: Any, out_dtype: np.dtype | None = None) -> Node:
    """Build a Map node applying ``op`` to broadcast ``operands``.

    ``operands`` may be nodes, BlockArrays, NumPy arrays, nested lists or scalars. With
    ``out_dtype`` the result is cast to it (used for in-place operators).
    """
    args: list[Any] = []
    arrays = False
    for x in operands:
        if isinstance(x, Node):
            args.append(x)
            continue
        node = getattr(x, "_node", None)
        if node is not None:
            args.append(check_live(node))
            continue
        s = _scalar(x)
        if s is not None:
            if isinstance(s, np.generic) and s.dtype.kind not in SUPPORTED_KINDS:
                raise TypeError(f"nums does not support operands of dtype {s.dtype}")
            args.append(s)
        else:
            check_not_masked(x, "an operand")
            arr = np.asarray(x)
            if arr.dtype.kind not in SUPPORTED_KINDS:
                raise TypeError(f"nums does not support operands of dtype {arr.dtype}")
            arrays = True
            args.append(arr)
    nodes = [a for a in args if isinstance(a, Node)]
    first = nodes[0] if nodes else None
    if not arrays and first is not None and all(
            n.grid is first.grid or n.grid.chunks == first.grid.chunks for n in nodes):
        # Fast path: every array operand has the same shape and blocks.
        dtype = result_dtype(op, tuple(args))
        out_grid = first.grid
        for a in nodes:
            if type(a) is Map and a.leaf is None \
                    and a.depth >= current().settings.max_fused_ops:
                from nums.ir.lower import materialize

                materialize([a])
    else:
        dtype, out_grid, args = _align_operands(op, args)
    if out_dtype is not None and np.dtype(out_dtype) != dtype:
        node = Map(out_grid, dtype, op, tuple(args))
        return Map(out_grid, np.dtype(out_dtype), "cast", (node,))
    return Map(out_grid, dtype, op, tuple(args))


def _default_for(shape: tuple[int, ...], itemsize: int, leading: bool) -> tuple[int, ...]:
    """Default blocks for a result of ``shape``: aligned with earlier arrays of the same
    leading length (:func:`default_grid_block_shape`) when the default decides axis 0
    (``leading``), else the pure default (axis 0 comes from an operand; its chunks are used)."""
    if leading:
        return default_grid_block_shape(shape, itemsize)
    session = current()
    return default_block_shape(shape, itemsize, session.settings.block_size,
                               len(session.devices))


def _align_operands(op: Any, args: list[Any]) -> tuple[np.dtype, ArrayGrid, list[Any]]:
    """Broadcast shapes, choose the output blocks, and put every operand on them."""
    shapes = [a.shape for a in args if isinstance(a, (Node, np.ndarray))]
    shape = np.broadcast_shapes(*shapes) if shapes else ()
    ndim = len(shape)
    dtype = result_dtype(op, tuple(np.ones((), a.dtype) if isinstance(a, np.ndarray) else a
                                   for a in args))
    # Output block boundaries: per axis, from the first node that is full-size there.
    chunks: list[tuple[int, ...] | None] = [None] * ndim
    for a in args:
        if isinstance(a, Node):
            for axis, c in enumerate(_pad_chunks(a, ndim)):
                if chunks[axis] is None and sum(c) == shape[axis] and shape[axis] != 1:
                    chunks[axis] = c
    if any(c is None for c in chunks):
        default = _default_for(shape, dtype.itemsize, chunks[0] is None)
        default_chunks = ArrayGrid.regular(shape, default).chunks
        chunks = [c if c is not None else d for c, d in zip(chunks, default_chunks)]
    out_grid = ArrayGrid(tuple(chunks))
    max_ops = current().settings.max_fused_ops
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            pad = ndim - a.ndim
            own = tuple(out_grid.chunks[pad + k] if n == shape[pad + k] and n != 1 else (n,)
                        for k, n in enumerate(a.shape))
            args[i] = node_from_numpy(a, grid=ArrayGrid(own), copy=True)
        elif isinstance(a, Node):
            want = tuple(out_grid.chunks[ndim - a.ndim + k] if n == shape[ndim - a.ndim + k]
                         and n != 1 else a.grid.chunks[k] for k, n in enumerate(a.shape))
            if want != a.grid.chunks:
                a = rechunk(a, want)
            if isinstance(a, Map) and a.leaf is None and a.depth >= max_ops:
                from nums.ir.lower import materialize

                materialize([a])
            args[i] = a
    return dtype, out_grid, args


def cast_node(node: Node, dtype: np.dtype) -> Node:
    """``node`` converted to ``dtype`` (unsafe casting, like ``astype``)."""
    return Map(node.grid, np.dtype(dtype), "cast", (node,))


def broadcast_node(node: Node, shape: tuple[int, ...]) -> Node:
    """``node`` broadcast to ``shape`` (materialised copies of the repeated values)."""
    if node.shape == shape:
        return node
    ndim = len(shape)
    if len(node.shape) > ndim or np.broadcast_shapes(node.shape, shape) != tuple(shape):
        raise ValueError(f"cannot broadcast an array of shape {node.shape} to shape {shape}")
    padded = _pad_chunks(node, ndim)
    default = _default_for(shape, node.dtype.itemsize, ndim > 0 and sum(padded[0]) != shape[0])
    default_chunks = ArrayGrid.regular(shape, default).chunks
    chunks = tuple(p if sum(p) == n else d for p, n, d in zip(padded, shape, default_chunks))
    return Map(ArrayGrid(chunks), node.dtype, "cast", (node,))


def transpose_node(node: Node, perm: tuple[int | None, ...]) -> Node:
    """``node`` viewed with axes permuted (None entries insert length-1 axes); pushed
    through unmaterialised Maps down to their inputs."""
    if perm == tuple(range(node.ndim)):
        return node
    # Read a node's inputs before asking whether it is computed: another thread's lowering
    # sets ``leaf`` first and then drops the inputs, so inputs read while ``leaf`` is None
    # are the node's own.
    if isinstance(node, Transpose):
        source = node.source
        if source is not None and node.leaf is None:
            return transpose_node(source, tuple(None if p is None else node.perm[p]
                                                for p in perm))
    if isinstance(node, Map):
        node_args = node.args
        if node_args and node.leaf is None:
            return _transpose_map(node, node_args, perm)
    return Transpose(node, perm)


def _transpose_map(node: Map, node_args: tuple[Any, ...], perm: tuple[int | None, ...]
                   ) -> Node:
    """An unmaterialised Map with ``perm`` pushed down to its inputs ``node_args``."""
    ndim = node.ndim
    args = []
    for a in node_args:
        if isinstance(a, Node):
            if a.ndim < ndim:  # right-aligned broadcasting: pad on the left first
                a = transpose_node(a, (None,) * (ndim - a.ndim) + tuple(range(a.ndim)))
            a = transpose_node(a, perm)
        args.append(a)
    grid = ArrayGrid(tuple((1,) if p is None else node.grid.chunks[p] for p in perm))
    return Map(grid, node.dtype, node.op, tuple(args))


def index_node(node: Node, index: Any) -> Node:
    """``node[index]`` for a basic index: an index that only inserts axes (``None``) besides
    whole-axis slices and ``...`` is a view (no task); anything else selects blocks."""
    selections, _ = normalize_index(index, node.shape)
    new = [i for i, sel in enumerate(selections) if sel.kind == "new"]
    if new and all(sel.kind == "new" or (sel.kind == "slice" and sel.start == 0 and
                                         sel.step == 1 and sel.count == node.shape[sel.axis])
                   for sel in selections):
        return new_axes_view(node, new)
    return getitem(node, index)


def new_axes_view(node: Node, new: Sequence[int]) -> Node:
    """``node`` with length-1 axes inserted at the output positions ``new`` (a view)."""
    source_axes = iter(range(node.ndim))
    out_ndim = node.ndim + len(new)
    return transpose_node(node, tuple(None if i in new else next(source_axes)
                                      for i in range(out_ndim)))
