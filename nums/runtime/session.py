"""The session: one executor, its devices, the placement and the resolved settings.

There is at most one session per process. It is created by :func:`init`, or on first use
with the local backend; nothing happens at import time.

Every session has an ``id``, unique in the process (1, 2, ...). Blocks do not outlive their
session (``nums.shutdown()`` stops the executor that holds them), so each computed array (an
IR Leaf) records the id of the session that made it (``Leaf.session``, read from
:data:`running_id` when the Leaf is made), and the places where an array enters an operation
or is fetched compare it with :data:`running_id` (one int comparison) and raise
:func:`stale_array_error`'s RuntimeError when they differ, instead of handing a dead
executor's refs to the new one.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from nums.runtime.device import DeviceGrid
from nums.runtime.settings import Settings, positive_int, positive_shape, resolve_settings

__all__ = ["Session", "init", "shutdown", "current", "is_initialized", "stale_array_error"]

_lock = threading.RLock()
_session: Session | None = None
_ids = itertools.count(1)

#: The ``id`` of the running session; 0 while none runs. Read it as a module attribute
#: (``session.running_id``; a ``from`` import would copy today's value), never assign it
#: outside this module: new Leaves record it, and operations compare an input Leaf's
#: ``session`` with it.
running_id = 0

#: Backend options (of any backend) that must be positive integers when given.
POSITIVE_INT_OPTIONS = ("num_cpus", "num_devices", "object_store_memory")


class Session:
    """A running nums session."""

    def __init__(self, settings: Settings, executor: Any,
                 cluster_shape: tuple[int, ...] | None = None) -> None:
        from nums.optimizer.placement import make_placement

        self.id = next(_ids)
        self.settings = settings
        self.default_partitions: dict[int, int] = {}  # see nums.array.grid (aligned blocks)
        self.executor = executor
        self.devices = tuple(executor.devices())
        self.slots = tuple(max(1, int(executor.slots(d))) for d in self.devices)
        self.device_grid = DeviceGrid(self.devices, cluster_shape)
        self.placement = make_placement(settings.placement, self.device_grid)
        # One thread plans and submits at a time (the placement's loads and a node's
        # lowering are shared state); kernels still run in parallel and waiting for values
        # happens outside the lock.
        self.lock = threading.RLock()
        self.placement.defer_release = executor.defer_release

    @property
    def backend(self) -> str:
        return self.settings.backend

    def __repr__(self) -> str:
        return (f"Session(id={self.id}, backend={self.backend!r}, devices={len(self.devices)}, "
                f"grid={self.device_grid.shape})")


def init(backend: str | None = None, *, workers: int | None = None,
         block_size: int | str | None = None, cluster_shape: tuple[int, ...] | None = None,
         **options: Any) -> Session:
    """Start nums.

    Parameters
    ----------
    backend : str, optional
        A registered backend ("local" is built in; Ray and MPI plugins add theirs). Default:
        the ``NUMS_BACKEND`` environment variable, else "local".
    workers : int, optional
        Local backend: 1 runs every kernel serially (deterministic, for testing); N > 1 runs
        a pool of N threads. Default: one per core.
    block_size : int or str, optional
        Target bytes per block when a creation call gives no ``block_shape`` ("32MB").
    cluster_shape : tuple of int, optional
        Shape of the device grid for block-cyclic layouts; default one axis of all devices.
    **options
        Other settings (see :mod:`nums.runtime.settings`) and backend options.

    Returns
    -------
    Session

    Raises
    ------
    TypeError, ValueError
        For a setting, ``cluster_shape`` or a sized backend option (``num_cpus``,
        ``num_devices``, ``object_store_memory``) of the wrong type or value (a ``NUMS_*``
        variable with a bad value: ValueError naming it), and for an unregistered
        ``backend`` (ValueError; the message lists those that are).
    RuntimeError
        If a session with another backend is already running.
    """
    from nums.runtime.plugins import backends
    from nums.runtime.settings import SETTINGS

    global _session, running_id
    if cluster_shape is not None:
        cluster_shape = positive_shape(cluster_shape, "cluster_shape")
    for name in POSITIVE_INT_OPTIONS:
        if options.get(name) is not None:
            options[name] = positive_int(options[name], name)
    setting_values = {k: options.pop(k) for k in list(options) if k in SETTINGS}
    setting_values.update(backend=backend, workers=workers, block_size=block_size)
    settings = resolve_settings(setting_values)
    with _lock:
        if _session is not None:
            if _session.settings.as_dict() == settings.as_dict() and not options \
                    and cluster_shape is None:
                return _session
            raise RuntimeError(
                f"nums is already running with backend {_session.backend!r} and other "
                "settings; call nums.shutdown() first")
        available = backends()
        spec = available.get(settings.backend)
        if spec is None:
            raise ValueError(f"unknown nums backend {settings.backend!r}; registered "
                             f"backends: {', '.join(sorted(available))}")
        if "cluster_shape" in spec.options:
            options["cluster_shape"] = cluster_shape
        executor = spec.factory(settings, **options)
        try:
            _session = Session(settings, executor, cluster_shape)
        except Exception:
            executor.shutdown()
            raise
        running_id = _session.id
        return _session


def shutdown() -> None:
    """Stop the session (no-op if none runs). Arrays of the old session become unusable."""
    global _session, running_id
    with _lock:
        if _session is not None:
            session, _session = _session, None
            running_id = 0
            session.executor.shutdown()


def current() -> Session:
    """The running session, starting the default one on first use."""
    session = _session
    if session is None:
        return init()
    return session


def is_initialized() -> bool:
    """Whether a session runs."""
    return _session is not None


def stale_array_error(session_id: int) -> RuntimeError:
    """The error for an array made by the session ``session_id``, used after that session
    was shut down (by a later operation, computation or ``get()``)."""
    running = (f"the running session is {running_id}" if running_id
               else "no session is running")
    return RuntimeError(
        f"this array belongs to nums session {session_id}, which was shut down ({running}); "
        "arrays do not survive nums.shutdown(): get() the values you need before shutting "
        "down and make new arrays after nums.init()")
