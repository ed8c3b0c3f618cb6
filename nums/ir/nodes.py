"""The base of the array-level IR: :class:`Node` and :class:`Leaf`.

Each op family defines its node classes in a module of its own (``elementwise``,
``reduction``, ``contraction``, ``movement``, ``creation``, ``tasks``), next to the method
that lowers them; see :mod:`nums.ir` for how to add a family.

Why two levels of IR (a change from DESIGN.md's "one tree per output block" at build time):
an API call builds one small *array-level* node (O(1) work, whatever the number of blocks),
and the node is lowered to per-block tasks only when a value is needed. Lowering is where the
"array of trees" appears: one fused kernel call per output block for an elementwise cluster,
a partial per block plus a merge tree per output block for a reduction, partial products plus
a sum tree for a contraction. Building per-block trees eagerly would cost O(blocks) Python
objects per operation even for chains that are fused away, and would make the tiny-array and
10,000-block overheads unreachable. The optimizer (placement) works on the lowered tasks.

Every node has ``shape``, ``dtype`` and ``grid`` (an :class:`~nums.array.grid.ArrayGrid`).
``leaf`` caches the materialised result: once a node has been computed its inputs are
released, so the graph never grows across loop iterations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nums.array.grid import ArrayGrid
from nums.runtime import session as _runtime_session

__all__ = ["Node", "Leaf"]

_F8 = np.dtype(np.float64)


class Node:
    """Base of all IR nodes."""

    __slots__ = ("shape", "dtype", "grid", "leaf", "__weakref__")

    def __init__(self, grid: ArrayGrid, dtype: np.dtype) -> None:
        self.grid = grid
        self.shape = grid.shape
        self.dtype = dtype if type(dtype) is type(_F8) or isinstance(dtype, np.dtype) \
            else np.dtype(dtype)
        self.leaf: Leaf | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    #: Whether lowering the node can place ops away from the block-cyclic layout (reductions,
    #: products, data movement): a job with such a node is planned both greedily and
    #: block-cyclically before it runs (see :mod:`nums.optimizer.mode`).
    moves_data = False
    #: Whether a consumer may absorb the node into its own tasks (an elementwise node fused
    #: into its consumer's program) instead of computing it first.
    fusable = False
    #: Whether the lowering job settles the node's result in the placement's loads (a node
    #: that hands out a result another node's lowering settled says False).
    settles = True

    def inputs(self) -> tuple[Node, ...]:
        """Nodes this node reads."""
        return ()

    def lower(self, job: Any) -> Any:
        """Submit the tasks that compute this node on ``job`` (a
        :class:`~nums.ir.lower.Lowering`) and return the result as a :class:`Leaf` (or a
        tuple of Leaves for a node with several outputs; see :mod:`nums.ir.tasks`)."""
        raise NotImplementedError(f"{type(self).__name__} does not say how it lowers")

    def release(self) -> None:
        """Drop references to inputs once the result is cached in ``leaf``."""


class Leaf(Node):
    """Materialised blocks: one ref per block and the index of the device holding it.

    ``session`` is the id of the session that made the blocks (they die with it; see
    :mod:`nums.runtime.session`): operations and fetches compare it with the running one.
    """

    __slots__ = ("refs", "devices", "on_free", "plan", "session")

    def __init__(self, grid: ArrayGrid, dtype: np.dtype, refs: np.ndarray,
                 devices: np.ndarray, on_free: Callable[[Leaf], None] | None = None) -> None:
        super().__init__(grid, dtype)
        self.refs = refs
        self.devices = devices
        self.on_free = on_free
        self.plan: Any = None  # builds the Plan of the job that computed these blocks
        self.session: int = _runtime_session.running_id

    def __del__(self) -> None:
        # Tell the placement the blocks are gone (they are freed with this Leaf).
        on_free = self.on_free
        if on_free is not None:
            self.on_free = None
            try:
                on_free(self)
            except Exception:  # noqa: S110 - never raise from a finaliser
                pass

    # A Leaf is its own result. A property, not ``self.leaf = self``: a self-reference would
    # make every Leaf cyclic garbage, keeping its blocks alive until the cycle collector runs.
    @property  # type: ignore[override]
    def leaf(self) -> Leaf:
        return self

    @leaf.setter
    def leaf(self, value: Any) -> None:
        pass
