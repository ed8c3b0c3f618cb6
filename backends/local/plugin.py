"""Registers the local backend through the ``nums_backends`` hook.

The local backend takes one option beyond the common settings:

``device_kinds`` (sequence of str)
    The kind of every local device, in device order; its length is the number of devices.
    ``nums.init(backend="local", workers=2, device_kinds=("cpu", "testkind"))`` makes
    ``Device(0, "cpu", 0)`` and ``Device(0, "testkind", 0)`` (the index counts devices of the
    same kind, as a GPU ordinal does). Every worker thread still runs any task: a device is
    where the placement puts blocks and which kernels (and block conversions, see
    :mod:`nums.runtime.kinds`) run on them, so code for a second kind (a GPU kernel set, or
    a test kind) can be run and checked next to the CPU on one machine. Default: one
    ``"cpu"`` device per worker (one for ``workers=1``). With ``workers=1`` the devices run
    serially.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from nums.runtime.hookspecs import BackendSpec, hookimpl


def local_devices(kinds: Sequence[str]) -> tuple:
    """One device per entry of ``kinds`` on node 0, indexed within each kind."""
    from nums.runtime.device import Device

    if isinstance(kinds, str) or not kinds:
        raise ValueError(f"device_kinds must be a non-empty sequence of kind names, "
                         f"got {kinds!r}")
    seen: dict[str, int] = {}
    devices = []
    for kind in kinds:
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"device_kinds entries must be kind names, got {kind!r}")
        devices.append(Device(0, kind, seen.get(kind, 0)))
        seen[kind] = seen.get(kind, 0) + 1
    return tuple(devices)


def make_local_executor(settings, device_kinds: Sequence[str] | None = None, **options):
    """Serial executor for ``workers=1``, a thread pool otherwise (default: one per core);
    ``device_kinds`` (see the module docstring) sets the devices."""
    from nums.backends.local.executor import SerialExecutor, ThreadExecutor

    if options:
        raise TypeError(f"the local backend takes no option(s) {sorted(options)} "
                        "(its only option is device_kinds)")
    workers = settings.workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    devices = local_devices(device_kinds) if device_kinds is not None else None
    if workers == 1:
        return SerialExecutor(devices)
    return ThreadExecutor(workers, blas_threads=settings.blas_threads, devices=devices)


@hookimpl
def nums_backends() -> list[BackendSpec]:
    """The local backend."""
    return [BackendSpec("local", make_local_executor,
                        "in-process: serial (workers=1) or a thread pool; device_kinds= "
                        "sets the devices' kinds", options=("device_kinds",))]
