"""Data movement: one template (a recipe per output block) behind slicing, re-blocking,
reshaping, joining and region updates.

A Move node's plan yields ``(output block index, recipe)`` for every output block. Recipes:

- ``("ref", k, index)``: the output block *is* block ``index`` of source ``k`` (no copy);
- ``("slice", k, index, sel)``: a view/slice of one source block;
- ``("reshape", k, index, shape)``: one source block reshaped (a view when contiguous);
- ``("assemble", shape, pieces)``: a new block filled from ``(k, index, source sel, target
  slices)`` pieces;
- ``("flat", shape, pieces)``: a new block filled from ``(k, index, src start, dst start, n)``
  ranges of C-order flattened blocks (general reshape);
- ``("update", k, index, target, value)``: a copy of a source block with ``[target]`` set from
  ``("const", v)`` or ``("block", k2, index2, None)``.

Planning happens at lowering, from the grids alone; no data goes through the driver.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nums.array.grid import ArrayGrid, default_block_shape
from nums.array.indexing import Piece, axis_pieces, normalize_index
from nums.ir.blocks import K
from nums.ir.nodes import Leaf, Node

if TYPE_CHECKING:
    from nums.ir.lower import Lowering

__all__ = ["Move", "RECIPES", "lower_move", "getitem", "rechunk", "reshape", "concatenate",
           "setitem", "selection_pieces", "diagonal"]


class Move(Node):
    """Data movement (slicing, re-blocking, reshaping, joining, updating a region).

    ``plan(leaves)`` receives the materialised ``sources`` and yields, for every output block
    index, a recipe (see :mod:`nums.ir.movement`).
    """

    __slots__ = ("sources", "plan")
    moves_data = True

    def __init__(self, grid: ArrayGrid, dtype: np.dtype, sources: tuple[Node, ...],
                 plan: Callable[..., Any]) -> None:
        super().__init__(grid, dtype)
        self.sources = sources
        self.plan = plan

    def inputs(self) -> tuple[Node, ...]:
        return self.sources

    def release(self) -> None:
        self.sources = ()
        self.plan = None

    def lower(self, job: Lowering) -> Leaf:
        return lower_move(job, self)


class _MoveJob:
    """What the recipes of one Move node share: its materialised sources, their block
    bytes, the output's block-cyclic devices and bytes, and the lowering job."""

    __slots__ = ("job", "node", "leaves", "out_devices", "out_bytes", "leaf_bytes", "submit",
                 "devices")

    def __init__(self, job: Lowering, node: Move, leaves: list[Leaf]) -> None:
        self.job, self.node, self.leaves = job, node, leaves
        self.out_devices = job.placement.output_devices(node.grid.grid_shape)
        self.out_bytes = node.grid.block_nbytes(node.dtype.itemsize)
        self.leaf_bytes = [leaf.grid.block_nbytes(leaf.dtype.itemsize) for leaf in leaves]
        self.submit, self.devices = job.executor.submit, job.devices

    def place(self, out_index: tuple[int, ...], sources: list[tuple[int, Any]],
              local: bool = False) -> int:
        """The device of the op making output block ``out_index`` from ``(source, block)``
        pairs. ``local``: a slice or reshape of one block defaults to where that block lives
        (the smaller result moves later, if at all, rather than the whole block now)."""
        leaves = self.leaves
        src_devs = [int(leaves[k].devices[i]) for k, i in sources]
        default = src_devs[0] if local else int(self.out_devices[out_index])
        return self.job.place(src_devs, [float(self.leaf_bytes[k][i]) for k, i in sources],
                              float(self.out_bytes[out_index]), default, sources)

    def ref(self, k: int, index: tuple[int, ...]) -> Any:
        return self.leaves[k].refs[index]


RecipeLowering = Callable[[_MoveJob, tuple[int, ...], tuple[Any, ...]], tuple[Any, int]]
#: How each recipe kind lowers: ``(move job, output block index, recipe) -> (ref, device)``.
#: A new kind of data movement adds its planner above and its entry here.
RECIPES: dict[str, RecipeLowering] = {}


