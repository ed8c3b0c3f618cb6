"""Contraction kernels: sums of block products for matmul and tensordot."""

from __future__ import annotations

from typing import Any

import numpy as np
from nums.kernels.fused import (
    INPUT,
    TEMP,
    InputView,
    Program,
    evaluate_into,
    make_program,
    permute_axes,
    scratch_block,
    scratch_buffer,
    tiles,
    view_input,
)

__all__ = ["contract_sum", "add_blocks"]


def _view(block: np.ndarray, perm: tuple[int | None, ...] | None) -> np.ndarray:
    return block if perm is None else permute_axes(block, perm)


def contract_sum(op: str, axes: Any, perm_a: tuple[int, ...] | None,
                 perm_b: tuple[int, ...] | None, dtype: np.dtype,
                 selections: tuple[tuple[Any, ...], ...], fused: tuple[Any, int, Any, int],
                 *blocks: np.ndarray) -> np.ndarray:
    """Kernel: ``sum_k product(a_k, b_k)`` over pairs of operand blocks.

    ``op`` is ``"matmul"`` (NumPy's matmul, batch axes broadcast) or ``"tensordot"`` with
    ``axes`` as NumPy's tensordot takes them. ``fused`` is ``(program_a, n_a, program_b,
    n_b)``: each pair's operand ``a`` is made of the next ``n_a`` of ``blocks`` (then ``b`` of
    ``n_b``): the block itself when ``program_a`` is None, else the inputs of an elementwise
    program evaluated here into a reused scratch buffer (so ``X.T @ (X * s[:, None])`` never
    materialises ``X * s``). Operand blocks are viewed through ``perm_a`` / ``perm_b`` (a
    transposed array costs no copy), then through the pair's ``selections`` entry
    ``(sel_a, sel_b, shape_a, shape_b)``: a slice of the contracted axis where the operands'
    blocks differ (None for whole blocks), and the operand block shapes (for programs).
    """
    program_a, n_a, program_b, n_b = fused
    b_axis = None  # the one axis of an elementwise ``b`` that is summed over
    if program_b is not None:
        if op == "matmul":
            b_axis = len(selections[0][3]) - 2
        elif len(axes[1]) == 1:
            b_axis = axes[1][0]
    out = None
    at = 0
    for sel_a, sel_b, shape_a, shape_b in selections:
        if program_a is None and n_a == 1 and program_b is not None and b_axis == 0 and \
                sel_a is None and sel_b is None:
            gram = _weighted_gram(op, perm_a, dtype, program_b, shape_b, blocks[at],
                                  blocks[at + 1:at + 1 + n_b])
            if gram is not None:
                at += 1 + n_b
                out = gram if out is None else _accumulate(out, gram)
                continue
        if program_a is None:
            a = _view(blocks[at], perm_a)
        else:
            a = scratch_block(program_a, shape_a, blocks[at:at + n_a], -1)
        at += n_a
        b_blocks = blocks[at:at + n_b]
        at += n_b
        if sel_a is not None:
            a = a[sel_a]
        if a.dtype != dtype:
            a = a.astype(dtype)
        if program_b is not None and b_axis == 0 and sel_b is None:
            # The elementwise operand is summed over its first axis: evaluate it in tiles
            # of rows and multiply each by the matching slice of ``a``, so the tile stays
            # in cache instead of a block-sized buffer going through memory twice.
            a_axis = a.ndim - 1 if op == "matmul" else axes[0][0]
            for index, tile in tiles(program_b, b_blocks, shape_b, allow_flat=False):
                part = a[(slice(None),) * a_axis + (index[0],)]
                if tile.dtype != dtype:
                    tile = tile.astype(dtype)
                product = _product(op, axes, part, tile)
                out = product if out is None else _accumulate(out, product)
            continue
        if program_b is None:
            b = _view(b_blocks[0], perm_b)
        else:
            b = scratch_block(program_b, shape_b, b_blocks, -2)
        if sel_b is not None:
            b = b[sel_b]
        if b.dtype != dtype:
            b = b.astype(dtype)
        product = _product(op, axes, a, b)
        out = product if out is None else _accumulate(out, product)
    return np.asarray(out)


