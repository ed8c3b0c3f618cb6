"""Contraction kernels: sums of block products for matmul and tensordot."""

from __future__ import annotations

from typing import Any

import numpy as np
from nums.kernels.fused import permute_axes, scratch_block

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
    out = None
    at = 0
    for sel_a, sel_b, shape_a, shape_b in selections:
        if program_a is None:
            a = _view(blocks[at], perm_a)
        else:
            a = scratch_block(program_a, shape_a, blocks[at:at + n_a], -1)
        at += n_a
        if program_b is None:
            b = _view(blocks[at], perm_b)
        else:
            b = scratch_block(program_b, shape_b, blocks[at:at + n_b], -2)
        at += n_b
        if sel_a is not None:
            a = a[sel_a]
        if sel_b is not None:
            b = b[sel_b]
        if a.dtype != dtype:
            a = a.astype(dtype)
        if b.dtype != dtype:
            b = b.astype(dtype)
        product = np.matmul(a, b) if op == "matmul" else np.tensordot(a, b, axes=axes)
        if out is None:
            out = product
        else:
            out += product
    return np.asarray(out)


def add_blocks(*blocks: np.ndarray) -> np.ndarray:
    """Kernel: the sum of several blocks of the same shape (inputs are not modified)."""
    out = np.add(blocks[0], blocks[1]) if len(blocks) > 1 else blocks[0].copy()
    for b in blocks[2:]:
        out += b
    return out
