"""Basic indexing: normalise a NumPy index and map it onto blocks.

A basic index (ints, slices with any step, ``None``, ``...``) selects, along each input axis,
an arithmetic progression of positions. Along one axis, the positions that fall in one block
are a contiguous run of the progression, so every block contributes one *piece*: a local
index into the block and a run of output positions. Pieces are listed in output order.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from nums.array.grid import ArrayGrid

__all__ = ["AxisSelection", "normalize_index", "axis_pieces", "Piece"]


class AxisSelection(NamedTuple):
    """What a normalised index does to one axis of the result or the input."""

    kind: str  # "int" (input axis dropped), "slice" (input axis kept), "new" (None)
    axis: int  # input axis (-1 for "new")
    start: int  # first position (for "int": the position)
    step: int
    count: int  # number of selected positions (1 for "int"/"new")


class Piece(NamedTuple):
    block: int | None  # block index along the input axis (None for a new axis)
    local: Any  # int, slice or None: index into that block
    out_start: int  # first output position (along the output axis)
    length: int  # number of output positions


def _is_integer(x: Any) -> bool:
    if isinstance(x, (bool, np.bool_)):
        return False
    try:
        operator.index(x)
    except TypeError:
        return False
    return True


def normalize_index(index: Any, shape: Sequence[int]) -> tuple[list[AxisSelection],
                                                               tuple[int, ...]]:
    """Normalise a basic index against ``shape``.

    Returns the per-axis selections (in index order) and the result shape. Raises IndexError
    like NumPy for out-of-range integers and too many indices, and TypeError for index types
    that basic indexing does not take.
    """
    if not isinstance(index, tuple):
        index = (index,)
    for item in index:
        if isinstance(item, (list, np.ndarray)) or hasattr(item, "grid"):
            raise NotImplementedError(
                "nums supports basic indexing (ints, slices, None, ...); advanced indexing "
                f"with {type(item).__name__} is not supported yet")
        if not (item is None or item is Ellipsis or isinstance(item, slice)
                or _is_integer(item)):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis "
                             "(`None`) and integer or boolean arrays are valid indices")
    n_ellipsis = sum(1 for item in index if item is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(1 for item in index if item is not None and item is not Ellipsis)
    ndim = len(shape)
    if used > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, "
                         f"but {used} were indexed")
    expanded: list[Any] = []
    for item in index:
        if item is Ellipsis:
            expanded.extend([slice(None)] * (ndim - used))
        else:
            expanded.append(item)
    if n_ellipsis == 0:
        expanded.extend([slice(None)] * (ndim - used))
    selections: list[AxisSelection] = []
    out_shape: list[int] = []
    axis = 0
    for item in expanded:
        if item is None:
            selections.append(AxisSelection("new", -1, 0, 1, 1))
            out_shape.append(1)
            continue
        n = shape[axis]
        if isinstance(item, slice):
            start, stop, step = item.indices(n)
            count = len(range(start, stop, step))
            selections.append(AxisSelection("slice", axis, start, step, count))
            out_shape.append(count)
        else:
            i = operator.index(item)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
            selections.append(AxisSelection("int", axis, i % n, 1, 1))
        axis += 1
    return selections, tuple(out_shape)


def axis_pieces(sel: AxisSelection, grid: ArrayGrid) -> list[Piece]:
    """The pieces, in output order, that blocks along ``sel.axis`` contribute."""
    if sel.kind == "new":
        return [Piece(None, None, 0, 1)]
    offsets = grid.offsets[sel.axis]
    if sel.kind == "int":
        b = grid.locate(sel.axis, sel.start)
        return [Piece(b, sel.start - offsets[b], 0, 1)]
    if sel.count == 0:
        b = 0
        return [Piece(b, slice(0, 0), 0, 0)]
    pieces = []
    j = 0
    step = sel.step
    while j < sel.count:
        pos = sel.start + j * step
        b = grid.locate(sel.axis, pos)
        lo, hi = offsets[b], offsets[b + 1]
        # last j whose position stays inside [lo, hi)
        if step > 0:
            j_end = min(sel.count, (hi - 1 - sel.start) // step + 1)
        else:
            j_end = min(sel.count, (sel.start - lo) // (-step) + 1)
        first = pos - lo
        last = sel.start + (j_end - 1) * step - lo
        stop = last + (1 if step > 0 else -1)
        local = slice(first, stop if stop >= 0 else None, step)
        pieces.append(Piece(b, local, j, j_end - j))
        j = j_end
    return pieces
