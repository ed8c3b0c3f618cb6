"""Value-dependent sizes: ops whose output shape depends on the values (a boolean mask,
``nonzero``, ``unique``, the buckets of a sort).

One mechanism for all of them, in two steps:

1. **Count.** :func:`count_per_block` runs a small job, one task per block of the source
   (a kernel returning one integer for its block), and fetches the counts. Fetching is an
   executor ``get``: on MPI it is collective, so every rank holds the same counts and builds
   the same grid (the SPMD rule: every rank makes the same decisions).
2. **Build.** :func:`ragged_chunks` turns the counts along the data-dependent axis into that
   axis's block boundaries: one output block per non-empty source block, so blocks stay where
   their data was computed. An :class:`~nums.array.grid.ArrayGrid` takes explicit per-axis
   block lengths, so ragged blocks need no re-blocking; every op accepts such grids (an
   elementwise op between arrays on different boundaries re-blocks one of them explicitly).
   The op is then an ordinary :class:`~nums.ir.tasks.BlockTasks` node over that grid.

The counts are computed when the op is called (the result's shape is known at once, as in
NumPy, never "unknown"); only the counting job runs then, the selection itself is deferred
like any other op. A dry run (``backend="dryrun"``) has no values to count: such an op raises
the dry run's error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nums.array.grid import ArrayGrid
from nums.ir.nodes import Node
from nums.ir.tasks import BlockTask, block_tasks

__all__ = ["count_per_block", "ragged_chunks"]


def count_per_block(source: Node, kernel_name: str, consts: tuple = ()) -> np.ndarray:
    """Run ``kernel_name(*consts, block)`` (an integer per block) on every block of ``source``
    where the block lives, and return the counts as an int64 array of its grid shape."""
    from nums.ir.lower import materialize
    from nums.runtime.transfer import fetch

    grid = source.grid
    one_per_block = ArrayGrid(tuple((1,) * g for g in grid.grid_shape))

    def plan(leaves):
        for index in grid.indices():
            yield BlockTask(kernel_name, reads=((0, index),), writes=((0, index),),
                            consts=consts, device="input")

    (counts,) = block_tasks((source,), ((one_per_block, np.int64),), plan)
    (leaf,) = materialize([counts])
    return fetch(leaf).reshape(grid.grid_shape)


def ragged_chunks(counts: Sequence[int]) -> tuple[tuple[int, ...], list[int]]:
    """Block lengths of a data-dependent axis from per-source-block ``counts``: one block per
    non-empty source block. Returns the lengths and, for each, its source block's position;
    with no element at all, one empty block made from source block 0."""
    kept = [i for i, c in enumerate(counts) if c > 0]
    if not kept:
        return (0,), [0]
    return tuple(int(counts[i]) for i in kept), kept
