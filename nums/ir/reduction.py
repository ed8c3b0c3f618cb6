"""The reduction family: :class:`Reduce` (sum, mean, var, argmin, ... over some axes),
lowered to one partial task per worker slot and output block, then a merge tree whose root
finishes the output block (see :mod:`nums.kernels.reduce` for the partials)."""

from __future__ import annotations

import collections
import math
from typing import TYPE_CHECKING

import numpy as np

from nums.array.grid import ArrayGrid
from nums.ir import fusion
from nums.ir.blocks import K, broadcast_numbers, input_columns, split_runs
from nums.ir.elementwise import Map, Transpose
from nums.ir.nodes import Leaf, Node
from nums.kernels.reduce import ReduceSpec

if TYPE_CHECKING:
    from nums.ir.lower import Lowering

__all__ = ["Reduce", "lower_reduce"]


class Reduce(Node):
    """A tree reduction (sum, mean, var, argmin, ...) over ``axes`` of ``source``."""

    __slots__ = ("source", "name", "axes", "keepdims", "acc_dtype", "ddof")
    moves_data = True

    def __init__(self, grid: ArrayGrid, dtype: np.dtype, source: Node, name: str,
                 axes: tuple[int, ...], keepdims: bool, acc_dtype: np.dtype | None,
                 ddof: int = 0) -> None:
        super().__init__(grid, dtype)
        self.source = source
        self.name = name
        self.axes = axes
        self.keepdims = keepdims
        self.acc_dtype = acc_dtype
        self.ddof = ddof

    def inputs(self) -> tuple[Node, ...]:
        return (self.source,)

    def release(self) -> None:
        self.source = None

    def lower(self, job: Lowering) -> Leaf:
        return lower_reduce(job, self)


def _partial_nbytes(node: Reduce):
    """Bytes of one partial of ``node`` for an input block of a given shape."""
    parts = {"mean": 2, "nanmean": 2, "var": 3, "std": 3, "nanvar": 3, "nanstd": 3,
             "argmin": 2, "argmax": 2}.get(node.name, 1)
    itemsize = max(node.acc_dtype.itemsize if node.acc_dtype is not None else 0,
                   node.dtype.itemsize, 8)
    axes = node.axes

    def nbytes(shape: tuple[int, ...]) -> float:
        return float(parts * itemsize * math.prod(1 if a in axes else n
                                                  for a, n in enumerate(shape)))

    return nbytes


def lower_reduce(job: Lowering, node: Reduce) -> Leaf:
    """Each worker slot reduces the blocks of one output block that its device holds in
    one task (evaluating a fused elementwise source tile by tile), then a merge tree
    whose root finishes the output block."""
    source = node.source
    src_grid = source.grid
    axes = node.axes
    spec = ReduceSpec(node.name, axes, node.dtype, node.acc_dtype, node.ddof,
                      node.keepdims, source.shape)
    if isinstance(source, (Map, Transpose)) and source.leaf is None:
        program, inputs = fusion.build_program(source, job.ensure, job.settings.tile_elements)
    else:  # reduce the blocks as they are: no program, no copy
        program, inputs = None, [(job.ensure(source), None)]
    src_shape = src_grid.grid_shape
    columns, in_devs, in_sizes = input_columns(inputs, source.ndim, src_shape)
    in_devs = [c.tolist() for c in in_devs]
    in_sizes = [c.tolist() for c in in_sizes]
    # receive-cache keys of broadcast inputs (a task may read one block several times)
    in_keys = [[None] * src_grid.num_blocks if numbers is None else
               [(id(leaf), n) for n in numbers.tolist()]
               for numbers, (leaf, _) in zip(
                   broadcast_numbers(inputs, source.ndim, src_shape), inputs)]
    width = len(columns)
    submit, devices, place, slots = (job.executor.submit, job.devices, job.place,
                                     job.session.slots)
    part_bytes = _partial_nbytes(node)
    out_devices = job.placement.output_devices(node.grid.grid_shape)
    out_sizes = node.grid.block_nbytes(node.dtype.itemsize)
    # blocks of each output block, by the device that holds their largest input
    groups: dict[tuple[int, ...], dict[int, list[int]]] = {}
    block_places = []  # (offset, shape) of every source block
    for i, index in enumerate(src_grid.indices()):
        key = tuple(0 if a in axes else j for a, j in enumerate(index))
        home = max(zip((c[i] for c in in_sizes), (c[i] for c in in_devs)),
                   key=lambda size_dev: size_dev[0])[1] if in_devs else 0
        groups.setdefault(key, {}).setdefault(home, []).append(i)
        block_places.append((src_grid.block_offset(index), src_grid.block_shape_at(index)))
    keys_on = collections.Counter(home for by_home in groups.values() for home in by_home)
    cyclic = job.placement.follows_layout()
    refs, devs = [], []
    for key, by_home in groups.items():
        out_key = key if node.keepdims else tuple(j for a, j in enumerate(key)
                                                  if a not in axes)
        target = int(out_devices[out_key]) if out_key else int(out_devices.flat[0])
        out_size = float(out_sizes[out_key]) if out_key else float(out_sizes.flat[0])
        # a device's worker slots share its output blocks: one task per slot in all
        chunks = [(home, part) for home, blocks in by_home.items()
                  for part in split_runs(blocks, max(1, slots[home] // keys_on[home]))]
        partials = []
        finished = False  # whether the only task of this output block finished it
        for home, part in chunks:
            size = part_bytes(block_places[part[0]][1])
            d = place([c[i] for i in part for c in in_devs],
                      [c[i] for i in part for c in in_sizes], size, home,
                      [c[i] for i in part for c in in_keys])
            # the only task of its output block finishes it, unless the block-cyclic
            # layout wants the output on another device
            finished = len(chunks) == 1 and (d == target or not cyclic)
            ref = submit(K.fused_reduce,
                         (program, spec, tuple(block_places[i] for i in part), finished,
                          width, *[c[i] for i in part for c in columns]), devices[d],
                         nbytes=out_size if finished else size)
            partials.append((ref, d, size))
        if finished:
            ref, d = partials[0][:2]
        elif len(chunks) == 1:
            ref, src, size = partials[0]
            d = place([src], [size], out_size, target)
            ref = submit(K.reduce_finalize, (spec, ref), devices[d], nbytes=out_size)
        else:
            ref, d, _ = job.merge_tree(partials, K.reduce_merge, (spec, False),
                                        (K.reduce_merge, (spec, True), out_size, target))
        refs.append(ref)
        devs.append(d)
    return job.new_leaf(node, refs, devs)