def _recipe(kind: str) -> Callable[[RecipeLowering], RecipeLowering]:
    def register(fn: RecipeLowering) -> RecipeLowering:
        RECIPES[kind] = fn
        return fn
    return register


@_recipe("ref")
def _lower_ref(m: _MoveJob, out_index: tuple[int, ...], recipe: tuple[Any, ...]):
    _, k, index = recipe
    return m.ref(k, index), int(m.leaves[k].devices[index])


@_recipe("slice")
def _lower_slice(m: _MoveJob, out_index: tuple[int, ...], recipe: tuple[Any, ...]):
    _, k, index, sel = recipe
    d = m.place(out_index, [(k, index)], local=True)
    return m.submit(K.take_slice, (sel, m.ref(k, index)), m.devices[d]), d


@_recipe("reshape")
def _lower_reshape(m: _MoveJob, out_index: tuple[int, ...], recipe: tuple[Any, ...]):
    _, k, index, shape = recipe
    d = m.place(out_index, [(k, index)], local=True)
    return m.submit(K.reshape_block, (shape, m.ref(k, index)), m.devices[d]), d


def _lower_pieces(m: _MoveJob, out_index: tuple[int, ...], recipe: tuple[Any, ...]):
    kind, shape, pieces = recipe
    args: list[Any] = []
    seen: dict[tuple[int, tuple[int, ...]], int] = {}
    encoded = []
    for k, index, *rest in pieces:
        pos = seen.get((k, index))
        if pos is None:
            pos = seen[(k, index)] = len(args)
            args.append(m.ref(k, index))
        encoded.append((pos, *rest))
    d = m.place(out_index, list(seen))
    kern = K.assemble if kind == "assemble" else K.flat_assemble
    return m.submit(kern, (shape, m.node.dtype, tuple(encoded), *args), m.devices[d]), d


RECIPES["assemble"] = RECIPES["flat"] = _lower_pieces


@_recipe("update")
def _lower_update(m: _MoveJob, out_index: tuple[int, ...], recipe: tuple[Any, ...]):
    _, k, index, target, value = recipe
    if value[0] == "const":
        val, source = value[1], None
        d = m.place(out_index, [(k, index)])
    else:
        _, vk, vindex, source = value
        val = m.ref(vk, vindex)
        d = m.place(out_index, [(k, index), (vk, vindex)])
    return m.submit(K.update_region, (target, source, m.ref(k, index), val), m.devices[d]), d


def lower_move(job: Lowering, node: Move) -> Leaf:
    """One op per output block, as its recipe says (:data:`RECIPES`)."""
    m = _MoveJob(job, node, [job.ensure(s) for s in node.sources])
    refs, devs = [], []
    for out_index, recipe in node.plan(m.leaves):
        ref, d = RECIPES[recipe[0]](m, out_index, recipe)
        refs.append(ref)
        devs.append(d)
    return job.new_leaf(node, refs, devs)


def _group_pieces(pieces: list[Piece], limit: int) -> list[list[Piece]]:
    """Group consecutive pieces into output blocks of at most ``limit`` (one piece at least)."""
    groups: list[list[Piece]] = []
    size = 0
    for p in pieces:
        if groups and size + p.length <= limit and p.length > 0:
            groups[-1].append(p)
            size += p.length
        else:
            groups.append([p])
            size = p.length
    return groups


def selection_pieces(src: Node, index: Any) -> tuple[list, list[list[Piece]], tuple[int, ...]]:
    """Normalise ``index`` on ``src`` and cut every selected axis into per-block pieces."""
    selections, out_shape = normalize_index(index, src.shape)
    per_axis = [axis_pieces(sel, src.grid) for sel in selections]
    return selections, per_axis, out_shape


def _piece_layout(selections, per_axis, grouped):
    """Output chunks, and for each output axis its groups of pieces."""
    out_axes = [i for i, sel in enumerate(selections) if sel.kind != "int"]
    groups = [grouped[i] for i in out_axes]
    chunks = tuple(tuple(sum(p.length for p in g) for g in axis_groups)
                   for axis_groups in groups)
    return out_axes, groups, chunks


