"""Lowering: array-level nodes -> per-block kernel calls on the executor.

:func:`materialize` computes nodes and caches their results as Leaf nodes. It holds the
session's lock while it plans and submits, so threads may compute arrays (shared or not) at
once: a node is lowered once, by the first thread that asks, and the others reuse its
result; kernels run in parallel and values are awaited outside the lock. Lowering does not
recurse with the depth of the graph (see :meth:`Lowering._ensure_below`). Every node lowers
itself (``Node.lower(job)``, in the module of its family); :class:`Lowering` is what they
share: the session's executor and placement, :meth:`Lowering.ensure` to compute an input,
:meth:`Lowering.new_leaf` to wrap the refs of a result, and :meth:`Lowering.merge_tree`.
Tasks are handed to the executor as they are built; executors that stage them (threads, Ray)
start them at the flush after each node, while the next node is planned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from nums.ir.nodes import Leaf, Node
from nums.optimizer.mode import choose_mode
from nums.optimizer.plan import Plan
from nums.runtime.dryrun import DryRunExecutor
from nums.runtime.memory import human_bytes
from nums.runtime.session import Session, current, stale_array_error

__all__ = ["Lowering", "materialize", "plan_of"]

#: Nested ``ensure`` calls after which the graph below a node is computed bottom-up first.
DEEP = 24
#: Arrays of more bytes are computed only if the executor's memory budget holds them.
GUARD_FROM = 256 * 2**20


class Lowering:
    """One materialisation job on the current session."""

    def __init__(self, session: Session, dry: bool = False) -> None:
        """Lower on ``session``; with ``dry``, plan only: a copy of the placement, an executor
        that runs nothing, and results kept in a memo instead of on the nodes."""
        self.session = session
        self.session_id = session.id  # input Leaves of another session are refused
        self.devices = session.devices
        self.settings = session.settings
        if dry:
            self.executor: Any = DryRunExecutor(len(session.devices))
            self.placement = session.placement.copy()
            self.memo: dict[int, tuple[Node, Any]] | None = {}
        else:
            self.executor = session.executor
            self.placement = session.placement
            self.memo = None
        self.place = self.placement.place
        self.flush = self.executor.flush
        self.depth = 0  # nested ensure calls
        self.budget: float | None = None  # the executor's memory budget, asked once a job
        self.placement.begin_job()

    def ensure(self, node: Node) -> Any:
        """The node's result as a Leaf (a tuple of Leaves for a node with several outputs),
        computing it (and what it needs) if necessary."""
        leaf = node.leaf
        if leaf is not None:
            first = leaf if type(leaf) is Leaf else leaf[0]
            if first.session != self.session_id:  # its blocks died with an older session
                raise stale_array_error(first.session)
            return leaf
        if self.memo is not None:
            found = self.memo.get(id(node))
            if found is not None:
                return found[1]
        if self.memo is None and node.grid.size * node.dtype.itemsize > GUARD_FROM:
            self._guard_memory(node)
        if self.depth >= DEEP:
            self._ensure_below(node)
        self.depth += 1  # not restored on error: a job that raised is not used again
        leaf = node.lower(self)
        self.depth -= 1
        if node.settles:
            if type(leaf) is tuple:
                self.placement.settle(*leaf)
            else:
                self.placement.settle(leaf)
        self.flush()
        if self.memo is not None:
            self.memo[id(node)] = (node, leaf)
            return leaf
        node.leaf = leaf
        node.release()
        return leaf

    def _guard_memory(self, node: Node) -> None:
        """MemoryError, before anything is allocated, if ``node``'s result is larger than
        what the executor's devices have available (:meth:`Executor.memory_budget`)."""
        if self.budget is None:
            self.budget = self.executor.memory_budget() or float("inf")
        nbytes = node.grid.size * node.dtype.itemsize
        if nbytes > self.budget:
            raise MemoryError(
                f"computing an array of shape {node.shape} and dtype {node.dtype} needs "
                f"{human_bytes(nbytes)}, but the {len(self.devices)} device(s) of this "
                f"session have {human_bytes(self.budget)} available; compute it in parts "
                "(slices, or a reduction of each part), use a smaller dtype, or add devices "
                "(nums.init(backend='ray') on a cluster)")

    def _computed(self, node: Node) -> bool:
        return node.leaf is not None or (self.memo is not None and id(node) in self.memo)

    def _ensure_below(self, node: Node) -> None:
        """Compute, deepest first, every node below ``node`` that its consumer would compute
        anyway (all but the fusable ones, which a consumer may absorb), so that lowering
        ``node`` recurses no deeper: a graph of any depth lowers in bounded stack (an
        iterative walk), in the order a recursive lowering would reach the same nodes."""
        order: list[Node] = []
        seen = {id(node)}
        stack: list[tuple[Node, int]] = [(node, 0)]
        while stack:
            current, k = stack.pop()
            inputs = current.inputs()
            if k < len(inputs):
                stack.append((current, k + 1))
                child = inputs[k]
                if id(child) not in seen and not self._computed(child):
                    seen.add(id(child))
                    stack.append((child, 0))
            elif current is not node and not current.fusable:
                order.append(current)
        for below in order:
            if not self._computed(below):
                self.ensure(below)

    def plan(self) -> Any:
        """The loads recorded so far, as a :class:`~nums.optimizer.plan.Plan`."""
        return Plan.from_placement(self.placement, self.devices, executed=self.memo is None)

    def record(self) -> Callable[[], Any]:
        """A snapshot of the loads recorded so far; calling it builds the Plan."""
        snapshot = self.placement.snapshot()
        devices, executed = self.devices, self.memo is None
        return lambda: Plan.from_placement(snapshot, devices, executed=executed)

    def new_leaf(self, node: Node, refs: Sequence[Any], devices: Sequence[int] | np.ndarray
                 ) -> Leaf:
        """A Leaf of ``node``'s grid and dtype from its blocks' refs and device indices, in
        row-major block order."""
        grid_shape = node.grid.grid_shape
        if len(refs) == 1:
            ref_array = np.empty(grid_shape, dtype=object)
            ref_array.flat[0] = refs[0]
            device_array = self.placement.single_device(int(devices[0]), len(grid_shape))
        else:
            ref_array = np.fromiter(refs, dtype=object, count=len(refs)).reshape(grid_shape)
            device_array = np.asarray(devices, dtype=np.intp).reshape(grid_shape)
        return Leaf(node.grid, node.dtype, ref_array, device_array, self.placement.release_leaf)

    def merge_tree(self, items: list[tuple[Any, int, float]], merge: Any,
                   head: tuple[Any, ...], root: tuple[Any, tuple[Any, ...], float, int] | None
                   = None) -> tuple[Any, int, float]:
        """Combine ``(ref, device, bytes)`` items of one size with the kernel ``merge``
        (called as ``merge(*head, *refs)`` on up to ``reduction_fanin`` of them): first the
        items on each device among themselves, then the per-device results, so that only
        one partial per device crosses devices. ``root = (kernel, head, bytes, device)``
        replaces the last merge (a reduction finishes its output block in that task, by
        default on the output block's own device); it needs two items or more."""
        fanin = max(2, self.settings.reduction_fanin)
        submit, devices, place = self.executor.submit, self.devices, self.place

        def level(group: list[tuple[Any, int, float]], final: bool
                  ) -> list[tuple[Any, int, float]]:
            out = []
            for s in range(0, len(group), fanin):
                chunk = group[s:s + fanin]
                kern, args, size, default = merge, head, chunk[0][2], chunk[0][1]
                if final and root is not None:
                    kern, args, size, default = root
                d = place([c[1] for c in chunk], [c[2] for c in chunk], size, default)
                out.append((submit(kern, (*args, *[c[0] for c in chunk]), devices[d],
                                   nbytes=size), d, size))
            return out

        by_device: dict[int, list[tuple[Any, int, float]]] = {}
        for item in items:
            by_device.setdefault(item[1], []).append(item)
        per_device = []
        for group in by_device.values():
            while len(group) > 1:
                group = level(group, len(by_device) == 1 and len(group) <= fanin)
            per_device.append(group[0])
        while len(per_device) > 1:
            per_device = level(per_device, len(per_device) <= fanin)
        return per_device[0]


