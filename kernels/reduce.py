"""Tree reductions over blocks: one template, many thin reductions.

A reduction is three functions on *partials* (tuples of arrays that keep the reduced axes as
length-1 axes): ``partial(x, axes, ctx)`` reduces one tile or block, ``merge(a, b)`` combines
two partials of the same shape, ``finalize(p)`` turns the last partial into the result. ``sum``,
``mean``, ``var``, ``argmin`` and the NaN-ignoring versions are entries of :data:`REDUCTIONS`.

Kernels: :func:`fused_reduce` evaluates a fused elementwise program tile by tile and reduces
each tile as it is produced (no full temporary); :func:`reduce_merge` is one step of the
combine tree; :func:`reduce_finalize` produces the output block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from nums.kernels.fused import Program, fused_map, tiles

__all__ = ["ReduceSpec", "REDUCTIONS", "fused_reduce", "reduce_merge", "reduce_finalize"]

Partial = tuple[np.ndarray, ...]


class ReduceSpec(NamedTuple):
    """What to reduce and how; small and picklable, shared by every block of one reduction."""

    name: str
    axes: tuple[int, ...]  # reduced axes, in block coordinates (== array axes)
    dtype: np.dtype  # result dtype
    acc_dtype: np.dtype | None  # accumulator dtype (sum/mean/var), None for min/max/...
    ddof: int
    keepdims: bool
    array_shape: tuple[int, ...]  # for argmin/argmax over all axes (flat indices)


class Context(NamedTuple):
    offset: tuple[int, ...]  # position of this tile in the whole array


class Reduction(NamedTuple):
    partial: Callable[[np.ndarray, ReduceSpec, Context], Partial]
    merge: Callable[[Partial, Partial, ReduceSpec], Partial]
    finalize: Callable[[Partial, ReduceSpec], np.ndarray]
    tileable: bool = True  # partial of a tile may be merged (False: evaluate whole block)


def _ufunc_reduction(ufunc: np.ufunc, nan_to: Any = None, use_acc: bool = True) -> Reduction:
    def partial(x, spec, ctx):
        if nan_to is not None and x.dtype.kind in "fc":
            x = np.where(np.isnan(x), nan_to, x)
        dtype = spec.acc_dtype if use_acc else None
        return (ufunc.reduce(x, axis=spec.axes, dtype=dtype, keepdims=True),)

    def merge(a, b, spec):
        return (ufunc(a[0], b[0]),)

    def finalize(p, spec):
        return p[0].astype(spec.dtype, copy=False)

    return Reduction(partial, merge, finalize)


def _count(x: np.ndarray, spec: ReduceSpec, nan: bool) -> np.ndarray:
    shape = tuple(1 if a in spec.axes else n for a, n in enumerate(x.shape))
    if nan and x.dtype.kind in "fc":
        return np.sum(~np.isnan(x), axis=spec.axes, keepdims=True, dtype=np.int64)
    n = 1
    for a in spec.axes:
        n *= x.shape[a]
    return np.full(shape, n, dtype=np.int64)


def _mean_reduction(nan: bool) -> Reduction:
    def partial(x, spec, ctx):
        data = np.where(np.isnan(x), 0, x) if nan and x.dtype.kind in "fc" else x
        s = np.add.reduce(data, axis=spec.axes, dtype=spec.acc_dtype, keepdims=True)
        return (s, _count(x, spec, nan))

    def merge(a, b, spec):
        return (a[0] + b[0], a[1] + b[1])

    def finalize(p, spec):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.true_divide(p[0], p[1]).astype(spec.dtype, copy=False)

    return Reduction(partial, merge, finalize)


def _var_reduction(nan: bool, sqrt: bool) -> Reduction:
    """Chan et al.'s parallel variance: partials are (count, mean, sum of squared deviations)."""

    def partial(x, spec, ctx):
        n = _count(x, spec, nan)
        if nan and x.dtype.kind in "fc":
            mask = np.isnan(x)
            data = np.where(mask, 0, x)
        else:
            mask, data = None, x
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.add.reduce(data, axis=spec.axes, dtype=spec.acc_dtype, keepdims=True) / n
            dev = data - mean
            sq = (dev * dev.conj()).real if dev.dtype.kind == "c" else dev * dev
            if mask is not None:
                sq = np.where(mask, 0, sq)
            m2 = np.add.reduce(sq, axis=spec.axes, keepdims=True)
        return (n, np.where(n > 0, mean, 0), m2)

    def merge(a, b, spec):
        na, ma, qa = a
        nb, mb, qb = b
        n = na + nb
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = mb - ma
            safe_n = np.where(n > 0, n, 1)
            mean = ma + delta * (nb / safe_n)
            d2 = (delta * delta.conj()).real if delta.dtype.kind == "c" else delta * delta
            m2 = qa + qb + d2 * (na * nb / safe_n)
        return (n, mean, m2)

    def finalize(p, spec):
        n, _, m2 = p
        with np.errstate(invalid="ignore", divide="ignore"):
            out = m2 / np.maximum(n - spec.ddof, 0)
            if nan:  # NumPy's nanvar gives nan wherever n - ddof <= 0
                out = np.where(n - spec.ddof > 0, out, np.nan)
            if sqrt:
                out = np.sqrt(out)
        return np.asarray(out).astype(spec.dtype, copy=False)

    return Reduction(partial, merge, finalize, tileable=False)


