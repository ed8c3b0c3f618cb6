"""Array creation: from data, filled, ranges, and diagonal matrices.

Availability: every backend. Filled arrays, ranges and diagonals are made block by block on
the device that owns each block (no data goes through the driver); ``array``/``asarray`` put
blocks of a NumPy array from the driver. Every function takes ``block_shape=`` (default: about
``block_size`` bytes per block, split along the leading axis).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from nums.array.blockarray import BlockArray
from nums.array.conversion import (
    check_dtype,
    check_live,
    check_not_masked,
    grid_for,
    is_blockarray,
    node_from_numpy,
)
from nums.array.grid import check_block_shape
from nums.ir.creation import Create

__all__ = ["array", "asarray", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
           "empty_like", "full_like", "arange", "linspace", "logspace", "eye", "identity",
           "diag"]

Shape = int | Sequence[int]


def _shape(shape: Shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (operator.index(shape),)
    try:
        return tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"expected a sequence of integers or a single integer, got "
                        f"{shape!r}") from None


def array(obj: Any, dtype: Any = None, *, copy: bool = True,
          block_shape: Sequence[int] | None = None) -> BlockArray:
    """Create a BlockArray from a NumPy array, nested sequence, scalar or BlockArray.

    Parameters
    ----------
    obj : array_like
    dtype : dtype, optional
    copy : bool
        Copy the input's memory into new blocks (the default). ``asarray`` does not copy
        where it can (the local backend then reads the caller's array directly).
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray

    Raises
    ------
    TypeError
        For object, string or other non-numeric dtypes, for a NumPy masked array (nums
        arrays have no mask), and for a ``block_shape`` that is not integers.
    ValueError
        For a ``block_shape`` with entries below 1 or the wrong number of entries.
    RuntimeError
        For a BlockArray of a session that was shut down.
    """
    if is_blockarray(obj):
        check_live(obj._node)
        out = obj if dtype is None else obj.astype(dtype)
        if block_shape is not None and \
                check_block_shape(block_shape, out.shape) != out.block_shape:
            out = out.rechunk(block_shape)
        return out
    check_not_masked(obj, "obj")
    if dtype is not None:
        dtype = check_dtype(dtype)
    data = np.array(obj, dtype=dtype, copy=None)
    check_dtype(data.dtype)
    return BlockArray(node_from_numpy(data, block_shape=block_shape, copy=copy))


def asarray(obj: Any, dtype: Any = None, *,
            block_shape: Sequence[int] | None = None) -> BlockArray:
    """Like :func:`array`, without copying a NumPy input where possible.

    Parameters
    ----------
    obj : array_like
    dtype : dtype, optional
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    return array(obj, dtype, copy=False, block_shape=block_shape)


def full(shape: Shape, fill_value: Any, dtype: Any = None, *,
         block_shape: Sequence[int] | None = None) -> BlockArray:
    """A new array filled with ``fill_value``.

    Parameters
    ----------
    shape : int or tuple of int
    fill_value : scalar
    dtype : dtype, optional
        Default: the dtype NumPy gives ``fill_value``.
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    shape = _shape(shape)
    check_not_masked(fill_value, "fill_value")
    if dtype is None:
        dtype = np.array(fill_value).dtype
    dtype = check_dtype(dtype)
    if np.ndim(fill_value) != 0:
        from nums.numpy.manipulation import broadcast_to

        return broadcast_to(array(np.asarray(fill_value, dtype=dtype)), shape).copy() \
            if block_shape is None else \
            broadcast_to(array(np.asarray(fill_value, dtype=dtype)), shape).rechunk(block_shape)
    value = np.array(fill_value).astype(dtype)[()]
    grid = grid_for(shape, dtype, block_shape)
    return BlockArray(Create(grid, dtype, "full",
                             lambda index, offset, bshape: (bshape, value, dtype)))


def zeros(shape: Shape, dtype: Any = float, *,
          block_shape: Sequence[int] | None = None) -> BlockArray:
    """A new array of zeros.

    Parameters
    ----------
    shape : int or tuple of int
    dtype : dtype, optional
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    return full(shape, 0, dtype, block_shape=block_shape)


def ones(shape: Shape, dtype: Any = float, *,
         block_shape: Sequence[int] | None = None) -> BlockArray:
    """A new array of ones.

    Parameters
    ----------
    shape : int or tuple of int
    dtype : dtype, optional
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    return full(shape, 1, dtype, block_shape=block_shape)


def empty(shape: Shape, dtype: Any = float, *,
          block_shape: Sequence[int] | None = None) -> BlockArray:
    """A new array (nums fills it with zeros: blocks are made on their devices anyway).

    Parameters
    ----------
    shape : int or tuple of int
    dtype : dtype, optional
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    return full(shape, 0, dtype, block_shape=block_shape)


def _like(a: Any, dtype: Any, shape: Any, block_shape: Any) -> tuple[Any, Any, Any]:
    ref_shape = a.shape if hasattr(a, "shape") else np.shape(a)
    ref_dtype = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
    if block_shape is None and is_blockarray(a) and shape is None:
        block_shape = a.block_shape
    return (ref_shape if shape is None else shape,
            ref_dtype if dtype is None else dtype, block_shape)


def zeros_like(a: Any, dtype: Any = None, shape: Any = None, *,
               block_shape: Sequence[int] | None = None) -> BlockArray:
    """Zeros with the shape, dtype and blocks of ``a``.

    Parameters
    ----------
    a : array_like
    dtype, shape : optional overrides
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    shape, dtype, block_shape = _like(a, dtype, shape, block_shape)
    return full(shape, 0, dtype, block_shape=block_shape)


def ones_like(a: Any, dtype: Any = None, shape: Any = None, *,
              block_shape: Sequence[int] | None = None) -> BlockArray:
    """Ones with the shape, dtype and blocks of ``a``.

    Parameters
    ----------
    a : array_like
    dtype, shape : optional overrides
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    shape, dtype, block_shape = _like(a, dtype, shape, block_shape)
    return full(shape, 1, dtype, block_shape=block_shape)


def empty_like(a: Any, dtype: Any = None, shape: Any = None, *,
               block_shape: Sequence[int] | None = None) -> BlockArray:
    """An array with the shape, dtype and blocks of ``a`` (filled with zeros).

    Parameters
    ----------
    a : array_like
    dtype, shape : optional overrides
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    shape, dtype, block_shape = _like(a, dtype, shape, block_shape)
    return full(shape, 0, dtype, block_shape=block_shape)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None, *,
              block_shape: Sequence[int] | None = None) -> BlockArray:
    """``fill_value`` with the shape, dtype and blocks of ``a``.

    Parameters
    ----------
    a : array_like
    fill_value : scalar
    dtype, shape : optional overrides
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    shape, dtype, block_shape = _like(a, dtype, shape, block_shape)
    return full(shape, fill_value, dtype, block_shape=block_shape)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None, *,
           block_shape: Sequence[int] | None = None) -> BlockArray:
    """Evenly spaced values in ``[start, stop)``, the same values as ``numpy.arange``.

    Parameters
    ----------
    start, stop, step : numbers
        As for ``numpy.arange`` (``arange(n)`` counts from 0).
    dtype : dtype, optional
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    if step == 0:
        raise ZeroDivisionError("division by zero")
    probe = np.arange(start, start + step * 2 if np.isfinite(step) else start, step,
                      dtype=dtype) if dtype is not None else np.arange(start, stop, step)[:0]
    out_dtype = check_dtype(probe.dtype if dtype is None else dtype)
    length = max(0, math.ceil((stop - start) / step)) if not isinstance(step, complex) else 0
    length = len(range(0, length))
    grid = grid_for((length,), out_dtype, block_shape)
    return BlockArray(Create(grid, out_dtype, "arange",
                             lambda index, offset, bshape:
                             (start, step, offset[0], offset[0] + bshape[0], out_dtype)))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0, *,
             block_shape: Sequence[int] | None = None) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop``, as ``numpy.linspace``.

    Parameters
    ----------
    start, stop : scalars
        (Array-valued endpoints are not supported.)
    num : int
    endpoint, retstep : bool
    dtype : dtype, optional
    axis : int
        Must be 0 for scalar endpoints.
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray, or (BlockArray, step) with ``retstep``
    """
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    if np.ndim(start) or np.ndim(stop):
        raise NotImplementedError("nums.numpy.linspace takes scalar start and stop")
    div = (num - 1) if endpoint else num
    calc = np.result_type(start, stop, float(num))
    delta = np.subtract(stop, start, dtype=type(calc))
    step: Any
    if div > 0:
        step = delta / div
        any_step_zero = bool(step == 0)
    else:
        step, any_step_zero = np.nan, False
    out_dtype = check_dtype(calc if dtype is None else dtype)
    last = stop if (endpoint and num > 1) else None
    grid = grid_for((num,), out_dtype, block_shape)
    result = BlockArray(Create(grid, out_dtype, "linspace",
                               lambda index, offset, bshape:
                               (start, step, delta, div, any_step_zero, offset[0],
                                offset[0] + bshape[0], last, num, out_dtype, calc)))
    if retstep:
        return result, step
    return result


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: float = 10.0,
             dtype: Any = None, axis: int = 0, *,
             block_shape: Sequence[int] | None = None) -> BlockArray:
    """``base ** linspace(start, stop, num)``, as ``numpy.logspace``.

    Parameters
    ----------
    start, stop : scalars
    num : int
    endpoint : bool
    base : float
    dtype : dtype, optional
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    from nums.numpy.math import ufunc_call

    y = linspace(start, stop, num, endpoint, block_shape=block_shape)
    out = ufunc_call(np.power, base, y)
    return out if dtype is None else out.astype(dtype, copy=False)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = float, *,
        block_shape: Sequence[int] | None = None) -> BlockArray:
    """A 2-D array with ones on diagonal ``k`` and zeros elsewhere.

    Parameters
    ----------
    N, M : int
        Rows and columns (``M`` defaults to ``N``).
    k : int
        Diagonal offset.
    dtype : dtype
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    M = N if M is None else M
    dtype = check_dtype(dtype)
    k = operator.index(k)
    grid = grid_for((N, M), dtype, block_shape)
    return BlockArray(Create(grid, dtype, "eye",
                             lambda index, offset, bshape: (bshape, offset[0], offset[1], k,
                                                            dtype)))