def materialize(nodes: Iterable[Node], session: Session | None = None) -> list[Leaf]:
    """Compute ``nodes`` (submitting their tasks) and return their Leaf results."""
    nodes = list(nodes)
    leaves = [n.leaf for n in nodes]
    if None not in leaves:
        return leaves
    session = session or current()
    with session.lock:  # another thread may have computed them meanwhile: ensure reuses
        choose_mode(nodes, session, _dry_run)
        lowering = Lowering(session)
        leaves = [lowering.ensure(n) for n in nodes]
        record = lowering.record()  # cheap; turned into a Plan only if nums.explain asks
        for leaf in leaves:
            if leaf.plan is None:
                leaf.plan = record
    return leaves


def plan_of(nodes: Iterable[Node], session: Session | None = None,
            mode: str | None = None) -> Any:
    """The plan of computing ``nodes`` now, made without running anything."""
    session = session or current()
    nodes = list(nodes)
    with session.lock:
        if mode is None:
            choose_mode(nodes, session, _dry_run)
        return _dry_run(nodes, session, mode).plan()


def _dry_run(nodes: list[Node], session: Session, mode: str | None) -> Lowering:
    """Lower ``nodes`` without running anything (``mode``: force the greedy placement's)."""
    lowering = Lowering(session, dry=True)
    if mode is not None and hasattr(lowering.placement, "mode"):
        lowering.placement.mode = mode
    for n in nodes:
        lowering.ensure(n)
    return lowering