def _weighted_gram(op: str, perm_a: tuple[int, ...] | None, dtype: np.dtype,
                   program_b: Program, shape_b: tuple[int, ...], x: np.ndarray,
                   b_blocks: tuple[np.ndarray, ...]) -> np.ndarray | None:
    """``x.T @ (x * w[:, None])`` as ``z.T @ z`` with ``z = x * sqrt(w)[:, None]``, when the
    operands have that form and every weight is >= 0; else None (the caller's general path).

    This is the Hessian of logistic regression and of every IRLS / Newton method. NumPy runs
    ``z.T @ z`` as one symmetric rank-k update (BLAS syrk: half the multiplications of the
    general product), so a (131072, 32) block takes ~9 ms instead of ~12 ms here. The
    weights (an elementwise program of the row blocks, e.g. ``p * (1 - p)``) are computed
    once per block; ``z`` is made in cache-sized tiles of rows in a reused buffer. Results
    differ from NumPy's only where ``x_j**2 * w`` itself over- or underflows.
    """
    if op != "matmul" or perm_a != (1, 0) or x.ndim != 2 or len(shape_b) != 2 or \
            np.dtype(dtype).kind != "f" or program_b.dtype != dtype:
        return None
    last = program_b.instrs[-1]
    if last.op is not np.multiply or len(last.args) != 2:
        return None
    rows, d = x.shape
    for (kind_x, k), (kind_w, v) in (last.args, last.args[::-1]):
        if kind_x == INPUT and b_blocks[k] is x and program_b.inputs[k] == InputView(None, 0):
            w = _row_weights(program_b, kind_w, v, b_blocks, rows)
            if w is not None:
                break
    else:
        return None
    if not w.min(initial=0.0) >= 0:  # also False for NaN
        return None
    root = np.sqrt(w, out=w) if w.dtype == dtype else \
        np.sqrt(w, out=scratch_buffer(-5, dtype, w.shape), dtype=dtype)
    step = max(1, program_b.tile_elements // max(d, 1))
    z = scratch_buffer(-4, dtype, (min(step, rows), d))
    out = np.zeros((d, d), dtype=dtype)
    for start in range(0, rows, step):
        zt = z[:min(step, rows - start)]
        np.multiply(x[start:start + step], root[start:start + step], out=zt)
        out += zt.T @ zt
    return out


def _row_weights(program: Program, kind: int, v: int, blocks: tuple[np.ndarray, ...],
                 rows: int) -> np.ndarray | None:
    """The operand ``(kind, v)`` of ``program`` as a float column of ``rows`` weights in a
    scratch buffer, when it is one (a program input viewed as ``s[:, None]``, or an earlier
    instruction that is full-size on rows only); else None."""
    if kind == TEMP:
        ins = program.instrs[v]
        if ins.full != (True, False) or ins.dtype.kind != "f":
            return None
        weights = make_program(program.inputs, program.instrs[:v + 1], 2,
                               program.tile_elements)
        return evaluate_into(weights, scratch_buffer(-3, ins.dtype, (rows, 1)), blocks)
    if kind != INPUT:
        return None
    column = view_input(program.inputs[v], blocks[v])
    if column.shape != (rows, 1) or column.dtype.kind != "f":
        return None
    w = scratch_buffer(-3, column.dtype, (rows, 1))
    np.copyto(w, column)
    return w


def _product(op: str, axes: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a, b) if op == "matmul" else np.tensordot(a, b, axes=axes)


def _accumulate(out: np.ndarray, product: np.ndarray) -> np.ndarray:
    out += product
    return out


def add_blocks(*blocks: np.ndarray) -> np.ndarray:
    """Kernel: the sum of several blocks of the same shape (inputs are not modified)."""
    out = np.add(blocks[0], blocks[1]) if len(blocks) > 1 else blocks[0].copy()
    for b in blocks[2:]:
        out += b
    return out
