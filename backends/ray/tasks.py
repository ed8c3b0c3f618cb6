"""What runs inside a Ray worker: the generic kernel task and the start-up probe.

Kernels travel as :class:`~nums.runtime.executor.Kernel` objects, which pickle by name and are
resolved in the worker's own kernel registry, so one remote function runs every kernel. This
module imports neither Ray nor anything heavy: the executor wraps these functions with
``ray.remote`` when it starts.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["run_kernel", "probe_worker"]


def run_kernel(kernel: Any, kind: str, errstate: dict[str, str] | None, *args: Any) -> Any:
    """Run ``kernel``'s implementation for device ``kind`` on ``args`` (refs already resolved).

    Parameters
    ----------
    kernel : Kernel
        The kernel; anything with an ``impls`` mapping of device kind to function works.
    kind : str
        Device kind the task was placed on ("cpu", "gpu").
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
    try:
        fn = kernel.impls[kind]
    except KeyError:
        raise NotImplementedError(
            f"kernel {kernel.name!r} has no implementation for {kind!r} devices") from None
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
