"""The creation family: :class:`Create`, blocks made from nothing (zeros, arange, random)
by one kernel call per block on the block's own (block-cyclic) device."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nums.array.grid import ArrayGrid
from nums.ir.nodes import Leaf, Node
from nums.kernels.registry import kernel
from nums.runtime.session import Session, current
from nums.runtime.transfer import put_blocks

if TYPE_CHECKING:
    from nums.ir.lower import Lowering

__all__ = ["Create", "lower_create", "leaf_from_blocks"]


class Create(Node):
    """Blocks made from nothing on their own device (zeros, arange, random, ...).

    ``block_args(index, offset, block_shape)`` gives the kernel's arguments for one block.
    """

    __slots__ = ("kernel_name", "block_args")

    def __init__(self, grid: ArrayGrid, dtype: np.dtype, kernel_name: str,
                 block_args: Callable[..., tuple[Any, ...]]) -> None:
        super().__init__(grid, dtype)
        self.kernel_name = kernel_name
        self.block_args = block_args

    def release(self) -> None:
        self.block_args = None

    def lower(self, job: Lowering) -> Leaf:
        return lower_create(job, self)


def lower_create(job: Lowering, node: Create) -> Leaf:
    """One kernel call per block, on the block-cyclic device."""
    grid = node.grid
    out_devices = job.placement.output_devices(grid.grid_shape).ravel().tolist()
    out_bytes = grid.block_nbytes(node.dtype.itemsize).ravel().tolist()
    k = kernel(node.kernel_name)
    submit, devices, block_args = job.executor.submit, job.devices, node.block_args
    fixed = job.placement.fixed
    refs = [submit(k, block_args(index, grid.block_offset(index), grid.block_shape_at(index)),
                   devices[fixed(d, size)], nbytes=size)
            for index, d, size in zip(grid.indices(), out_devices, out_bytes)]
    return job.new_leaf(node, refs, out_devices)


def leaf_from_blocks(grid: ArrayGrid, dtype: np.dtype, array: np.ndarray, copy: bool,
                     session: Session | None = None) -> Leaf:
    """The blocks of a NumPy ``array`` put on their devices (block-cyclic), as a Leaf."""
    session = session or current()
    refs, devices = put_blocks(grid, dtype, array, copy, session)
    placement = session.placement
    leaf = Leaf(grid, dtype, refs, devices, placement.release_leaf)
    placement.settle(leaf)
    return leaf
