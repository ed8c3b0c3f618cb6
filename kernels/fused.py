"""Fused elementwise programs, evaluated over a block in cache-sized tiles.

A chain like ``exp(x) * 2 + x`` becomes one :class:`Program`: a list of instructions in
single-assignment form over the block's inputs, constants and earlier results. The kernel walks
the output block in tiles of about ``tile_elements`` elements and runs every instruction of the
program on one tile before going to the next, writing intermediates into small per-thread
buffers that are reused across tiles, instructions and calls. So no full-size temporary is ever
allocated (freshly touched memory is slow on our machines) and the working set stays in cache.

The same walk feeds fused reductions (:mod:`nums.kernels.reduce`): the last instruction's
tile goes to a partial reduction instead of the output block.

Instruction operands are ``(kind, value)`` pairs: ``(INPUT, k)`` the k-th block, ``(CONST, v)``
a Python or NumPy scalar, ``(TEMP, j)`` the result of instruction ``j``. Each instruction also
carries its result dtype (computed by the IR with NumPy's own promotion rules) and a mask of the
axes on which its value is full-size (False where it is broadcast, length 1).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

__all__ = ["INPUT", "CONST", "TEMP", "Instr", "InputView", "Program", "fused_map", "tiles",
           "SPECIAL_OPS", "apply_op", "make_program", "evaluate_into", "scratch_block",
           "scratch_buffer", "permute_axes", "view_input"]

INPUT, CONST, TEMP = 0, 1, 2


class InputView(NamedTuple):
    """How to view block input ``k`` in output coordinates."""

    perm: tuple[int | None, ...] | None  # permute the block's axes first (see permute_axes)
    pad: int  # then prepend this many length-1 axes


class Instr(NamedTuple):
    op: Any  # a numpy ufunc or a key of SPECIAL_OPS or a ("nth", ufunc, k) tuple
    args: tuple[tuple[int, Any], ...]
    dtype: np.dtype
    full: tuple[bool, ...]  # per output axis: is this value full-size there (else length 1)


class Program(NamedTuple):
    inputs: tuple[InputView, ...]
    instrs: tuple[Instr, ...]
    ndim: int
    tile_elements: int
    slots: tuple[int, ...]  # scratch buffer slot per instruction (see make_program)

    @property
    def dtype(self) -> np.dtype:
        return self.instrs[-1].dtype


def _where(cond: np.ndarray, x: Any, y: Any, out: np.ndarray) -> np.ndarray:
    np.copyto(out, y, casting="unsafe")
    np.copyto(out, x, casting="unsafe", where=cond)
    return out


def _cast(a: Any, out: np.ndarray) -> np.ndarray:
    np.copyto(out, a, casting="unsafe")
    return out


def _clip(a: Any, lo: Any, hi: Any, out: np.ndarray) -> np.ndarray:
    return np.clip(a, lo, hi, out=out)


def _real(a: Any, out: np.ndarray) -> np.ndarray:
    np.copyto(out, np.real(a))
    return out


def _imag(a: Any, out: np.ndarray) -> np.ndarray:
    np.copyto(out, np.imag(a))
    return out


SPECIAL_OPS: dict[str, Callable[..., np.ndarray]] = {
    "real": _real,
    "imag": _imag,
    "where": _where,
    "cast": _cast,
    "clip": _clip,
}


def apply_op(op: Any, args: list[Any], out: np.ndarray) -> np.ndarray:
    """Run one instruction's operation on ``args`` into ``out``."""
    if type(op) is np.ufunc:
        return op(*args, out=out)
    if isinstance(op, str):
        return SPECIAL_OPS[op](*args, out=out)
    _, ufunc, k = op  # ("nth", ufunc, k): output k of a multi-output ufunc
    np.copyto(out, ufunc(*args)[k])
    return out


