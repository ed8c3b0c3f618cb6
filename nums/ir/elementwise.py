"""The elementwise family: :class:`Map` (one operation per element) and :class:`Transpose`
(a permuted view), lowered to one fused kernel call per output block.

Chains of unmaterialised Maps fuse into one :class:`~nums.kernels.fused.Program` (see
:mod:`nums.ir.fusion`) that each task evaluates tile by tile over its block.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from nums.array.grid import ArrayGrid
from nums.ir import fusion
from nums.ir.blocks import K, broadcast_numbers, input_columns
from nums.ir.nodes import Leaf, Node

if TYPE_CHECKING:
    from nums.ir.lower import Lowering

__all__ = ["Map", "Transpose"]


class Map(Node):
    """An elementwise operation; chains of Maps fuse into one kernel per block.

    ``args`` holds nodes (aligned with this node's grid by right-aligned broadcasting, on the
    same block boundaries) and scalars. ``depth`` is the length of the longest Map chain below.
    """

    __slots__ = ("op", "args", "depth")
    fusable = True

    def __init__(self, grid: ArrayGrid, dtype: np.dtype, op: Any, args: tuple[Any, ...]) -> None:
        super().__init__(grid, dtype)
        self.op = op
        self.args = args
        depth = 0
        for a in args:
            if type(a) is Map and a.depth > depth:
                depth = a.depth
        self.depth = depth + 1

    def inputs(self) -> tuple[Node, ...]:
        return tuple(a for a in self.args if isinstance(a, Node))

    def release(self) -> None:
        self.args = ()

    def lower(self, job: Lowering) -> Leaf:
        """One fused kernel call per output block, where its aligned inputs live."""
        node = self
        program, inputs = fusion.build_program(node, job.ensure, job.settings.tile_elements)
        grid_shape = node.grid.grid_shape
        if node.grid.num_blocks == 1:  # one output block: every input has one block too
            in_devs = [int(leaf.devices.flat[0]) for leaf, _ in inputs]
            in_sizes = [float(leaf.grid.size * leaf.dtype.itemsize) for leaf, _ in inputs]
            # default 0: block (0, ..., 0) is on device 0 in the block-cyclic layout
            out_size = float(node.grid.size * node.dtype.itemsize)
            d = job.place(in_devs, in_sizes, out_size, 0)
            ref = job.executor.submit(K.fused_map, (program, node.shape,
                                                     *[leaf.refs.flat[0] for leaf, _ in inputs]),
                                       job.devices[d], nbytes=out_size)
            return job.new_leaf(node, [ref], [d])
        columns, in_devs, in_sizes = input_columns(inputs, node.ndim, grid_shape)
        out_sizes = node.grid.block_nbytes(node.dtype.itemsize).ravel()
        devs = job.placement.place_blocks(
            in_devs, in_sizes, out_sizes, job.placement.output_devices(grid_shape).ravel(),
            broadcast_numbers(inputs, node.ndim, grid_shape))
        submit, devices, fused = job.executor.submit, job.devices, K.fused_map
        refs = [submit(fused, (program, shape, *blocks), devices[d], nbytes=size)
                for shape, d, size, blocks in zip(
                    node.grid.block_shape_list(), devs, out_sizes.tolist(),
                    zip(*columns) if columns else itertools.repeat(()))]
        return job.new_leaf(node, refs, devs)


class Transpose(Node):
    """A view of a non-Map node with its axes permuted by ``perm`` (Maps push views down to
    their inputs). A None entry of ``perm`` inserts a length-1 axis (``x[:, None]``), so
    broadcasting a vector against a matrix reads its blocks where they are."""

    __slots__ = ("source", "perm")
    fusable = True

    def __init__(self, source: Node, perm: tuple[int | None, ...]) -> None:
        grid = ArrayGrid(tuple((1,) if p is None else source.grid.chunks[p] for p in perm))
        super().__init__(grid, source.dtype)
        self.source = source
        self.perm = perm

    def inputs(self) -> tuple[Node, ...]:
        return (self.source,)

    def release(self) -> None:
        self.source = None

    lower = Map.lower