def getitem(src: Node, index: Any) -> Node:
    """``src[index]`` for a basic index; block-aligned selections reuse blocks."""
    selections, per_axis, out_shape = selection_pieces(src, index)
    grouped = []
    for sel, pieces in zip(selections, per_axis):
        limit = max(src.grid.chunks[sel.axis]) if sel.kind == "slice" else 1
        grouped.append(_group_pieces(pieces, max(limit, 1)) if sel.kind != "int"
                       else [pieces])
    out_axes, groups, chunks = _piece_layout(selections, per_axis, grouped)
    grid = ArrayGrid(chunks)
    src_grid = src.grid
    int_sel = [(sel.axis, per_axis[i][0]) for i, sel in enumerate(selections)
               if sel.kind == "int"]

    def plan(leaves):
        for out_index in itertools.product(*(range(len(g)) for g in groups)):
            chosen = [groups[a][j] for a, j in enumerate(out_index)]
            combos = list(itertools.product(*chosen))
            pieces = []
            for combo in combos:
                block = [0] * src_grid.ndim
                sel_index: list[Any] = []
                target = []
                by_out = dict(zip(out_axes, combo))
                for i, sel in enumerate(selections):
                    if sel.kind == "int":
                        p = per_axis[i][0]
                    else:
                        p = by_out[i]
                        group = groups[out_axes.index(i)][out_index[out_axes.index(i)]]
                        start = p.out_start - group[0].out_start
                        target.append(slice(start, start + p.length))
                    if sel.kind != "new":
                        block[sel.axis] = p.block
                    sel_index.append(p.local)
                pieces.append((tuple(block), tuple(sel_index), tuple(target)))
            if len(pieces) == 1:
                block, sel_index, _ = pieces[0]
                shape = src_grid.block_shape_at(block)
                whole = all(isinstance(s, slice) and s.indices(n) == (0, n, 1)
                            for s, n in zip((s for s in sel_index if s is not None), shape)) \
                    and not int_sel and None not in sel_index
                if whole:
                    yield out_index, ("ref", 0, block)
                else:
                    yield out_index, ("slice", 0, block, sel_index)
            else:
                shape = grid.block_shape_at(out_index)
                yield out_index, ("assemble", shape,
                                  [(0, b, s, t) for b, s, t in pieces])

    del out_shape
    return Move(grid, src.dtype, (src,), plan)


def _overlaps(src_offsets: Sequence[int], lo: int, hi: int) -> list[tuple[int, slice, slice]]:
    """Source blocks overlapping [lo, hi): (block, slice in source block, slice in target)."""
    out = []
    b = bisect.bisect_right(src_offsets, lo) - 1
    while b < len(src_offsets) - 1 and src_offsets[b] < hi:
        s0, s1 = max(lo, src_offsets[b]), min(hi, src_offsets[b + 1])
        if s1 > s0 or hi == lo:
            out.append((b, slice(s0 - src_offsets[b], s1 - src_offsets[b]),
                        slice(s0 - lo, s1 - lo)))
        if hi == lo:
            break
        b += 1
    return out


def rechunk(src: Node, chunks: tuple[tuple[int, ...], ...]) -> Node:
    """``src`` on new block boundaries ``chunks`` (same shape)."""
    if src.grid.chunks == chunks:
        return src
    grid = ArrayGrid(chunks)
    src_grid = src.grid

    def plan(leaves):
        per_axis_lists = [
            [_overlaps(src_grid.offsets[a], grid.offsets[a][j], grid.offsets[a][j + 1])
             for j in range(grid.grid_shape[a])]
            for a in range(grid.ndim)
        ]
        for out_index in grid.indices():
            lists = [per_axis_lists[a][j] for a, j in enumerate(out_index)]
            combos = list(itertools.product(*lists))
            if len(combos) == 1:
                block = tuple(c[0] for c in combos[0])
                src_sel = tuple(c[1] for c in combos[0])
                if src_grid.block_shape_at(block) == grid.block_shape_at(out_index):
                    yield out_index, ("ref", 0, block)
                else:
                    yield out_index, ("slice", 0, block, src_sel)
            else:
                yield out_index, ("assemble", grid.block_shape_at(out_index),
                                  [(0, tuple(c[0] for c in combo), tuple(c[1] for c in combo),
                                    tuple(c[2] for c in combo)) for combo in combos])

    return Move(grid, src.dtype, (src,), plan)


