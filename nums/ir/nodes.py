"""Array-level IR nodes.

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

__all__ = ["Node", "Leaf", "Map", "Transpose", "Reduce", "Contract", "Move", "Create"]

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

    def inputs(self) -> tuple[Node, ...]:
        """Nodes this node reads."""
        return ()

    def release(self) -> None:
        """Drop references to inputs once the result is cached in ``leaf``."""


class Leaf(Node):
    """Materialised blocks: one ref per block and the index of the device holding it."""

    __slots__ = ("refs", "devices", "on_free", "plan")

    def __init__(self, grid: ArrayGrid, dtype: np.dtype, refs: np.ndarray,
                 devices: np.ndarray, on_free: Callable[[Leaf], None] | None = None) -> None:
        super().__init__(grid, dtype)
        self.refs = refs
        self.devices = devices
        self.on_free = on_free
        self.plan: Any = None  # builds the Plan of the job that computed these blocks

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


class Map(Node):
    """An elementwise operation; chains of Maps fuse into one kernel per block.

    ``args`` holds nodes (aligned with this node's grid by right-aligned broadcasting, on the
    same block boundaries) and scalars. ``depth`` is the length of the longest Map chain below.
    """

    __slots__ = ("op", "args", "depth")

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


class Transpose(Node):
    """A view of a non-Map node with its axes permuted by ``perm`` (Maps push views down to
    their inputs). A None entry of ``perm`` inserts a length-1 axis (``x[:, None]``), so
    broadcasting a vector against a matrix reads its blocks where they are."""

    __slots__ = ("source", "perm")

    def __init__(self, source: Node, perm: tuple[int | None, ...]) -> None:
        grid = ArrayGrid(tuple((1,) if p is None else source.grid.chunks[p] for p in perm))
        super().__init__(grid, source.dtype)
        self.source = source
        self.perm = perm

    def inputs(self) -> tuple[Node, ...]:
        return (self.source,)

    def release(self) -> None:
        self.source = None


class Reduce(Node):
    """A tree reduction (sum, mean, var, argmin, ...) over ``axes`` of ``source``."""

    __slots__ = ("source", "name", "axes", "keepdims", "acc_dtype", "ddof")

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


class Contract(Node):
    """Sum of block products: ``op`` is "matmul" (with batch axes) or "tensordot".

    For "tensordot", ``axes`` is ``(a_axes, b_axes)``; the output axes are a's free axes
    followed by b's. For "matmul" both operands have at least two dimensions.
    """

    __slots__ = ("a", "b", "op", "axes")

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


class Move(Node):
    """Data movement (slicing, re-blocking, reshaping, joining, updating a region).

    ``plan(leaves)`` receives the materialised ``sources`` and yields, for every output block
    index, a recipe (see :mod:`nums.ir.movement`).
    """

    __slots__ = ("sources", "plan")

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