def _arg_reduction(minimum: bool) -> Reduction:
    def partial(x, spec, ctx):
        if len(spec.axes) == 1 and x.ndim > 0:
            (axis,) = spec.axes
            local = np.argmin(x, axis=axis, keepdims=True) if minimum else \
                np.argmax(x, axis=axis, keepdims=True)
            value = np.take_along_axis(x, local, axis=axis)
            return (value, local.astype(np.int64) + ctx.offset[axis])
        flat_local = int(np.argmin(x) if minimum else np.argmax(x))
        coords = np.unravel_index(flat_local, x.shape) if x.ndim else ()
        global_coords = tuple(int(c) + o for c, o in zip(coords, ctx.offset))
        flat = np.ravel_multi_index(global_coords, spec.array_shape) if x.ndim else 0
        keep = (1,) * x.ndim
        return (x.reshape(-1)[flat_local:flat_local + 1].reshape(keep),
                np.full(keep, flat, dtype=np.int64))

    def merge(a, b, spec):
        va, ia = a
        vb, ib = b
        better = (vb < va) if minimum else (vb > va)
        tie = (vb == va) & (ib < ia)
        if va.dtype.kind in "fc":
            na, nb = np.isnan(va), np.isnan(vb)
            take_b = (nb & (~na | (ib < ia))) | (~na & ~nb & (better | tie))
        else:
            take_b = better | tie
        return (np.where(take_b, vb, va), np.where(take_b, ib, ia))

    def finalize(p, spec):
        return p[1].astype(spec.dtype, copy=False)

    return Reduction(partial, merge, finalize, tileable=False)


REDUCTIONS: dict[str, Reduction] = {
    "sum": _ufunc_reduction(np.add),
    "prod": _ufunc_reduction(np.multiply),
    "min": _ufunc_reduction(np.minimum, use_acc=False),
    "max": _ufunc_reduction(np.maximum, use_acc=False),
    "all": _ufunc_reduction(np.logical_and, use_acc=False),
    "any": _ufunc_reduction(np.logical_or, use_acc=False),
    "nansum": _ufunc_reduction(np.add, nan_to=0),
    "nanprod": _ufunc_reduction(np.multiply, nan_to=1),
    "nanmin": _ufunc_reduction(np.fmin, use_acc=False),
    "nanmax": _ufunc_reduction(np.fmax, use_acc=False),
    "mean": _mean_reduction(nan=False),
    "nanmean": _mean_reduction(nan=True),
    "var": _var_reduction(nan=False, sqrt=False),
    "std": _var_reduction(nan=False, sqrt=True),
    "nanvar": _var_reduction(nan=True, sqrt=False),
    "nanstd": _var_reduction(nan=True, sqrt=True),
    "argmin": _arg_reduction(minimum=True),
    "argmax": _arg_reduction(minimum=False),
}


def _concat_partials(parts: list[Partial], axis: int) -> Partial:
    return tuple(np.concatenate(column, axis=axis) for column in zip(*parts))


def fused_reduce(program: Program | None, spec: ReduceSpec,
                 places: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...], finalize: bool,
                 width: int, *blocks: np.ndarray) -> Any:
    """Kernel: evaluate ``program`` over one or more blocks and reduce them to one partial.

    ``places`` holds ``(offset, shape)`` of each block (its position in the whole array and
    its shape); each block is made of the next ``width`` of ``blocks`` (the program's inputs,
    or the block itself when ``program`` is None). The blocks' partials are merged here, so
    one task reduces every block a worker slot owns. Tileable reductions consume the
    program's tiles as they are produced, so no block's elementwise result is materialised.
    With ``finalize`` these are all the blocks along the reduced axes, and the kernel returns
    the finished output block.
    """
    reduction = REDUCTIONS[spec.name]
    part: Partial | None = None
    for i, (offset, shape) in enumerate(places):
        p = _block_partial(reduction, program, spec, offset, shape,
                           blocks[i * width:(i + 1) * width])
        part = p if part is None else reduction.merge(part, p, spec)
    if finalize:
        return reduce_finalize(spec, part)
    return part


def _block_partial(reduction: Reduction, program: Program | None, spec: ReduceSpec,
                   offset: tuple[int, ...], out_shape: tuple[int, ...],
                   blocks: tuple[np.ndarray, ...]) -> Partial:
    ndim = len(out_shape)
    ctx = Context(offset)
    if program is None:
        return reduction.partial(np.asarray(blocks[0]), spec, ctx)
    if not reduction.tileable or not ndim or 0 in out_shape:
        return reduction.partial(fused_map(program, out_shape, *blocks), spec, ctx)
    full = len(spec.axes) == ndim
    keep = tuple(1 if a in spec.axes else n for a, n in enumerate(out_shape))
    flat_spec = spec._replace(axes=(0,))
    acc: Partial | None = None
    rows: list[Partial] = []
    for _, value in tiles(program, blocks, out_shape, allow_flat=full):
        if value.ndim != ndim:
            p = tuple(c.reshape(keep) for c in reduction.partial(value, flat_spec, ctx))
        else:
            p = reduction.partial(value, spec, ctx)
        if full or 0 in spec.axes:
            acc = p if acc is None else reduction.merge(acc, p, spec)
        else:
            rows.append(p)
    return acc if acc is not None else _concat_partials(rows, 0)


def reduce_merge(spec: ReduceSpec, finalize: bool, *partials: Partial) -> Any:
    """Kernel: merge several partials of the same shape into one; with ``finalize`` (the
    root of the merge tree) return the finished output block instead."""
    merge = REDUCTIONS[spec.name].merge
    acc = partials[0]
    for p in partials[1:]:
        acc = merge(acc, p, spec)
    return reduce_finalize(spec, acc) if finalize else acc


def reduce_finalize(spec: ReduceSpec, partial: Partial) -> np.ndarray:
    """Kernel: turn the last partial into an output block."""
    out = REDUCTIONS[spec.name].finalize(partial, spec)
    if not spec.keepdims:
        out = out.reshape(tuple(n for a, n in enumerate(out.shape) if a not in spec.axes))
    return out if out.flags.c_contiguous else out.copy()