def _is_contiguous_grid(grid: ArrayGrid) -> bool:
    """Whether every block covers one contiguous range of the array in C order."""
    split = None
    for a, (chunks, n) in enumerate(zip(grid.chunks, grid.shape)):
        if len(chunks) > 1 or (chunks and chunks[0] != n):
            split = a
            break
    if split is None:
        return True
    return all(len(c) == 1 for c in grid.chunks[split + 1:]) and \
        all(max(c) == 1 for c in grid.chunks[:split])


def _contiguous_chunks(shape: tuple[int, ...], itemsize: int, target_bytes: int):
    block = default_block_shape(shape, itemsize, target_bytes)
    return ArrayGrid.regular(shape, block).chunks


def reshape(src: Node, shape: tuple[int, ...], target_bytes: int) -> Node:
    """``src.reshape(shape)`` (C order). Moves only what crosses block boundaries."""
    if shape == src.shape:
        return src
    squeezed_src = [n for n in src.shape if n != 1]
    squeezed_dst = [n for n in shape if n != 1]
    if squeezed_src == squeezed_dst:
        return _unit_reshape(src, shape)
    itemsize = src.dtype.itemsize
    block_bytes = max(math.prod(src.grid.block_shape), 1) * itemsize
    target = max(min(target_bytes, block_bytes), itemsize)
    if not _is_contiguous_grid(src.grid):
        src = rechunk(src, _contiguous_chunks(src.shape, itemsize, target))
    grid = ArrayGrid(_contiguous_chunks(shape, itemsize, target))
    src_grid = src.grid

    def flat_ranges(g: ArrayGrid) -> list[tuple[tuple[int, ...], int, int]]:
        strides = [math.prod(g.shape[a + 1:]) for a in range(g.ndim)]
        out = []
        for index in g.indices():
            start = sum(o * s for o, s in zip(g.block_offset(index), strides))
            out.append((index, start, start + math.prod(g.block_shape_at(index))))
        return out

    def plan(leaves):
        sources = flat_ranges(src_grid)
        starts = [s for _, s, _ in sources]
        for out_index, lo, hi in flat_ranges(grid):
            shape_here = grid.block_shape_at(out_index)
            b = max(bisect.bisect_right(starts, lo) - 1, 0)
            pieces = []
            while b < len(sources) and sources[b][1] < hi:
                index, s0, s1 = sources[b]
                a0, a1 = max(lo, s0), min(hi, s1)
                if a1 > a0:
                    pieces.append((0, index, a0 - s0, a0 - lo, a1 - a0))
                b += 1
            if len(pieces) == 1 and pieces[0][2] == 0 and pieces[0][4] == \
                    math.prod(src_grid.block_shape_at(pieces[0][1])):
                yield out_index, ("reshape", 0, pieces[0][1], shape_here)
            else:
                yield out_index, ("flat", shape_here, pieces)

    return Move(grid, src.dtype, (src,), plan)


def _unit_reshape(src: Node, shape: tuple[int, ...]) -> Node:
    """Reshape that only inserts or removes length-1 axes: block by block, as views."""
    src_axes = [a for a, n in enumerate(src.shape) if n != 1]
    dst_axes = [a for a, n in enumerate(shape) if n != 1]
    chunks = [(1,)] * len(shape)
    for s, d in zip(src_axes, dst_axes):
        chunks[d] = src.grid.chunks[s]
    grid = ArrayGrid(tuple(chunks))
    src_grid = src.grid

    def plan(leaves):
        for out_index in grid.indices():
            block = [0] * src_grid.ndim
            for s, d in zip(src_axes, dst_axes):
                block[s] = out_index[d]
            yield out_index, ("reshape", 0, tuple(block), grid.block_shape_at(out_index))

    return Move(grid, src.dtype, (src,), plan)


