"""Kernels staged on the driver and sent to Ray in batches, one worker-actor call per batch.

A Ray call round trip costs milliseconds here (submitting, reaching the worker, storing outputs),
a NumPy kernel on a cache-sized block far less, so one task per block kernel spends most of a
small job in Ray. The executor therefore *stages* what :meth:`submit` is given and sends it at
:meth:`flush` (the lowering flushes after every array node) as batches:

- Every staged kernel gets a *level*: the highest level of the staged kernels it reads, plus
  one for each that runs on another node. Kernels of one node and level form a *group*;
  groups are sent in order of level, so a kernel reads other groups' outputs as ObjectRefs
  that Ray resolves before its batch starts.
- In a group, the kernels that read nothing of the group are dealt into one batch per CPU
  of the node (more when a batch would exceed :data:`KERNELS_PER_BATCH` kernels or
  :data:`BATCH_BYTES` of outputs: a worker holds a batch's outputs until it ends), of
  near-equal output bytes (from the lowering's ``nbytes`` hints: a ragged edge block costs
  less). A node has one worker actor per CPU (:mod:`nums.backends.ray.pool`), so the batches
  of a group run side by side in separate processes and also store their outputs in parallel
  (Ray stores a call's outputs one after the other, about 2 ms per MB on this VM). Threads in
  one call were tried: one round trip less for a small reduction (a few ms), but kernels that
  evaluate fused elementwise programs tile by tile then contend for the GIL (the
  logistic-regression Hessian ran 15-40% slower).
- A kernel that reads outputs of one batch of its group joins that batch (it reads them
  directly). A kernel that reads several batches of its group (a merge) goes to the group's
  *tail*, one more batch sent after the others, which gets their outputs as top-level
  ObjectRefs: Ray sends it to its actor only once they exist. A worker never waits inside a
  batch for another batch: an actor runs one call at a time, and Ray runs the calls that it
  retries after restarting an actor out of order, so such a wait could block the very call it
  waits for (a hang found in review; the earlier task version could wait, since a blocked
  task frees its CPU and Ray starts another worker). Batches are sent in order and read only
  batches sent before them.
- A batch returns its outputs as Ray objects (``num_returns``), freed with their last
  reference; a batch whose worker died is run again (kernels are pure). Small outputs share
  one object, a *pack* (:func:`return_layout`): Ray spends about a millisecond on each object
  it stores in the object store here (creating, sealing and pinning it), whatever its size, so
  a batch of eight 1 MiB outputs spent 12 ms storing them one by one and 4 ms as one pack.
  A pack holds outputs of at most :data:`PACK_MEMBER_BYTES` each (as far as the lowering's
  ``nbytes`` hints tell; outputs of unknown size stay alone) and :data:`PACK_BYTES` in all:
  its members are freed together, with the last reference to any of them, and a read from
  another node moves the whole pack, so large blocks stay one object each.

Until its batch is sent an output is a :class:`BlockRef` without an ObjectRef; the BlockRef
stays the block's ref in nums (the executor unwraps it), so arrays built by the lowering
before the flush need no rewriting.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from nums.backends.ray.tasks import BatchArg, BatchItem, BatchOutput

__all__ = ["BlockRef", "StagedKernel", "KERNELS_PER_BATCH", "BATCH_BYTES", "PACK_MEMBER_BYTES",
           "PACK_BYTES", "form_batches", "encode_batch", "return_layout", "resolve",
           "mark_unsent"]

# At most this many independent kernels, and output bytes (as far as known), per batch: a
# worker holds a batch's outputs until the batch ends.
KERNELS_PER_BATCH = 8
BATCH_BYTES = 256 * 2**20
INLINE_MAX_BYTES = 64 * 1024  # larger NumPy arguments go through the object store
# Outputs up to this size share a Ray object with others of their batch, up to PACK_BYTES.
PACK_MEMBER_BYTES = 4 * 2**20
PACK_BYTES = 16 * 2**20


NOT_HERE = object()  # BlockRef.value of a block that the driver does not hold


class BlockRef:
    """A block computed on Ray: its ObjectRef once the batch that computes it was sent."""

    __slots__ = ("ref", "member", "value", "task", "position", "unsent")

    def __init__(self, task: StagedKernel, position: int | None) -> None:
        self.ref: Any = None
        self.member: int | None = None  # its index in the pack ``ref``; None: ref is the block
        self.value: Any = NOT_HERE  # the block itself, when the driver computed it
        self.task: StagedKernel | None = task
        self.position = position  # which output of the kernel; None: its only one
        self.unsent: BaseException | None = None  # why its batch was never sent

    def check(self) -> None:
        """Raise if this block will never exist: sending its batch failed."""
        if self.unsent is not None:
            raise RuntimeError("a nums block was never computed: sending its Ray task failed "
                               f"({type(self.unsent).__name__}: {self.unsent})") from self.unsent

    def __repr__(self) -> str:
        return f"BlockRef({self.ref!r})" if self.ref is not None else "BlockRef(<staged>)"


class StagedKernel:
    """A kernel call waiting for :meth:`~nums.backends.ray.executor.RayExecutor.flush`."""

    __slots__ = ("item", "node", "nbytes", "level", "reads", "outputs", "batch", "slot")

    def __init__(self, item: BatchItem, node: int, nbytes: float | None = None) -> None:
        self.item = item
        self.node = node
        self.nbytes = nbytes  # expected output size, when the lowering knows it
        self.reads = []
        for a in item.args:
            if type(a) is BlockRef:
                a.check()
                if a.task is not None:
                    self.reads.append(a.task)
        self.level = max((t.level + (t.node != node) for t in self.reads), default=0)
        n = item.num_returns
        self.outputs = [BlockRef(self, None)] if n == 1 else [BlockRef(self, i)
                                                               for i in range(n)]
        self.batch = -1  # which batch of its group, and its position there, once batched
        self.slot = -1


def form_batches(staged: list[StagedKernel], cpus: Callable[[int], int]
                 ) -> Iterator[tuple[int, list[StagedKernel]]]:
    """``(node, kernels)`` batches of ``staged`` in the order to send them (see the
    module docstring)."""
    groups: dict[tuple[int, int], list[StagedKernel]] = {}
    for task in staged:
        groups.setdefault((task.level, task.node), []).append(task)
    for level, node in sorted(groups, key=lambda key: key[0]):
        tasks = groups[(level, node)]
        same = {id(t) for t in tasks}
        first = [t for t in tasks if not any(id(r) in same for r in t.reads)]
        nbytes = sum(t.nbytes or 0.0 for t in first)
        runs = max(min(cpus(node), len(first)), -(-len(first) // KERNELS_PER_BATCH),
                   min(len(first), math.ceil(nbytes / BATCH_BYTES)))
        batches = _balanced(first, runs)
        tail: list[StagedKernel] = []
        for task in tasks:
            if task.batch >= 0:
                continue
            read = {r.batch for r in task.reads if id(r) in same}
            if len(read) == 1 and runs not in read:  # reads one batch only: joins it
                task.batch = read.pop()
                batches[task.batch].append(task)
            else:  # reads several batches (or the tail): the tail, sent after them
                task.batch = runs
                tail.append(task)
        for batch in batches:
            yield node, batch
        if tail:
            yield node, tail


def _balanced(tasks: list[StagedKernel], runs: int) -> list[list[StagedKernel]]:
    """``tasks`` dealt into ``runs`` batches of near-equal output bytes (largest first, each
    to the batch with the fewest bytes so far; unknown sizes count alike), each batch in
    submission order; sets every task's ``batch``."""
    loads = [(0.0, b) for b in range(runs)]
    order = sorted(range(len(tasks)), key=lambda i: -(tasks[i].nbytes or 1.0))
    for i in order:
        load, b = heapq.heappop(loads)
        tasks[i].batch = b
        heapq.heappush(loads, (load + (tasks[i].nbytes or 1.0), b))
    batches: list[list[StagedKernel]] = [[] for _ in range(runs)]
    for task in tasks:
        batches[task.batch].append(task)
    return batches


