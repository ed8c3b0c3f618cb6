"""The contraction template: matmul (with batch axes) and tensordot as sums of block
products.

Layout: rows of the result are blocked like the left operand's rows, columns like the right
operand's columns (batch axes like the first operand that has them at full length). Where the
two operands' blocks along a contracted axis differ, the axis is cut at both sets of
boundaries and blocks are sliced (views), never re-blocked.

Placement (decided when the node is lowered to block tasks, ``lower_contract``): output block
(..., i, j) is the sum of its block products. A product runs, by default, where the largest of
its blocks (left, right or output) lives, the output's device on ties: square matmuls keep the
output in place and receive each operand block once per device (as SUMMA does); tall-skinny
products such as ``X.T @ X`` keep the big operand in place and move small partials. The
products of one output block with the same default device are grouped into tasks of up to
``reduction_fanin`` (fewer when there are fewer output blocks than worker slots, so every slot
gets a share), the placement optimizer may move a task off its default device when that lowers
its objective (``placement="cyclic"`` never does), and the partial sums are added in a tree
that merges each device's partials first, so that one partial per device moves.
"""

from __future__ import annotations

import numpy as np

from nums.array.grid import ArrayGrid
from nums.ir.contraction import Contract
from nums.ir.elementwise import Transpose
from nums.ir.movement import rechunk
from nums.ir.nodes import Node

__all__ = ["matmul", "tensordot"]


def _align(node: Node, axis: int, chunks: tuple[int, ...]) -> Node:
    if node.grid.chunks[axis] == chunks:
        return node
    want = list(node.grid.chunks)
    want[axis] = chunks
    source = node.source if isinstance(node, Transpose) else None
    if source is not None and node.leaf is None:  # inputs read first: see transpose_node
        source_want = list(source.grid.chunks)
        source_want[node.perm[axis]] = chunks
        return Transpose(rechunk(source, tuple(source_want)), node.perm)
    return rechunk(node, tuple(want))


def _result_dtype(a: Node, b: Node) -> np.dtype:
    return np.matmul(np.ones((1, 1), a.dtype), np.ones((1, 1), b.dtype)).dtype


def matmul(a: Node, b: Node) -> Node:
    """``a @ b`` with NumPy's rules for 1-D operands and broadcast batch axes."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: Input operand does not have enough dimensions")
    if a.ndim == 1 or b.ndim == 1:
        # A vector operand: matmul is the tensordot of a's last axis with b's core axis;
        # no reshape of the operands or of the result (which would be extra tasks).
        k, k2 = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k != k2:
            raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension "
                             f"0, with gufunc signature (n?,k),(k,m?)->(n?,m?) (size {k2} is "
                             f"different from {k})")
        a_axis, b_axis = a.ndim - 1, 0 if b.ndim == 1 else b.ndim - 2
        chunks = tuple(a.grid.chunks[:-1]) + tuple(c for ax, c in enumerate(b.grid.chunks)
                                                   if ax != b_axis)
        return Contract(ArrayGrid(chunks), _result_dtype(a, b), a, b, "tensordot",
                        ((a_axis,), (b_axis,)))
    a2, b2 = a, b
    n, k = a2.shape[-2:]
    k2, m = b2.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, "
                         f"with gufunc signature (n?,k),(k,m?)->(n?,m?) (size {k2} is "
                         f"different from {k})")
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    nb = len(batch)
    batch_chunks = []
    for axis, size in enumerate(batch):
        found = None
        for op in (a2, b2):
            pad = nb - (op.ndim - 2)
            if axis >= pad and op.shape[axis - pad] == size:
                found = op.grid.chunks[axis - pad]
                break
        batch_chunks.append(found if found is not None else (size,))
    for op_index, op in enumerate((a2, b2)):
        pad = nb - (op.ndim - 2)
        for axis in range(pad, nb):
            if op.shape[axis - pad] == batch[axis] and batch[axis] != 1 and \
                    op.grid.chunks[axis - pad] != tuple(batch_chunks[axis]):
                op = _align(op, axis - pad, tuple(batch_chunks[axis]))
        if op_index == 0:
            a2 = op
        else:
            b2 = op
    chunks = tuple(batch_chunks) + (a2.grid.chunks[-2], b2.grid.chunks[-1])
    return Contract(ArrayGrid(chunks), _result_dtype(a, b), a2, b2, "matmul")


def tensordot(a: Node, b: Node, a_axes: tuple[int, ...], b_axes: tuple[int, ...]) -> Node:
    """``np.tensordot(a, b, (a_axes, b_axes))`` (axes already normalised and checked)."""
    for x, y in zip(a_axes, b_axes):
        if a.shape[x] != b.shape[y]:
            raise ValueError("shape-mismatch for sum")
    a_free = [ax for ax in range(a.ndim) if ax not in a_axes]
    b_free = [ax for ax in range(b.ndim) if ax not in b_axes]
    chunks = tuple(a.grid.chunks[ax] for ax in a_free) + tuple(b.grid.chunks[ax] for ax in b_free)
    dtype = np.tensordot(np.ones((1,) * a.ndim, a.dtype), np.ones((1,) * b.ndim, b.dtype),
                         axes=(a_axes, b_axes)).dtype
    return Contract(ArrayGrid(chunks), dtype, a, b, "tensordot", (tuple(a_axes), tuple(b_axes)))
