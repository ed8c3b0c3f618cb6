"""Contraction kernels: sums of block products for matmul and tensordot."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["contract_sum", "add_blocks"]


def _view(block: np.ndarray, perm: tuple[int, ...] | None) -> np.ndarray:
    return block if perm is None else block.transpose(perm)


def contract_sum(op: str, axes: Any, perm_a: tuple[int, ...] | None,
                 perm_b: tuple[int, ...] | None, dtype: np.dtype,
                 selections: tuple[tuple[Any, Any], ...], *pairs: np.ndarray) -> np.ndarray:
    """Kernel: ``sum_k product(a_k, b_k)`` over blocks given as ``a_0, b_0, a_1, b_1, ...``.

    ``op`` is ``"matmul"`` (NumPy's matmul, batch axes broadcast) or ``"tensordot"`` with
    ``axes`` as NumPy's tensordot takes them. Operands are viewed through ``perm_a`` /
    ``perm_b`` first, so a transposed array costs no copy, then through the pair's
    ``selections`` (a slice of the contracted axis where the operands' blocks differ; None for
    whole blocks), which are views too.
    """
    out = None
    for i in range(0, len(pairs), 2):
        a = _view(pairs[i], perm_a)
        b = _view(pairs[i + 1], perm_b)
        sel_a, sel_b = selections[i // 2]
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