def encode_batch(tasks: list[StagedKernel], object_ref: type, put: Callable[[Any], Any]
                 ) -> tuple[tuple[BatchItem, ...], list[Any]]:
    """The batch's items (reads of this batch as :class:`BatchOutput`, of earlier batches as
    :class:`BatchArg`) and the ObjectRefs to pass at the top level of the actor call."""
    refs: list[Any] = []
    ref_index: dict[Any, int] = {}
    stored: dict[int, Any] = {}  # id of a large NumPy argument -> its ObjectRef
    items = []
    batch = tasks[0].batch

    def top_level(ref: Any, member: int | None = None) -> BatchArg:
        k = ref_index.get(ref)
        if k is None:
            k = ref_index[ref] = len(refs)
            refs.append(ref)
        return BatchArg(k, member)

    for slot, task in enumerate(tasks):
        task.slot = slot
        args = []
        for a in task.item.args:
            if type(a) is BlockRef:
                source = a.task
                if source is not None and source.level == task.level and \
                        source.node == task.node and source.batch == batch:
                    args.append(BatchOutput(source.slot, a.position))
                    continue
                if a.ref is None and a.value is not NOT_HERE:  # computed in the driver
                    a.ref = put(a.value)
                args.append(top_level(resolve(a), a.member))
                continue
            if type(a) is np.ndarray and a.nbytes > INLINE_MAX_BYTES:
                ref = stored.get(id(a))
                if ref is None:
                    ref = stored[id(a)] = put(a)
                a = ref
            args.append(top_level(a) if isinstance(a, object_ref) else a)
        items.append(task.item._replace(args=tuple(args)))
    return tuple(items), refs


