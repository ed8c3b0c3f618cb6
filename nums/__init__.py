"""nums: NumPy on many machines (CPUs; GPU blocks are planned).

>>> import nums, nums.numpy as nps
>>> nums.init()                                # local backend, one worker per core
>>> x = nps.arange(10.0, block_shape=(4,))
>>> float((x * 2).sum())
90.0

Importing nums starts nothing and changes nothing in the process; the session starts at
:func:`init` or on first use.
"""

from __future__ import annotations

from typing import Any

from nums.runtime.session import Session, current, init, is_initialized, shutdown

__version__ = "0.1.0"
__all__ = ["init", "shutdown", "get", "explain", "session", "is_initialized", "rank",
           "is_root", "Session", "__version__"]


def get(*arrays: Any) -> Any:
    """Compute several arrays at once and return them as NumPy arrays.

    Parameters
    ----------
    *arrays : BlockArray
        Arrays to compute (their tasks are submitted together before any is waited on).

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        One array for one argument, a tuple otherwise.
    """
    from nums.array.conversion import is_blockarray
    from nums.ir.lower import materialize
    from nums.runtime.transfer import fetch

    nodes = [a._node for a in arrays if is_blockarray(a)]
    materialize(nodes)
    out = []
    for a in arrays:
        if is_blockarray(a):
            out.append(fetch(a._leaf()))
        else:
            import numpy as np

            out.append(np.asarray(a))
    return out[0] if len(out) == 1 else tuple(out)


def session() -> Session:
    """The running session (started with the defaults if none runs)."""
    return current()


def explain(*arrays: Any) -> Any:
    """Where the work of computing ``arrays`` goes: per-device memory and traffic.

    Parameters
    ----------
    *arrays : BlockArray

    Returns
    -------
    nums.optimizer.plan.Plan
        For arrays already computed, the plan of the job that computed them; otherwise the
        plan of computing them now, made without running anything (``plan.executed`` is
        False). ``print(plan)`` is a table; ``plan.plot()`` draws it.
    """
    from nums.array.conversion import is_blockarray
    from nums.ir.lower import plan_of

    nodes = [a._node for a in arrays if is_blockarray(a)]
    if nodes and all(n.leaf is not None and n.leaf.plan is not None for n in nodes):
        return nodes[0].leaf.plan()
    return plan_of(nodes)


def rank() -> int:
    """This process's rank in an MPI job: 0 on other backends and outside mpiexec.

    Works before ``nums.init``: under ``mpiexec`` it reads the launcher's environment.

    Returns
    -------
    int
    """
    import os

    from nums.runtime import session as _session_module

    running = _session_module._session
    value = running.executor.rank if running is not None else None
    if isinstance(value, int):
        return value
    for name in ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"):
        text = os.environ.get(name, "")
        if text.isdigit():
            return int(text)
    return 0


def is_root() -> bool:
    """Whether this process is rank 0 (use it to print once under mpiexec).

    Returns
    -------
    bool
    """
    return rank() == 0
