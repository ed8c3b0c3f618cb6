"""Reductions: sums, means, extrema, arg-extrema, logical and NaN-ignoring versions.

Availability: every backend. Each is a tree reduction: one partial per block (fused with the
elementwise chain that produces the block, evaluated tile by tile), merged ``reduction_fanin``
at a time, finalised on the device that owns the output block. The result keeps the input's
blocks along the axes that are not reduced.
"""

from __future__ import annotations

from typing import Any

from nums.array.blockarray import BlockArray
from nums.array.conversion import as_blockarray, is_blockarray
from nums.array.reduction import reduce

__all__ = ["sum", "prod", "mean", "std", "var", "min", "max", "amin", "amax", "argmin",
           "argmax", "all", "any", "nansum", "nanprod", "nanmean", "nanstd", "nanvar",
           "nanmin", "nanmax", "ptp", "count_nonzero", "average"]



def _reduction(name: str, doc: str, with_dtype: bool = False, with_ddof: bool = False):
    if with_ddof:
        def fn(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
            return _finish(BlockArray(reduce(name, as_blockarray(a)._node, axis, keepdims, dtype,
                                             ddof)), out)
    elif with_dtype:
        def fn(a, axis=None, dtype=None, out=None, keepdims=False):
            return _finish(BlockArray(reduce(name, as_blockarray(a)._node, axis, keepdims, dtype)),
                           out)
    else:
        def fn(a, axis=None, out=None, keepdims=False):
            return _finish(BlockArray(reduce(name, as_blockarray(a)._node, axis, keepdims)), out)
    fn.__name__ = fn.__qualname__ = name
    params = ("Parameters\n----------\na : array_like\naxis : None, int or tuple of int\n"
              "    Axes to reduce (None: all)." + ("\ndtype : dtype, optional\n    Accumulator "
                                                   "and result dtype." if with_dtype or with_ddof
                                                   else "")
              + ("\nddof : int\n    Delta degrees of freedom." if with_ddof else "")
              + "\nout : BlockArray, optional\n    Rebind this array to the result."
              "\nkeepdims : bool\n    Keep reduced axes with length 1.\n")
    fn.__doc__ = f"{doc}\n\n{params}\nReturns\n-------\nBlockArray\n"
    return fn


def _finish(result: BlockArray, out: Any) -> BlockArray:
    if out is None:
        return result
    if not is_blockarray(out) or out.shape != result.shape:
        raise ValueError("out must be a BlockArray of the result's shape")
    out._node = result.astype(out.dtype, copy=False)._node
    return out


sum = _reduction("sum", "Sum of elements over the given axes.", with_dtype=True)
prod = _reduction("prod", "Product of elements over the given axes.", with_dtype=True)
mean = _reduction("mean", "Arithmetic mean over the given axes.", with_dtype=True)
std = _reduction("std", "Standard deviation over the given axes (parallel algorithm of Chan "
                 "et al.).", with_ddof=True)
var = _reduction("var", "Variance over the given axes (parallel algorithm of Chan et al.).",
                 with_ddof=True)
min = _reduction("min", "Minimum over the given axes (NaN propagates).")
max = _reduction("max", "Maximum over the given axes (NaN propagates).")
amin = min
amax = max
all = _reduction("all", "Whether all elements are true over the given axes.")
any = _reduction("any", "Whether any element is true over the given axes.")
nansum = _reduction("nansum", "Sum, treating NaN as zero.", with_dtype=True)
nanprod = _reduction("nanprod", "Product, treating NaN as one.", with_dtype=True)
nanmean = _reduction("nanmean", "Mean of the non-NaN elements.", with_dtype=True)
nanstd = _reduction("nanstd", "Standard deviation of the non-NaN elements.", with_ddof=True)
nanvar = _reduction("nanvar", "Variance of the non-NaN elements.", with_ddof=True)
nanmin = _reduction("nanmin", "Minimum ignoring NaN (NaN where all are NaN).")
nanmax = _reduction("nanmax", "Maximum ignoring NaN (NaN where all are NaN).")


def argmin(a: Any, axis: int | None = None, out: Any = None, *,
           keepdims: bool = False) -> BlockArray:
    """Index of the minimum (the first one; the first NaN if any).

    Parameters
    ----------
    a : array_like
    axis : int or None
        None: index into the flattened array.
    out : BlockArray, optional
    keepdims : bool

    Returns
    -------
    BlockArray
    """
    return _finish(BlockArray(reduce("argmin", as_blockarray(a)._node, axis, keepdims)), out)


def argmax(a: Any, axis: int | None = None, out: Any = None, *,
           keepdims: bool = False) -> BlockArray:
    """Index of the maximum (the first one; the first NaN if any).

    Parameters
    ----------
    a : array_like
    axis : int or None
        None: index into the flattened array.
    out : BlockArray, optional
    keepdims : bool

    Returns
    -------
    BlockArray
    """
    return _finish(BlockArray(reduce("argmax", as_blockarray(a)._node, axis, keepdims)), out)


def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> BlockArray:
    """Range of values (maximum - minimum) over the given axes.

    Parameters
    ----------
    a : array_like
    axis : None, int or tuple of int
    out : BlockArray, optional
    keepdims : bool

    Returns
    -------
    BlockArray
    """
    a = as_blockarray(a)
    return _finish(max(a, axis, keepdims=keepdims) - min(a, axis, keepdims=keepdims), out)


def count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False) -> BlockArray:
    """Number of non-zero elements over the given axes.

    Parameters
    ----------
    a : array_like
    axis : None, int or tuple of int
    keepdims : bool

    Returns
    -------
    BlockArray
    """
    return sum(as_blockarray(a).astype(bool), axis=axis, keepdims=keepdims, dtype="intp")


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """Weighted average over the given axes.

    Parameters
    ----------
    a : array_like
    axis : None, int or tuple of int
    weights : array_like, optional
        Same shape as ``a`` (broadcastable).
    returned : bool
        Also return the sum of weights.
    keepdims : bool

    Returns
    -------
    BlockArray, or (average, sum of weights)
    """
    a = as_blockarray(a)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        scale = a.size / max(avg.size, 1)
        from nums.numpy.creation import full_like

        return (avg, full_like(avg, scale)) if returned else avg
    w = as_blockarray(weights)
    total = sum(w * 1.0 if w.dtype.kind in "biu" else w, axis=axis, keepdims=keepdims)
    avg = sum(a * w, axis=axis, keepdims=keepdims) / total
    return (avg, total) if returned else avg