def return_layout(tasks: list[StagedKernel]
                  ) -> tuple[tuple[Any, ...] | None, list[tuple[int, int | None]]]:
    """How a batch of ``tasks`` returns its outputs (see the module docstring on packs).

    Returns
    -------
    layout : tuple or None
        For :func:`~nums.backends.ray.tasks.run_batch`: per returned object, an output's
        position or a tuple of positions (a pack); None when every output is alone.
    places : list of (int, int or None)
        Per output, in order: which returned object holds it, and its index in that pack
        (None: the object is the output).
    """
    alone: list[int] = []
    packs: list[list[int]] = []
    packed = 0.0
    position = 0
    for task in tasks:
        n = task.item.num_returns
        each = None if task.nbytes is None else task.nbytes / n
        for _ in range(n):
            if each is None or each > PACK_MEMBER_BYTES:
                alone.append(position)
            else:
                if not packs or packed + each > PACK_BYTES:
                    packs.append([])
                    packed = 0.0
                packs[-1].append(position)
                packed += each
            position += 1
    alone = sorted(alone + [pack[0] for pack in packs if len(pack) == 1])  # in item order
    packs = [pack for pack in packs if len(pack) > 1]
    places: list[tuple[int, int | None]] = [(0, None)] * position
    for r, p in enumerate(alone):
        places[p] = (r, None)
    for r, pack in enumerate(packs, len(alone)):
        for member, p in enumerate(pack):
            places[p] = (r, member)
    if not packs:
        return None, places
    return tuple(alone) + tuple(tuple(pack) for pack in packs), places


def resolve(ref: Any) -> Any:
    """The ObjectRef behind a sent :class:`BlockRef` (its pack's, for a block in a pack);
    anything else as it is.

    Raises
    ------
    RuntimeError
        If the block's batch was never sent (see :meth:`BlockRef.check`).
    """
    if type(ref) is not BlockRef:
        return ref
    ref.check()
    if ref.ref is None:
        raise RuntimeError("a nums block was never computed (its kernel was dropped before "
                           "it was sent, e.g. by nums.shutdown())")
    return ref.ref


def mark_unsent(tasks: list[StagedKernel], error: BaseException) -> None:
    """Record on the outputs of ``tasks`` that they will never be sent (``error`` said why),
    so that reading them raises instead of returning nothing."""
    for task in tasks:
        for block in task.outputs:
            if block.ref is None:
                block.unsent = error
