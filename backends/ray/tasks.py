"""What runs inside a Ray worker: batches of kernels and the start-up probe.

Kernels travel as :class:`~nums.kernels.registry.Kernel` objects, which pickle by name and are
resolved in the worker's own kernel registry, so one function runs every kernel. The
executor sends the kernels of one node in *batches* (:func:`run_batch`): one call on a worker
actor (:mod:`nums.backends.ray.pool`) runs several kernels in order and returns every
kernel's output as a separate object. A Ray call round trip costs milliseconds; a kernel call
in a batch costs microseconds. A batch never waits for another one while it runs (see
:mod:`nums.backends.ray.batching`).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

__all__ = ["run_kernel", "run_batch", "BatchItem", "BatchArg", "BatchOutput", "probe_worker"]


class BatchArg(NamedTuple):
    """In a batch item's arguments: the batch call's ``index``-th top-level argument (an
    ObjectRef that Ray resolved before the call started), or its ``member``-th entry when that
    object is a *pack* of several blocks (see :mod:`nums.backends.ray.batching`)."""

    index: int
    member: int | None = None


class BatchOutput(NamedTuple):
    """In a batch item's arguments: output ``position`` of the batch's item ``item`` (an
    earlier item: items are listed in an order where every item follows what it reads)."""

    item: int
    position: int | None  # None: the item's only output


class BatchItem(NamedTuple):
    """One kernel call of a batch, on ``device`` (the worker calls
    ``kernel.for_device(device)``)."""

    kernel: Any
    device: Any  # nums.runtime.device.Device
    errstate: dict[str, str] | None
    args: tuple[Any, ...]  # values, BatchArg and BatchOutput entries
    num_returns: int


def run_batch(items: tuple[BatchItem, ...], layout: tuple[Any, ...] | None, *refs: Any
              ) -> Any:
    """Run a batch of kernels in order; return their outputs as ``layout`` says.

    Parameters
    ----------
    items : tuple of BatchItem
        The kernel calls, each after the items whose outputs it reads.
    layout : tuple or None
        What the call returns, one entry per Ray object: an output's position (in item
        order), or a tuple of positions for a pack (a list of those outputs, one object).
        None: every output on its own.
    *refs
        The blocks the items read from earlier batches (resolved by Ray, zero-copy).

    Returns
    -------
    object or list
        The single return, or a list of them (Ray stores each as its own object).
    """
    results: list[Any] = []
    outputs: list[Any] = []
    for item in items:
        result = _run_item(item, refs, results)
        results.append(result)
        if item.num_returns == 1:
            outputs.append(result)
        else:
            outputs.extend(result)
    if layout is not None:
        outputs = [outputs[r] if type(r) is int else [outputs[i] for i in r] for r in layout]
    return outputs[0] if len(outputs) == 1 else outputs


def _run_item(item: BatchItem, refs: tuple[Any, ...], done: list[Any]) -> Any:
    args = []
    for a in item.args:
        kind = type(a)
        if kind is BatchArg:
            a = refs[a.index] if a.member is None else refs[a.index][a.member]
        elif kind is BatchOutput:
            value = done[a.item]
            a = value if a.position is None else value[a.position]
        args.append(a)
    return run_kernel(item.kernel, item.device, item.errstate, *args)


def run_kernel(kernel: Any, device: Any, errstate: dict[str, str] | None, *args: Any) -> Any:
    """Run ``kernel`` on ``device`` with ``args`` (refs already resolved).

    Parameters
    ----------
    kernel : Kernel
        The kernel (its ``for_device`` gives what to call: the implementation for the
        device's kind, given the device and converted arguments where its set asks for them).
    device : Device
        The device the task was placed on.
    errstate : dict or None
        The driver's ``np.geterr()`` at submission when it differs from NumPy's default, so
        that ``with np.errstate(...)`` in the driver applies to its tasks as with NumPy.
    *args
        The kernel's arguments.

    Returns
    -------
    object
        What the kernel returns: a block, or a tuple of ``num_returns`` values.
    """
    fn = kernel.for_device(device)
    if errstate is None:
        return fn(*args)
    with np.errstate(**errstate):
        return fn(*args)


def probe_worker() -> dict[str, Any]:
    """Import nums' kernels in a worker and say where it runs (used once per node at start).

    Returns
    -------
    dict
        ``node_id`` (hex), ``pid``, and ``kernels``: how many kernels the worker's registry has.
    """
    import ray
    from nums.kernels.registry import all_kernels

    return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
            "kernels": len(all_kernels())}
