"""The general block-task family: "for each task, a kernel, its input blocks, constants, a
device rule and k outputs", producing one array or several.

An op that is not elementwise, a reduction, a product or a data movement (a QR of each
block with its Q and R, the buckets of a sort, a file read pinned to the device that owns a
block, the selected elements of each block of a mask) is a :class:`BlockTasks` node. Its
``plan(leaves)`` receives the materialised sources and yields :class:`BlockTask` entries:

- ``kernel``: a registered kernel's name, called as ``kernel(*consts, *blocks)``;
- ``reads``: the input blocks, as ``(source number, block index)`` pairs;
- ``writes``: where each of the kernel's return values goes, as ``(output number, block
  index)`` pairs (one pair: the kernel returns one block; k pairs: a tuple of k blocks, sent
  to the executor as one task with ``num_returns=k``);
- ``device``: None (the optimizer places the task; its default is the block-cyclic device
  of the first block it writes), ``"input"`` (default: where its largest input lives), or a
  device index (the task is pinned there: a read of the blocks a device owns).

Every block of every output must be written exactly once. Placement, the cost model,
``nums.explain``, the dry run and every executor see these tasks like any other.
:func:`block_tasks` returns one node per output array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from nums.array.grid import ArrayGrid
from nums.ir.nodes import Leaf, Node
from nums.kernels.registry import kernel

if TYPE_CHECKING:
    from nums.ir.lower import Lowering

__all__ = ["BlockTask", "BlockTasks", "TaskOutput", "block_tasks", "lower_tasks"]

BlockIndex = tuple[int, ...]


class BlockTask(NamedTuple):
    """One kernel call of a :class:`BlockTasks` node (see the module docstring)."""

    kernel: str
    reads: tuple[tuple[int, BlockIndex], ...] = ()
    writes: tuple[tuple[int, BlockIndex], ...] = ((0, ()),)
    consts: tuple[Any, ...] = ()
    device: int | str | None = None


class BlockTasks(Node):
    """Tasks over the blocks of ``sources`` making the arrays ``outputs`` (grid, dtype).

    The node's own grid and dtype are its first output's; its result (``leaf``) is the
    tuple of every output's Leaf. User-facing arrays are its :class:`TaskOutput` nodes.
    """

    __slots__ = ("sources", "outputs", "plan")
    moves_data = True

    def __init__(self, sources: Sequence[Node], outputs: Sequence[tuple[ArrayGrid, Any]],
                 plan: Callable[[list[Leaf]], Iterable[BlockTask]]) -> None:
        if not outputs:
            raise ValueError("a BlockTasks node needs at least one output")
        super().__init__(outputs[0][0], outputs[0][1])
        self.sources = tuple(sources)
        self.outputs = tuple((grid, np.dtype(dtype)) for grid, dtype in outputs)
        self.plan = plan

    def inputs(self) -> tuple[Node, ...]:
        return self.sources

    def release(self) -> None:
        self.sources = ()
        self.plan = None

    def lower(self, job: Lowering) -> tuple[Leaf, ...]:
        return lower_tasks(job, self)


class TaskOutput(Node):
    """Output ``index`` of a :class:`BlockTasks` node, as an array of its own."""

    __slots__ = ("group", "index")
    settles = False  # the group's lowering settled every output's blocks already

    def __init__(self, group: BlockTasks, index: int) -> None:
        grid, dtype = group.outputs[index]
        super().__init__(grid, dtype)
        self.group = group
        self.index = index

    def inputs(self) -> tuple[Node, ...]:
        return (self.group,)

    def release(self) -> None:
        self.group = None

    def lower(self, job: Lowering) -> Leaf:
        return job.ensure(self.group)[self.index]


def block_tasks(sources: Sequence[Node], outputs: Sequence[tuple[ArrayGrid, Any]],
                plan: Callable[[list[Leaf]], Iterable[BlockTask]]) -> tuple[Node, ...]:
    """The arrays made by the tasks that ``plan`` yields over ``sources`` (one node per
    entry of ``outputs``, a ``(grid, dtype)`` pair each)."""
    group = BlockTasks(sources, outputs, plan)
    return tuple(TaskOutput(group, k) for k in range(len(group.outputs)))


def lower_tasks(job: Lowering, node: BlockTasks) -> tuple[Leaf, ...]:
    """Place and submit every task of ``node``; every output block must be written once."""
    leaves = [job.ensure(s) for s in node.sources]
    leaf_bytes = [leaf.grid.block_nbytes(leaf.dtype.itemsize) for leaf in leaves]
    out_refs = [np.empty(grid.grid_shape, dtype=object) for grid, _ in node.outputs]
    out_devs = [np.full(grid.grid_shape, -1, dtype=np.intp) for grid, _ in node.outputs]
    out_bytes = [grid.block_nbytes(dtype.itemsize) for grid, dtype in node.outputs]
    layout = [job.placement.output_devices(grid.grid_shape) for grid, _ in node.outputs]
    submit, devices, kernels = job.executor.submit, job.devices, {}
    for task in node.plan(leaves):
        reads, writes = task.reads, task.writes
        src_devs = [int(leaves[k].devices[i]) for k, i in reads]
        src_sizes = [float(leaf_bytes[k][i]) for k, i in reads]
        size = sum(float(out_bytes[k][i]) for k, i in writes)
        rule = task.device
        if rule is None:
            k, i = writes[0]
            default, pinned = int(layout[k][i]), False
        elif rule == "input":
            default = src_devs[src_sizes.index(max(src_sizes))] if reads else 0
            pinned = False
        else:
            default, pinned = int(rule), True
        d = job.place(src_devs, src_sizes, size, default, list(reads), pinned)
        kern = kernels.get(task.kernel)
        if kern is None:
            kern = kernels[task.kernel] = kernel(task.kernel)
        args = (*task.consts, *[leaves[k].refs[i] for k, i in reads])
        refs = submit(kern, args, devices[d], num_returns=len(writes), nbytes=size)
        for (k, i), ref in zip(writes, refs if len(writes) > 1 else (refs,)):
            if out_devs[k][i] >= 0:
                raise AssertionError(f"block {i} of output {k} is written by two tasks")
            out_refs[k][i] = ref
            out_devs[k][i] = d
    results = []
    for k, (grid, dtype) in enumerate(node.outputs):
        missing = np.argwhere(out_devs[k] < 0)
        if missing.size:
            raise AssertionError(f"no task writes block {tuple(missing[0])} of output {k}")
        results.append(Leaf(grid, dtype, out_refs[k], out_devs[k],
                            job.placement.release_leaf))
    return tuple(results)
