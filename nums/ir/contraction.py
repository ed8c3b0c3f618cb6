"""The contraction family: :class:`Contract` (``matmul`` with batch axes, ``tensordot``),
lowered to products over the contracted axes' segments, grouped into tasks, then a sum
tree per output block."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nums.array.grid import ArrayGrid
from nums.ir import fusion
from nums.ir.blocks import K, aligned, input_columns, selection
from nums.ir.elementwise import Map, Transpose
from nums.ir.nodes import Leaf, Node

if TYPE_CHECKING:
    from nums.ir.lower import Lowering

__all__ = ["Contract", "lower_contract"]


class Contract(Node):
    """Sum of block products: ``op`` is "matmul" (with batch axes) or "tensordot".

    For "tensordot", ``axes`` is ``(a_axes, b_axes)``; the output axes are a's free axes
    followed by b's. For "matmul" both operands have at least two dimensions.
    """

    __slots__ = ("a", "b", "op", "axes")
    moves_data = True

    def __init__(self, grid: ArrayGrid, dtype: np.dtype, a: Node, b: Node, op: str,
                 axes: tuple[tuple[int, ...], tuple[int, ...]] | None = None) -> None:
        super().__init__(grid, dtype)
        self.a = a
        self.b = b
        self.op = op
        self.axes = axes

    def inputs(self) -> tuple[Node, ...]:
        return (self.a, self.b)

    def release(self) -> None:
        self.a = self.b = None

    def lower(self, job: Lowering) -> Leaf:
        return lower_contract(job, self)


def _segments(a_chunks: Sequence[int], b_chunks: Sequence[int]
              ) -> list[tuple[int, slice | None, int, slice | None]]:
    """Split one contracted axis at both operands' block boundaries.

    Returns ``(a block, slice in it, b block, slice in it)`` per segment; a slice is None
    when the segment is the whole block.
    """
    a_off = list(itertools.accumulate(a_chunks, initial=0))
    b_off = list(itertools.accumulate(b_chunks, initial=0))
    cuts = sorted(set(a_off) | set(b_off))
    out = []
    ia = ib = 0
    for lo, hi in zip(cuts, cuts[1:]):
        while a_off[ia + 1] <= lo:
            ia += 1
        while b_off[ib + 1] <= lo:
            ib += 1
        sa = None if (a_off[ia], a_off[ia + 1]) == (lo, hi) else \
            slice(lo - a_off[ia], hi - a_off[ia])
        sb = None if (b_off[ib], b_off[ib + 1]) == (lo, hi) else \
            slice(lo - b_off[ib], hi - b_off[ib])
        out.append((ia, sa, ib, sb))
    if not out:  # a contracted axis of length 0
        out.append((0, None, 0, None))
    return out


def lower_contract(job: Lowering, node: Contract) -> Leaf:
    """Per output block: products over the contracted axes' *segments* (the union of both
    operands' block boundaries, so blocks are sliced, never re-blocked), grouped into tasks
    of up to ``reduction_fanin`` products, then a sum tree."""
    a_grid, b_grid = node.a.grid.grid_shape, node.b.grid.grid_shape
    a_chunks, b_chunks = node.a.grid.chunks, node.b.grid.chunks
    grid_shape = node.grid.grid_shape
    out_nbytes = node.grid.block_nbytes(node.dtype.itemsize)
    fanin = max(2, job.settings.reduction_fanin)
    submit, devices = job.executor.submit, job.devices
    if node.op == "tensordot":
        a_axes, b_axes = node.axes
        a_free = [a for a in range(len(a_grid)) if a not in a_axes]
        b_free = [b for b in range(len(b_grid)) if b not in b_axes]
    else:
        a_axes, b_axes = (len(a_grid) - 1,), (len(b_grid) - 2,)
        nb = len(grid_shape) - 2
    n_out = math.prod(grid_shape)
    seg_lists = [_segments(a_chunks[i], b_chunks[j]) for i, j in zip(a_axes, b_axes)]
    # An elementwise operand is evaluated inside the product tasks when each of its
    # blocks is read once: by one output block, whole (not cut into segments by the
    # other operand's blocks). Otherwise it would be recomputed per reader.
    a = _Operand(job, node.a, n_out == math.prod(
        g for ax, g in enumerate(a_grid) if ax not in a_axes) and all(
        len(segs) == a_grid[ax] for segs, ax in zip(seg_lists, a_axes)))
    b = _Operand(job, node.b, n_out == math.prod(
        g for ax, g in enumerate(b_grid) if ax not in b_axes) and all(
        len(segs) == b_grid[ax] for segs, ax in zip(seg_lists, b_axes)))
    fused = (a.program, a.width, b.program, b.width)
    a_bytes = node.a.grid.block_nbytes(node.a.dtype.itemsize)
    b_bytes = node.b.grid.block_nbytes(node.b.dtype.itemsize)
    n_pairs = math.prod(len(s) for s in seg_lists)
    spread = max(1, -(-sum(job.session.slots) // n_out))  # groups per output block
    per_group = max(1, min(fanin, -(-n_pairs // spread)))
    out_devices = job.placement.output_devices(grid_shape)
    refs, devs = [], []
    for out_index in itertools.product(*(range(g) for g in grid_shape)):
        if node.op == "tensordot":
            a_base = [0] * len(a_grid)
            b_base = [0] * len(b_grid)
            for pos, ax in enumerate(a_free):
                a_base[ax] = out_index[pos]
            for pos, ax in enumerate(b_free):
                b_base[ax] = out_index[len(a_free) + pos]
        else:
            batch = out_index[:nb]
            a_base = [j if g > 1 else 0 for j, g in
                      zip(batch[nb - (len(a_grid) - 2):], a_grid[:-2])]
            b_base = [j if g > 1 else 0 for j, g in
                      zip(batch[nb - (len(b_grid) - 2):], b_grid[:-2])]
            a_base += [out_index[-2], 0]
            b_base += [0, out_index[-1]]
        pairs = []
        for segs in itertools.product(*seg_lists):
            ai, bi = list(a_base), list(b_base)
            a_sel: list[Any] = [slice(None)] * len(a_grid)
            b_sel: list[Any] = [slice(None)] * len(b_grid)
            for (ja, sa, jb, sb), i, j in zip(segs, a_axes, b_axes):
                ai[i], a_sel[i] = ja, sa
                bi[j], b_sel[j] = jb, sb
            pairs.append((tuple(ai), tuple(bi), selection(a_sel), selection(b_sel)))
        out_size = float(out_nbytes[out_index])
        out_dev = int(out_devices[out_index])
        # A product runs, by default, where the largest of its blocks (left, right or
        # output) lives, the output's device on ties: square matmuls keep the output in
        # place and receive each operand block once per device (as SUMMA does);
        # tall-skinny products keep the big operand in place and move small partials.
        by_home: dict[int, list[Any]] = {}
        for pair in pairs:
            a_size, b_size = a_bytes[pair[0]], b_bytes[pair[1]]
            if out_size >= a_size and out_size >= b_size:
                home = out_dev
            elif a_size >= b_size:
                home = a.home(pair[0])
            else:
                home = b.home(pair[1])
            by_home.setdefault(home, []).append(pair)
        groups = []
        for home, same in by_home.items():
            for chunk in (same[s:s + per_group] for s in range(0, len(same), per_group)):
                args: list[Any] = []
                src_devs: list[int] = []
                src_sizes: list[float] = []
                keys: list[Any] = []
                sels = []
                for ai, bi, sa, sb in chunk:
                    for side, index in ((a, ai), (b, bi)):
                        k = side.flat(index)
                        args += side.refs[k]
                        src_devs += side.devices[k]
                        src_sizes += side.sizes[k]
                        keys += side.keys[k]
                    sels.append((sa, sb, a.block_shape(ai), b.block_shape(bi)))
                d = job.place(src_devs, src_sizes, out_size, home, keys)
                groups.append((submit(K.contract_sum, (node.op, node.axes, a.perm, b.perm,
                                                       node.dtype, tuple(sels), fused,
                                                       *args),
                                      devices[d], nbytes=out_size), d, out_size))
        ref, d, _ = job.merge_tree(groups, K.add_blocks, ())
        refs.append(ref)
        devs.append(d)
    return job.new_leaf(node, refs, devs)



class _Operand:
    """One side of a contraction, per block of its grid: the refs a product task reads for
    it, their devices, bytes and receive-cache keys.

    A materialised array (or a transposed view of one: ``perm``) gives its own block. An
    unmaterialised elementwise node, when ``fuse`` allows, gives the inputs of its
    ``program``, which the product task evaluates into a scratch buffer: no temporary array
    is made and only the inputs' blocks count for placement.
    """

    def __init__(self, lowering: Lowering, node: Node, fuse: bool) -> None:
        self.program = None
        self.perm = None
        self.grid = node.grid
        if fuse and type(node) is Map and node.leaf is None:
            self.program, inputs = fusion.build_program(node, lowering.ensure,
                                                 lowering.settings.tile_elements)
        elif isinstance(node, Transpose) and node.leaf is None:
            self.perm = node.perm
            inputs = [(lowering.ensure(node.source), node.perm)]
        else:
            inputs = [(lowering.ensure(node), None)]
        grid_shape, ndim = node.grid.grid_shape, node.ndim
        columns, devs, sizes = input_columns(inputs, ndim, grid_shape)
        numbers = [aligned(leaf, perm, ndim, grid_shape, "number").tolist()
                   for leaf, perm in inputs]
        self.width = len(inputs)
        self.refs = list(zip(*columns))
        self.devices = list(zip(*[c.tolist() for c in devs]))
        self.sizes = list(zip(*[c.tolist() for c in sizes]))
        self.keys = list(zip(*[[(id(leaf), n) for n in column]
                               for (leaf, _), column in zip(inputs, numbers)]))
        self._strides = [math.prod(grid_shape[i + 1:]) for i in range(len(grid_shape))]

    def flat(self, index: tuple[int, ...]) -> int:
        """Position of block ``index`` in the per-block lists."""
        return sum(i * s for i, s in zip(index, self._strides))

    def home(self, index: tuple[int, ...]) -> int:
        """The device holding the largest input of block ``index``."""
        k = self.flat(index)
        sizes = self.sizes[k]
        return self.devices[k][sizes.index(max(sizes))]

    def block_shape(self, index: tuple[int, ...]) -> tuple[int, ...] | None:
        """The block's shape when a program makes it (the kernel needs it), else None."""
        return None if self.program is None else self.grid.block_shape_at(index)
