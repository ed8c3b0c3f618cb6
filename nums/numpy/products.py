"""Matrix and tensor products: matmul, dot, tensordot, inner, outer, vdot.

Availability: every backend. Layout: the result's blocks follow the operands' free axes
(rows from the left operand, columns from the right); each output block is the sum of block
products along the contracted axes (no transposed copies: ``X.T @ X`` reads X's blocks
directly). A product runs, by default, where the largest of its blocks (left, right or
output) lives, the output's device on ties: square matmuls keep the output in place;
tall-skinny products keep the big operand in place and move small partials. The placement
optimizer may move a product off that device when that lowers its objective (see
:mod:`nums.array.contraction`). ``outer`` is a broadcast multiply, not a contraction.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from nums.array import contraction
from nums.array.blockarray import BlockArray
from nums.array.conversion import as_blockarray

__all__ = ["matmul", "dot", "tensordot", "inner", "outer", "vdot"]



def matmul(a: Any, b: Any) -> BlockArray:
    """Matrix product with NumPy's rules (1-D promotion, broadcast batch axes).

    Parameters
    ----------
    a, b : array_like
        Not scalars.

    Returns
    -------
    BlockArray
    """
    return BlockArray(contraction.matmul(as_blockarray(a)._node, as_blockarray(b)._node))


def tensordot(a: Any, b: Any, axes: Any = 2) -> BlockArray:
    """Sum of products over the given axes, as ``numpy.tensordot``.

    Parameters
    ----------
    a, b : array_like
    axes : int or (sequence, sequence)
        An int N sums over the last N axes of ``a`` and the first N of ``b``.

    Returns
    -------
    BlockArray
    """
    a, b = as_blockarray(a), as_blockarray(b)
    try:
        n = operator.index(axes)
        if n < 0:
            raise ValueError("negative axes are not allowed")
        a_axes = tuple(range(a.ndim - n, a.ndim))
        b_axes = tuple(range(n))
    except TypeError:
        a_axes, b_axes = axes
        a_axes = (a_axes,) if np.ndim(a_axes) == 0 else tuple(a_axes)
        b_axes = (b_axes,) if np.ndim(b_axes) == 0 else tuple(b_axes)
    if len(a_axes) != len(b_axes):
        raise ValueError("shape-mismatch for sum")
    a_axes = tuple(normalize_axis_index(ax, a.ndim) for ax in a_axes)
    b_axes = tuple(normalize_axis_index(ax, b.ndim) for ax in b_axes)
    if len(a_axes) > a.ndim or len(b_axes) > b.ndim:
        raise ValueError("shape-mismatch for sum")
    return BlockArray(contraction.tensordot(a._node, b._node, a_axes, b_axes))


def dot(a: Any, b: Any) -> BlockArray:
    """Dot product, as ``numpy.dot`` (scalar multiply, inner, matmul, or sum over a's last
    and b's second-to-last axis).

    Parameters
    ----------
    a, b : array_like

    Returns
    -------
    BlockArray
    """
    a, b = as_blockarray(a), as_blockarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim == 1:
        return tensordot(a, b, ((a.ndim - 1,), (0,)))
    if a.ndim <= 2 and b.ndim == 2:
        return matmul(a, b)
    return tensordot(a, b, ((a.ndim - 1,), (b.ndim - 2,)))


def inner(a: Any, b: Any) -> BlockArray:
    """Sum of products over the last axes of ``a`` and ``b``.

    Parameters
    ----------
    a, b : array_like

    Returns
    -------
    BlockArray
    """
    a, b = as_blockarray(a), as_blockarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, ((a.ndim - 1,), (b.ndim - 1,)))


def outer(a: Any, b: Any) -> BlockArray:
    """Outer product of two arrays (flattened first).

    Parameters
    ----------
    a, b : array_like

    Returns
    -------
    BlockArray
    """
    a, b = as_blockarray(a).ravel(), as_blockarray(b).ravel()
    return a[:, None] * b[None, :]


def vdot(a: Any, b: Any) -> BlockArray:
    """Dot product of the flattened arrays, conjugating ``a``.

    Parameters
    ----------
    a, b : array_like
        Same number of elements.

    Returns
    -------
    BlockArray
    """
    a, b = as_blockarray(a).ravel(), as_blockarray(b).ravel()
    if a.size != b.size:
        raise ValueError("cannot reshape array: vdot needs arrays of the same size")
    if a.dtype.kind == "c":
        a = a.conj()
    return tensordot(a, b, ((0,), (0,)))
