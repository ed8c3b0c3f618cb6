"""The reduction template: one builder for sum, mean, var, argmin and the NaN versions.

Axis, dtype and empty-reduction errors are NumPy's and are raised at the call. The result
dtype is what NumPy's own function returns for a one-element array of the input dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from nums.array.conversion import check_dtype
from nums.array.grid import ArrayGrid
from nums.ir.nodes import Node
from nums.ir.reduction import Reduce

__all__ = ["reduce", "NUMPY_REDUCTIONS"]

NUMPY_REDUCTIONS = {
    "sum": np.sum, "prod": np.prod, "min": np.min, "max": np.max, "all": np.all,
    "any": np.any, "mean": np.mean, "std": np.std, "var": np.var, "nansum": np.nansum,
    "nanprod": np.nanprod, "nanmin": np.nanmin, "nanmax": np.nanmax, "nanmean": np.nanmean,
    "nanstd": np.nanstd, "nanvar": np.nanvar, "argmin": np.argmin, "argmax": np.argmax,
}
_NO_IDENTITY = {"min", "max", "nanmin", "nanmax", "argmin", "argmax"}
_ACCUMULATING = {"sum", "prod", "nansum", "nanprod", "mean", "nanmean", "var", "std",
                 "nanvar", "nanstd"}


def _accumulator(name: str, dtype: np.dtype, requested: np.dtype | None,
                 result: np.dtype) -> np.dtype | None:
    if name not in _ACCUMULATING:
        return None
    if name in ("sum", "prod", "nansum", "nanprod"):
        return result
    if requested is not None:
        return requested
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


def reduce(name: str, node: Node, axis: Any = None, keepdims: bool = False,
           dtype: Any = None, ddof: int = 0) -> Node:
    """Build a Reduce node; ``axis`` is None, an int or a tuple (argmin/argmax: int or None)."""
    ndim = node.ndim
    if name in ("argmin", "argmax") and axis is not None and \
            not isinstance(axis, (int, np.integer)):
        raise TypeError(f"'{type(axis).__name__}' object cannot be interpreted as an integer")
    axes = tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)
    axes = tuple(sorted(axes))
    requested = None if dtype is None else check_dtype(dtype)
    if name in _NO_IDENTITY and any(node.shape[a] == 0 for a in axes):
        fn = {"min": "minimum", "max": "maximum", "nanmin": "fmin", "nanmax": "fmax"}
        if name in fn:
            raise ValueError(f"zero-size array to reduction operation {fn[name]} which has "
                             "no identity")
        raise ValueError(f"attempt to get {name} of an empty sequence")
    probe_axes = axes if name not in ("argmin", "argmax") else (None if axis is None else axes[0])
    kwargs: dict[str, Any] = {}
    if requested is not None:
        if name not in _ACCUMULATING:
            raise TypeError(f"{name}() got an unexpected keyword argument 'dtype'")
        kwargs["dtype"] = requested
    if name in ("var", "std", "nanvar", "nanstd"):
        kwargs["ddof"] = ddof
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe = NUMPY_REDUCTIONS[name](np.ones((1,) * ndim, dtype=node.dtype),
                                           axis=probe_axes, **kwargs)
    result = np.asarray(probe).dtype
    if name in ("argmin", "argmax"):
        result = np.dtype(np.intp)
    acc = _accumulator(name, node.dtype, requested, result)
    if keepdims:
        chunks = tuple((1,) if a in axes else c for a, c in enumerate(node.grid.chunks))
    else:
        chunks = tuple(c for a, c in enumerate(node.grid.chunks) if a not in axes)
    return Reduce(ArrayGrid(chunks), result, node, name, axes, bool(keepdims), acc, ddof)