def identity(n: int, dtype: Any = float, *,
             block_shape: Sequence[int] | None = None) -> BlockArray:
    """The ``n`` by ``n`` identity matrix.

    Parameters
    ----------
    n : int
    dtype : dtype
    block_shape : tuple of int, optional

    Returns
    -------
    BlockArray
    """
    return eye(n, dtype=dtype, block_shape=block_shape)


def diag(v: Any, k: int = 0, *, block_shape: Sequence[int] | None = None) -> BlockArray:
    """Extract a diagonal of a 2-D array, or build a 2-D array from a 1-D diagonal.

    Parameters
    ----------
    v : array_like
        1-D: the diagonal of the result; 2-D: the array to take diagonal ``k`` of.
    k : int
        Diagonal offset.
    block_shape : tuple of int, optional
        Blocks of the result.

    Returns
    -------
    BlockArray
    """
    from nums.numpy.manipulation import concatenate
    from nums.numpy.math import where

    v = v if is_blockarray(v) else array(v)
    k = operator.index(k)
    if v.ndim == 1:
        # diag(v, k)[i, j] = v[j - k] (k >= 0) or v[j] (k < 0) where j - i == k: a select
        # between a shifted row vector and zeros, blocked like the result.
        n = v.shape[0] + abs(k)
        pad = zeros(abs(k), dtype=v.dtype)
        row = concatenate([pad, v] if k >= 0 else [v, pad])
        mask = eye(n, n, k, dtype=bool, block_shape=block_shape)
        return where(mask, row[None, :], np.zeros((), v.dtype))
    if v.ndim != 2:
        raise ValueError("Input must be 1- or 2-d.")
    from nums.ir.movement import diagonal

    result = BlockArray(diagonal(v._node, k))
    return result if block_shape is None else result.rechunk(block_shape)
