"""The session: one executor, its devices, the placement and the resolved settings.

There is at most one session per process. It is created by :func:`init`, or on first use
with the local backend; nothing happens at import time.
"""

from __future__ import annotations

import threading
from typing import Any

from nums.runtime.device import DeviceGrid
from nums.runtime.settings import Settings, resolve_settings

__all__ = ["Session", "init", "shutdown", "current", "is_initialized"]

_lock = threading.RLock()
_session: Session | None = None


class Session:
    """A running nums session."""

    def __init__(self, settings: Settings, executor: Any,
                 cluster_shape: tuple[int, ...] | None = None) -> None:
        from nums.optimizer.placement import make_placement

        self.settings = settings
        self.default_partitions: dict[int, int] = {}  # see nums.array.grid (aligned blocks)
        self.executor = executor
        self.devices = tuple(executor.devices())
        self.slots = tuple(max(1, int(executor.slots(d))) for d in self.devices)
        self.device_grid = DeviceGrid(self.devices, cluster_shape)
        self.placement = make_placement(settings.placement, self.device_grid)
        self.placement.defer_release = executor.defer_release

    @property
    def backend(self) -> str:
        return self.settings.backend

    def __repr__(self) -> str:
        return (f"Session(backend={self.backend!r}, devices={len(self.devices)}, "
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
    ValueError
        If ``backend`` is not registered (the message lists those that are).
    RuntimeError
        If a session with another backend is already running.
    """
    from nums.runtime.plugins import backends
    from nums.runtime.settings import SETTINGS

    global _session
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
        return _session


def shutdown() -> None:
    """Stop the session (no-op if none runs). Arrays of the old session become unusable."""
    global _session
    with _lock:
        if _session is not None:
            session, _session = _session, None
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