def concatenate(sources: Sequence[Node], axis: int) -> Node:
    """Join nodes (same dtype, same chunks off ``axis``) along ``axis``; blocks are reused."""
    chunks = list(sources[0].grid.chunks)
    along: list[int] = []
    owners: list[tuple[int, int]] = []
    for k, s in enumerate(sources):
        for j, c in enumerate(s.grid.chunks[axis]):
            if c > 0 or s.shape[axis] == 0:
                along.append(c)
                owners.append((k, j))
    if not along or sum(along) == 0:
        along, owners = [0], [(0, 0)]
    chunks[axis] = tuple(along)
    grid = ArrayGrid(tuple(chunks))

    def plan(leaves):
        for out_index in grid.indices():
            k, j = owners[out_index[axis]]
            index = out_index[:axis] + (j,) + out_index[axis + 1:]
            yield out_index, ("ref", k, index)

    return Move(grid, sources[0].dtype, tuple(sources), plan)


def setitem(src: Node, index: Any, value: Any,
            value_node_for: Any) -> Node:
    """``src`` with ``src[index] = value``; blocks the index does not touch are reused.

    ``value`` is a scalar, or ``value_node_for(shape, chunks)`` returns the value broadcast to
    the selection's shape on the selection's natural blocks (one per touched source block).
    """
    selections, per_axis, out_shape = selection_pieces(src, index)
    out_axes = [i for i, sel in enumerate(selections) if sel.kind != "int"]
    sel_chunks = tuple(tuple(p.length for p in per_axis[i]) for i in out_axes)
    sources: tuple[Node, ...] = (src,)
    if value_node_for is not None:
        sources = (src, value_node_for(out_shape, sel_chunks))
    src_grid = src.grid
    # For every input axis: {block index -> (local index, position among the axis' pieces)}
    by_block: list[tuple[int, dict[int, tuple[Any, int]]]] = []
    for i, sel in enumerate(selections):
        if sel.kind == "new":
            continue
        by_block.append((i, {p.block: (p.local, j) for j, p in enumerate(per_axis[i])
                             if p.length > 0}))
    empty = any(n == 0 for n in out_shape)
    by_block_map = dict(by_block)

    def plan(leaves):
        for block in src_grid.indices():
            hit = not empty and all(block[selections[i].axis] in found for i, found in by_block)
            if not hit:
                yield block, ("ref", 0, block)
                continue
            target: list[Any] = []
            value_index: list[int] = []
            for i, sel in enumerate(selections):
                if sel.kind == "new":
                    target.append(None)
                    value_index.append(0)
                    continue
                local, j = by_block_map[i][block[sel.axis]]
                target.append(local)
                if sel.kind == "slice":
                    value_index.append(j)
            if value_node_for is None:
                val = ("const", value)
            else:
                val = ("block", 1, tuple(value_index), None)
            yield block, ("update", 0, block, tuple(target), val)

    return Move(src.grid, src.dtype, sources, plan)


def diagonal(src: Node, k: int) -> Node:
    """Diagonal ``k`` of a 2-D node: one output block per source block the diagonal crosses."""
    grid = src.grid
    rows, cols = grid.offsets
    pieces = []
    for bi in range(grid.grid_shape[0]):
        for bj in range(grid.grid_shape[1]):
            i0 = max(rows[bi], cols[bj] - k)
            i1 = min(rows[bi + 1], cols[bj + 1] - k)
            if i1 > i0:
                pieces.append((i0, i1, bi, bj))
    pieces.sort()
    if not pieces:
        out_grid = ArrayGrid(((0,),))

        def plan_empty(leaves):
            yield (0,), ("assemble", (0,), [])

        return Move(out_grid, src.dtype, (src,), plan_empty)
    out_grid = ArrayGrid((tuple(i1 - i0 for i0, i1, _, _ in pieces),))

    def plan(leaves):
        for j, (i0, i1, bi, bj) in enumerate(pieces):
            sel = (np.arange(i0 - rows[bi], i1 - rows[bi]),
                   np.arange(i0 + k - cols[bj], i1 + k - cols[bj]))
            yield (j,), ("slice", 0, (bi, bj), sel)

    return Move(out_grid, src.dtype, (src,), plan)
