"""Elementwise math: every NumPy ufunc, plus ``clip``, ``where``, ``round`` and friends.

Availability: every backend, on CPU blocks (GPU blocks are planned). Results keep the block
layout of the first full-size operand; chains of these calls fuse into one kernel per block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nums.array.blockarray import BlockArray
from nums.array.conversion import check_dtype, is_blockarray
from nums.array.elementwise import elementwise

__all__ = ["ufunc_call", "ufunc_inplace", "clip", "where", "around", "round", "real", "imag",
           "angle", "UFUNC_NAMES"]

# gufuncs (matmul, vecdot, ...) are contractions, not elementwise; isnat is for datetimes.
_SKIP = {"matmul", "vecdot", "matvec", "vecmat", "isnat"}
UFUNC_NAMES = tuple(sorted(
    name for name in dir(np)
    if isinstance(getattr(np, name), np.ufunc) and getattr(np, name).signature is None
    and name not in _SKIP and not name.startswith("_")))


def _wrap_inputs(ufunc: np.ufunc, inputs: tuple[Any, ...], dtype: Any) -> tuple[Any, ...]:
    if len(inputs) != ufunc.nin:
        raise TypeError(f"{ufunc.__name__}() takes from {ufunc.nin} to {ufunc.nin + ufunc.nout} "
                        f"positional arguments but {len(inputs)} were given")
    if dtype is None:
        return inputs
    dt = check_dtype(dtype)
    return tuple(x.astype(dt) if is_blockarray(x) else np.asarray(x, dtype=dt)
                 for x in inputs)


def ufunc_call(ufunc: np.ufunc, *inputs: Any, out: Any = None, dtype: Any = None) -> Any:
    """Apply ``ufunc`` elementwise; returns a BlockArray (a tuple for multi-output ufuncs).

    Parameters
    ----------
    ufunc : numpy.ufunc
        Any elementwise NumPy ufunc.
    *inputs : array_like
        Operands (BlockArrays, NumPy arrays, lists, scalars), broadcast together.
    out : BlockArray, optional
        Rebind this array to the result (cast with 'same_kind' like NumPy's ``out=``).
    dtype : dtype, optional
        Compute in this dtype.

    Returns
    -------
    BlockArray or tuple of BlockArray
    """
    inputs = _wrap_inputs(ufunc, inputs, dtype)
    if ufunc.nout > 1:
        if out is not None:
            raise TypeError(f"nums does not support out= for {ufunc.__name__}")
        return tuple(BlockArray(elementwise(("nth", ufunc, k), *inputs))
                     for k in range(ufunc.nout))
    if out is not None:
        if isinstance(out, tuple):
            (out,) = out
        if not is_blockarray(out):
            raise TypeError("out must be a nums BlockArray")
        out._node = ufunc_inplace(ufunc, *inputs, target=out)
        return out
    return BlockArray(elementwise(ufunc, *inputs))


def ufunc_inplace(ufunc: np.ufunc, *inputs: Any, target: BlockArray | None = None) -> Any:
    """The node of ``ufunc(*inputs)`` cast into ``target`` (default: the first input), with
    NumPy's 'same_kind' casting check and shape check."""
    target = inputs[0] if target is None else target
    dummies = [np.ones((), x.dtype) if is_blockarray(x) else
               (np.ones((), np.asarray(x).dtype) if np.ndim(x) else x) for x in inputs]
    with np.errstate(all="ignore"):
        ufunc(*dummies, out=np.empty((), target.dtype))  # NumPy's casting error, if any
    shapes = [np.shape(x) if not is_blockarray(x) else x.shape for x in inputs]
    shape = np.broadcast_shapes(*shapes)
    if np.broadcast_shapes(shape, target.shape) != target.shape:
        raise ValueError(f"non-broadcastable output operand with shape {target.shape} doesn't "
                         f"match the broadcast shape {shape}")
    node = elementwise(ufunc, *inputs, out_dtype=target.dtype)
    if node.shape != target.shape:
        from nums.array.elementwise import broadcast_node

        node = broadcast_node(node, target.shape)
    return node


def _make_ufunc_wrapper(name: str):
    ufunc = getattr(np, name)

    def wrapper(*inputs: Any, out: Any = None, dtype: Any = None) -> Any:
        return ufunc_call(ufunc, *inputs, out=out, dtype=dtype)

    wrapper.__name__ = name
    wrapper.__qualname__ = name
    wrapper.__doc__ = (
        f"Elementwise ``numpy.{name}`` over blocks ({ufunc.nin} input(s), "
        f"{ufunc.nout} output(s)).\n\n"
        "Parameters\n----------\n*inputs : array_like\n    BlockArrays, NumPy arrays, lists or "
        "scalars, broadcast together.\nout : BlockArray, optional\n    Array to rebind to the "
        "result.\ndtype : dtype, optional\n    Compute in this dtype.\n\n"
        "Returns\n-------\nBlockArray\n    Deferred; fused with neighbouring elementwise calls."
        "\n\nSee Also\n--------\n" + f"numpy.{name}\n")
    return wrapper


for _name in UFUNC_NAMES:
    globals()[_name] = _make_ufunc_wrapper(_name)
__all__ += list(UFUNC_NAMES)


def clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *,
         min: Any = None, max: Any = None) -> BlockArray:
    """Limit the values of ``a`` to ``[a_min, a_max]``.

    Parameters
    ----------
    a : array_like
    a_min, a_max : array_like or None
        Bounds (one may be None). ``min``/``max`` are NumPy 2 spellings of the same.

    Returns
    -------
    BlockArray
    """
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    if lo is None and hi is None:
        raise ValueError("One of max or min must be given")
    operands = [a]
    if lo is None:
        node = elementwise(np.minimum, a, hi)
    elif hi is None:
        node = elementwise(np.maximum, a, lo)
    else:
        operands += [lo, hi]
        node = elementwise("clip", *operands)
    if out is not None:
        out._node = node
        return out
    return BlockArray(node)


