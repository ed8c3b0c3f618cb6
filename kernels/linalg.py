"""Contraction kernels: sums of block products for matmul and tensordot."""

from __future__ import annotations

from typing import Any

import numpy as np
from nums.kernels.fused import permute_axes, scratch_block, tiles

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
