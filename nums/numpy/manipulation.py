"""Shape manipulation and joining: reshape, transpose, squeeze, concatenate, stack, ...

Availability: every backend. Layout: reshapes that only add or drop length-1 axes, and
transposes, keep every block (views); other reshapes re-block through C-order ranges and move
only the elements that cross block boundaries. ``block_shape=`` (``x.reshape(block_shape=b)``
re-blocks only) then re-blocks the result: blocks that already match are reused, the others
are assembled from the slices of the blocks they overlap. Joins reuse the inputs' blocks along
the joined axis (inputs are re-blocked off that axis to the first input's boundaries).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from nums.array.blockarray import BlockArray
from nums.array.conversion import as_blockarray, grid_for, is_blockarray
from nums.array.elementwise import broadcast_node, cast_node, new_axes_view, transpose_node
from nums.ir import movement
from nums.runtime.session import current

__all__ = ["reshape", "ravel", "transpose", "expand_dims", "squeeze", "swapaxes", "moveaxis",
           "concatenate", "stack", "hstack", "vstack", "dstack", "broadcast_to",
           "atleast_1d", "atleast_2d", "atleast_3d", "shape", "ndim", "size", "copy"]



def _new_shape(size: int, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(operator.index(n) for n in shape)
    unknown = [i for i, n in enumerate(shape) if n == -1]
    if len(unknown) > 1:
        raise ValueError("can only specify one unknown dimension")
    if any(n < -1 for n in shape):
        raise ValueError("negative dimensions not allowed")
    known = 1
    for n in shape:
        if n != -1:
            known *= n
    if unknown:
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape "
                             f"{tuple(n if n != -1 else -1 for n in shape)}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    elif known != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return shape


def reshape(a: Any, shape: Any = None, order: str = "C", *,
            block_shape: Sequence[int] | None = None, newshape: Any = None) -> BlockArray:
    """Give a new shape (C order) and optionally new blocks; the values never change.

    Parameters
    ----------
    a : array_like
    shape : int or tuple of int, optional
        One entry may be -1. None (as ``np.reshape(a, None)``) keeps ``a``'s shape, so
        ``reshape(a, None, block_shape=b)`` only re-blocks.
    order : {"C"}
    block_shape : int or tuple of int, optional
        Blocks of the result, one positive entry per axis of the result (ValueError
        otherwise, as the creation functions; entries larger than the axis are cut to the
        axis' length). Re-blocks even when the shape is unchanged. Default: the blocks the
        reshape gives (unchanged when the shape is).
    newshape : int or tuple of int, optional
        Old name of ``shape`` (NumPy < 2.1).

    Returns
    -------
    BlockArray
    """
    if order != "C":
        raise NotImplementedError("nums reshapes in C order only")
    if newshape is not None:
        if shape is not None:
            raise TypeError("You cannot specify 'newshape' and 'shape' arguments at the same "
                            "time.")
        shape = newshape
    a = as_blockarray(a)
    new = a.shape if shape is None else _new_shape(a.size, shape)
    grid = None if block_shape is None else grid_for(new, a.dtype, block_shape)
    node = movement.reshape(a._node, new, current().settings.block_size)
    if grid is not None:
        node = movement.rechunk(node, grid.chunks)
    return BlockArray(node)


def ravel(a: Any, order: str = "C") -> BlockArray:
    """The flattened array (C order).

    Parameters
    ----------
    a : array_like
    order : {"C"}

    Returns
    -------
    BlockArray
    """
    return reshape(a, -1, order)


def transpose(a: Any, axes: Sequence[int] | None = None) -> BlockArray:
    """Permute axes (reverse them by default). No data moves until a consumer reads it.

    Parameters
    ----------
    a : array_like
    axes : sequence of int, optional

    Returns
    -------
    BlockArray
    """
    a = as_blockarray(a)
    if axes is None:
        perm = tuple(range(a.ndim))[::-1]
    else:
        perm = normalize_axis_tuple(tuple(axes), a.ndim, "axes")
        if len(perm) != a.ndim:
            raise ValueError("axes don't match array")
    return BlockArray(transpose_node(a._node, tuple(perm)))


def swapaxes(a: Any, axis1: int, axis2: int) -> BlockArray:
    """Interchange two axes.

    Parameters
    ----------
    a : array_like
    axis1, axis2 : int

    Returns
    -------
    BlockArray
    """
    a = as_blockarray(a)
    i = normalize_axis_index(axis1, a.ndim, "axis1")
    j = normalize_axis_index(axis2, a.ndim, "axis2")
    perm = list(range(a.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def moveaxis(a: Any, source: Any, destination: Any) -> BlockArray:
    """Move axes to new positions; the others keep their order.

    Parameters
    ----------
    a : array_like
    source, destination : int or sequence of int

    Returns
    -------
    BlockArray
    """
    a = as_blockarray(a)
    src = normalize_axis_tuple(source, a.ndim, "source")
    dst = normalize_axis_tuple(destination, a.ndim, "destination")
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number "
                         "of elements")
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def expand_dims(a: Any, axis: Any) -> BlockArray:
    """Insert length-1 axes at ``axis`` (int or tuple).

    Parameters
    ----------
    a : array_like
    axis : int or tuple of int

    Returns
    -------
    BlockArray
    """
    a = as_blockarray(a)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_ndim = a.ndim + len(axes)
    axes = normalize_axis_tuple(axes, out_ndim)
    return BlockArray(new_axes_view(a._node, axes))


def squeeze(a: Any, axis: Any = None) -> BlockArray:
    """Remove length-1 axes (all of them, or those in ``axis``).

    Parameters
    ----------
    a : array_like
    axis : None, int or tuple of int

    Returns
    -------
    BlockArray
    """
    a = as_blockarray(a)
    if axis is None:
        axes = tuple(i for i, n in enumerate(a.shape) if n == 1)
    else:
        axes = normalize_axis_tuple(axis, a.ndim)
        for ax in axes:
            if a.shape[ax] != 1:
                raise ValueError("cannot select an axis to squeeze out which has size not "
                                 "equal to one")
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if i not in axes))


def concatenate(arrays: Sequence[Any], axis: int | None = 0, dtype: Any = None,
                casting: str = "same_kind") -> BlockArray:
    """Join arrays along an existing axis.

    Parameters
    ----------
    arrays : sequence of array_like
        Same shape except along ``axis``.
    axis : int or None
        None flattens the inputs first.
    dtype : dtype, optional
    casting : {"no", "equiv", "safe", "same_kind", "unsafe"}
        How inputs may be cast to ``dtype``, as NumPy.

    Returns
    -------
    BlockArray
    """
    blocks = [as_blockarray(x) for x in arrays]
    if not blocks:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        blocks = [b.ravel() for b in blocks]
        axis = 0
    ndim = blocks[0].ndim
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    for i, b in enumerate(blocks):
        if b.ndim != ndim:
            raise ValueError("all the input array dimensions except for the concatenation "
                             "axis must match exactly, but along dimension 0, the array at "
                             f"index 0 has {ndim} dimension(s) and the array at index {i} has "
                             f"{b.ndim} dimension(s)")
    axis = normalize_axis_index(axis, ndim)
    first = blocks[0]
    for i, b in enumerate(blocks[1:], start=1):
        for d in range(ndim):
            if d != axis and b.shape[d] != first.shape[d]:
                raise ValueError("all the input array dimensions except for the concatenation "
                                 f"axis must match exactly, but along dimension {d}, the "
                                 f"array at index 0 has size {first.shape[d]} and the array "
                                 f"at index {i} has size {b.shape[d]}")
    out_dtype = np.result_type(*[b.dtype for b in blocks]) if dtype is None else np.dtype(dtype)
    for b in blocks:
        if not np.can_cast(b.dtype, out_dtype, casting=casting):
            raise TypeError(f"Cannot cast array data from {b.dtype!r} to {out_dtype!r} "
                            f"according to the rule {casting!r}")
    nodes = []
    for b in blocks:
        node = b._node if b.dtype == out_dtype else cast_node(b._node, out_dtype)
        want = tuple(c if d == axis else first.grid.chunks[d]
                     for d, c in enumerate(node.grid.chunks))
        nodes.append(movement.rechunk(node, want))
    return BlockArray(movement.concatenate(nodes, axis))


def stack(arrays: Sequence[Any], axis: int = 0) -> BlockArray:
    """Join arrays of the same shape along a new axis.

    Parameters
    ----------
    arrays : sequence of array_like
    axis : int

    Returns
    -------
    BlockArray
    """
    blocks = [as_blockarray(x) for x in arrays]
    if not blocks:
        raise ValueError("need at least one array to stack")
    if any(b.shape != blocks[0].shape for b in blocks):
        raise ValueError("all input arrays must have the same shape")
    axis = normalize_axis_index(axis, blocks[0].ndim + 1)
    return concatenate([expand_dims(b, axis) for b in blocks], axis=axis)


def atleast_1d(*arys: Any) -> Any:
    """Views with at least one dimension.

    Parameters
    ----------
    *arys : array_like

    Returns
    -------
    BlockArray or list of BlockArray
    """
    out = [reshape(a, (1,)) if as_blockarray(a).ndim == 0 else as_blockarray(a) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: Any) -> Any:
    """Views with at least two dimensions (1-D ``(n,)`` becomes ``(1, n)``).

    Parameters
    ----------
    *arys : array_like

    Returns
    -------
    BlockArray or list of BlockArray
    """
    out = []
    for a in arys:
        a = as_blockarray(a)
        out.append(reshape(a, (1,) * (2 - a.ndim) + a.shape) if a.ndim < 2 else a)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    """Views with at least three dimensions (``(n,)`` -> ``(1, n, 1)``, ``(m, n)`` ->
    ``(m, n, 1)``).

    Parameters
    ----------
    *arys : array_like

    Returns
    -------
    BlockArray or list of BlockArray
    """
    out = []
    for a in arys:
        a = as_blockarray(a)
        if a.ndim == 0:
            a = reshape(a, (1, 1, 1))
        elif a.ndim == 1:
            a = reshape(a, (1, a.shape[0], 1))
        elif a.ndim == 2:
            a = reshape(a, a.shape + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else out


def hstack(tup: Sequence[Any]) -> BlockArray:
    """Stack horizontally (along axis 1; axis 0 for 1-D inputs).

    Parameters
    ----------
    tup : sequence of array_like

    Returns
    -------
    BlockArray
    """
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if arrs and arrs[0].ndim == 1 else 1)


def vstack(tup: Sequence[Any]) -> BlockArray:
    """Stack vertically (1-D inputs become rows).

    Parameters
    ----------
    tup : sequence of array_like

    Returns
    -------
    BlockArray
    """
    return concatenate([atleast_2d(a) for a in tup], axis=0)


def dstack(tup: Sequence[Any]) -> BlockArray:
    """Stack along the third axis.

    Parameters
    ----------
    tup : sequence of array_like

    Returns
    -------
    BlockArray
    """
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def broadcast_to(array: Any, shape: Any) -> BlockArray:
    """``array`` broadcast to ``shape``.

    Parameters
    ----------
    array : array_like
    shape : int or tuple of int

    Returns
    -------
    BlockArray
    """
    a = as_blockarray(array)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return BlockArray(broadcast_node(a._node, shape))


def shape(a: Any) -> tuple[int, ...]:
    """The shape of ``a``.

    Parameters
    ----------
    a : array_like

    Returns
    -------
    tuple of int
    """
    return a.shape if is_blockarray(a) else np.shape(a)


def ndim(a: Any) -> int:
    """The number of dimensions of ``a``.

    Parameters
    ----------
    a : array_like

    Returns
    -------
    int
    """
    return a.ndim if is_blockarray(a) else np.ndim(a)


def size(a: Any) -> int:
    """The number of elements of ``a``.

    Parameters
    ----------
    a : array_like

    Returns
    -------
    int
    """
    return a.size if is_blockarray(a) else np.size(a)


def copy(a: Any) -> BlockArray:
    """A copy of ``a``.

    Parameters
    ----------
    a : array_like

    Returns
    -------
    BlockArray
    """
    return as_blockarray(a).copy()