def where(condition: Any, x: Any = None, y: Any = None) -> BlockArray:
    """Elements of ``x`` where ``condition`` is true, else of ``y``.

    Parameters
    ----------
    condition, x, y : array_like
        Broadcast together. The one-argument form (indices of true elements) has a
        data-dependent shape and is not supported.

    Returns
    -------
    BlockArray
    """
    if x is None and y is None:
        raise NotImplementedError("nums.numpy.where(condition) (nonzero) is not supported; "
                                  "pass x and y")
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    cond = condition if (is_blockarray(condition) and condition.dtype == np.bool_) else \
        (condition.astype(bool) if is_blockarray(condition) else np.asarray(condition, bool))
    return BlockArray(elementwise("where", cond, x, y))


def around(a: Any, decimals: int = 0) -> BlockArray:
    """Round to ``decimals`` decimals (NumPy's round-half-to-even); integers stay integers.

    Parameters
    ----------
    a : array_like
    decimals : int

    Returns
    -------
    BlockArray
    """
    dt = _dtype_of(a)
    if dt.kind in "biu":
        if decimals >= 0:
            return BlockArray(elementwise(np.positive, a)) if dt.kind != "b" else \
                BlockArray(elementwise(np.logical_and, a, True))
        scale = 10 ** (-decimals)
        rounded = ufunc_call(np.rint, ufunc_call(np.true_divide, a, float(scale)))
        return ufunc_call(np.multiply, rounded, float(scale)).astype(dt)
    if decimals == 0:
        return ufunc_call(np.rint, a)
    if decimals > 0:
        scale = 10.0 ** decimals
        return ufunc_call(np.true_divide, ufunc_call(np.rint, ufunc_call(np.multiply, a, scale)),
                          scale)
    scale = 10.0 ** (-decimals)
    return ufunc_call(np.multiply, ufunc_call(np.rint, ufunc_call(np.true_divide, a, scale)),
                      scale)


round = around  # noqa: A001 - NumPy's name


def _dtype_of(a: Any) -> np.dtype:
    return a.dtype if is_blockarray(a) else np.asarray(a).dtype


def real(a: Any) -> BlockArray:
    """The real part of ``a``.

    Parameters
    ----------
    a : array_like

    Returns
    -------
    BlockArray
    """
    return BlockArray(elementwise("real", a))


def imag(a: Any) -> BlockArray:
    """The imaginary part of ``a`` (zeros for real input).

    Parameters
    ----------
    a : array_like

    Returns
    -------
    BlockArray
    """
    return BlockArray(elementwise("imag", a))


def angle(z: Any, deg: bool = False) -> BlockArray:
    """The angle of complex values.

    Parameters
    ----------
    z : array_like
    deg : bool
        Degrees instead of radians.

    Returns
    -------
    BlockArray
    """
    dt = _dtype_of(z)
    if dt.kind == "c":
        out = ufunc_call(np.arctan2, imag(z), real(z))
    else:
        out = ufunc_call(np.arctan2, 0.0, z)
    return ufunc_call(np.multiply, out, 180 / np.pi) if deg else out