class _Buffers(threading.local):
    """Per-thread scratch buffers, kept between calls (keyed by slot and dtype)."""

    def __init__(self) -> None:
        self.pool: dict[tuple[int, str], np.ndarray] = {}

    def get(self, slot: int, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
        n = math.prod(shape)
        key = (slot, dtype.str)
        buf = self.pool.get(key)
        if buf is None or buf.size < n:
            buf = np.empty(max(n, 1), dtype=dtype)
            self.pool[key] = buf
        return buf[:n].reshape(shape)


_BUFFERS = _Buffers()


def permute_axes(arr: np.ndarray, perm: tuple[int | None, ...]) -> np.ndarray:
    """``arr`` viewed with its axes permuted by ``perm``; a None entry inserts a length-1
    axis there (``x[:, None]`` is ``perm == (0, None)``). Never copies."""
    if None not in perm:
        return arr.transpose(perm)
    kept = [p for p in perm if p is not None]
    if kept != sorted(kept):
        arr = arr.transpose(kept)
    shape = iter(arr.shape)
    return arr.reshape(tuple(1 if p is None else next(shape) for p in perm))


def view_input(view: InputView, block: Any) -> np.ndarray:
    """A block input of a program seen in output coordinates (``view``); never copies."""
    arr = block if type(block) is np.ndarray else np.asarray(block)
    if view.perm is not None:
        arr = permute_axes(arr, view.perm)
    if view.pad:
        arr = arr.reshape((1,) * view.pad + arr.shape)
    return arr


def _view_inputs(program: Program, blocks: tuple[np.ndarray, ...]) -> list[Any]:
    return [view_input(view, block) for view, block in zip(program.inputs, blocks)]


def make_program(inputs: tuple[InputView, ...], instrs: tuple[Instr, ...], ndim: int,
                 tile_elements: int) -> Program:
    """A Program with its scratch-buffer slots assigned."""
    slots = (0,) if len(instrs) == 1 else tuple(_slots(instrs))
    return Program(inputs, instrs, ndim, tile_elements, slots)


def _slots(instrs: tuple[Instr, ...]) -> list[int]:
    """Scratch buffer slot of every instruction: a slot is reused once its value is dead."""
    last_use = list(range(len(instrs)))
    for j, ins in enumerate(instrs):
        for kind, value in ins.args:
            if kind == TEMP:
                last_use[value] = j
    free: dict[str, list[int]] = {}
    slots = [0] * len(instrs)
    next_slot = 0
    for j, ins in enumerate(instrs):
        pool = free.get(ins.dtype.str)
        if pool:
            slots[j] = pool.pop()
        else:
            slots[j], next_slot = next_slot, next_slot + 1
        # a value read twice by its last reader (``e * e``) frees its slot once: freeing it
        # twice handed one buffer to two live values
        for v in sorted({v for kind, v in ins.args if kind == TEMP and last_use[v] == j}):
            free.setdefault(instrs[v].dtype.str, []).append(slots[v])
    return slots


def _evaluate(instrs: tuple[Instr, ...], slots: tuple[int, ...], inputs: list[Any],
              tile_shape: tuple[int, ...], flat: bool, out: np.ndarray | None) -> Any:
    """Run every instruction on one tile; the last writes into ``out`` when given."""
    last = len(instrs) - 1
    if last == 0 and out is not None:  # one instruction straight into the output
        ins = instrs[0]
        args = [inputs[v] if kind == INPUT else v for kind, v in ins.args]
        return apply_op(ins.op, args, out)
    temps: list[Any] = []
    for j, ins in enumerate(instrs):
        args = [inputs[v] if kind == INPUT else (v if kind == CONST else temps[v])
                for kind, v in ins.args]
        if j == last and out is not None:
            target = out
        else:
            if flat:
                shape = tile_shape if all(ins.full) else (1,)
            else:
                shape = tuple(n if f else 1 for n, f in zip(tile_shape, ins.full))
            target = _BUFFERS.get(slots[j], ins.dtype, shape)
        temps.append(apply_op(ins.op, args, target))
    return temps[-1]


def tiles(program: Program, blocks: tuple[np.ndarray, ...], out_shape: tuple[int, ...],
          out: np.ndarray | None = None,
          allow_flat: bool = True) -> Iterator[tuple[tuple[slice, ...], np.ndarray]]:
    """Evaluate ``program`` tile by tile over an output block of ``out_shape``.

    Yields ``(index, value)`` per tile: ``index`` selects the tile in the output block and
    ``value`` is the program's result there. When ``out`` is given, the last instruction writes
    straight into ``out[index]``; otherwise ``value`` is a scratch buffer that is only valid
    until the next tile is requested. With ``allow_flat`` (and contiguous, unbroadcast inputs)
    tiles are ranges of the flattened block and ``value`` is one-dimensional.
    """
    views = _view_inputs(program, blocks)
    instrs = program.instrs
    ndim = program.ndim
    total = math.prod(out_shape)
    slots = program.slots
    if ndim == 0 or total <= program.tile_elements:
        result = _evaluate(instrs, slots, views, out_shape, False, out)
        if out is None and result.shape != out_shape:
            result = np.broadcast_to(result, out_shape)
        yield (slice(None),) * ndim, result
        return
    if allow_flat and all(v.flags.c_contiguous and (v.shape == out_shape or v.size == 1)
                          for v in views) \
            and all(all(i.full) or not any(i.full) for i in instrs):
        step = program.tile_elements
        views = [v.reshape(-1) if v.size > 1 else v.reshape((1,)) for v in views]
        out_flat = out.reshape(-1) if out is not None else None
        for start in range(0, total, step):
            stop = min(start + step, total)
            inputs = [v[start:stop] if v.size > 1 else v for v in views]
            target = out_flat[start:stop] if out_flat is not None else None
            result = _evaluate(instrs, slots, inputs, (stop - start,), True, target)
            if out is None and result.shape != (stop - start,):
                result = np.broadcast_to(result, (stop - start,))
            yield (slice(start, stop),), result
        return
    row = max(1, math.prod(out_shape[1:]))
    step = max(1, program.tile_elements // row)
    for start in range(0, out_shape[0], step):
        stop = min(start + step, out_shape[0])
        tile_shape = (stop - start,) + tuple(out_shape[1:])
        inputs = [v[start:stop] if v.shape[0] != 1 else v for v in views]
        target = out[start:stop] if out is not None else None
        result = _evaluate(instrs, slots, inputs, tile_shape, False, target)
        if out is None and result.shape != tile_shape:
            result = np.broadcast_to(result, tile_shape)
        yield (slice(start, stop),), result


def fused_map(program: Program, out_shape: tuple[int, ...], *blocks: np.ndarray) -> np.ndarray:
    """Kernel: evaluate ``program`` into a new block of ``out_shape``."""
    return evaluate_into(program, np.empty(out_shape, dtype=program.instrs[-1].dtype), blocks)


def scratch_buffer(slot: int, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """This thread's scratch buffer ``slot`` (a negative number, so it never meets the
    programs' own slots) viewed as ``shape``; its contents are whatever was there last."""
    return _BUFFERS.get(slot, np.dtype(dtype), shape)


def scratch_block(program: Program, out_shape: tuple[int, ...], blocks: tuple[np.ndarray, ...],
                  slot: int) -> np.ndarray:
    """Evaluate ``program`` into this thread's scratch buffer ``slot`` (a negative number,
    so it never meets the programs' own slots) and return it; valid until the slot is used
    again. For kernels that consume an elementwise result at once (fused operands)."""
    buffer = scratch_buffer(slot, program.dtype, out_shape)
    return evaluate_into(program, buffer, blocks)


def evaluate_into(program: Program, out: np.ndarray, blocks: tuple[np.ndarray, ...]
                  ) -> np.ndarray:
    """Evaluate ``program`` over ``blocks`` into ``out`` (tile by tile) and return ``out``."""
    instrs = program.instrs
    last = instrs[-1]
    out_shape = out.shape
    size = out.size
    if size and size <= program.tile_elements and all(last.full):
        _evaluate(instrs, program.slots, _view_inputs(program, blocks), out_shape, False, out)
    elif size:
        small = tuple(n if f else 1 for n, f in zip(out_shape, last.full))
        if small != out_shape and out.ndim:
            # The result is broadcast along some axes: compute it small, then broadcast.
            part = np.empty(small, dtype=program.dtype)
            for _ in tiles(program, blocks, small, out=part):
                pass
            np.copyto(out, part)
        else:
            for _ in tiles(program, blocks, out_shape, out=out):
                pass
    return out
