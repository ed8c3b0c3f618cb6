"""DryRunExecutor: devices without data.

``nums.init(backend="dryrun", cluster_shape=(64,))`` runs a script on shapes and dtypes only:
every op is lowered and placed exactly as on a real cluster of that many devices, but no
kernel runs and no block exists, so a 1,024-device plan of a terabyte-sized job takes seconds
on a laptop. :func:`nums.explain` reports the peak memory and traffic per device; asking for
a value (``get()``, ``bool()``, printing) raises a clear error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nums.runtime.device import Device
from nums.runtime.executor import Executor

if TYPE_CHECKING:
    from nums.kernels.registry import Kernel

__all__ = ["DryRunExecutor", "DryRunError"]


class DryRunError(RuntimeError):
    """Raised when a dry run is asked for a value."""


class _NoValue:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<dry-run block>"


_NO_VALUE = _NoValue()


class DryRunExecutor(Executor):
    """An executor that accepts work and computes nothing."""

    name = "dryrun"

    def __init__(self, num_devices: int, nodes: int | None = None) -> None:
        if num_devices < 1:
            raise ValueError(f"a dry run needs at least one device, got {num_devices}")
        self._devices = tuple(Device(i, "cpu", 0) for i in range(num_devices))

    @classmethod
    def start(cls, settings: Any, cluster_shape: tuple[int, ...] | None = None,
              num_devices: int | None = None) -> DryRunExecutor:
        """The executor for ``cluster_shape`` (or ``num_devices``) simulated devices."""
        if num_devices is None:
            num_devices = math.prod(cluster_shape) if cluster_shape else 1
        return cls(int(num_devices))

    def devices(self) -> Sequence[Device]:
        return self._devices

    def put(self, value: Any, device: Device) -> Any:
        return _NO_VALUE

    def submit(self, kernel: Kernel, args: Sequence[Any], device: Device,
               num_returns: int = 1, nbytes: float | None = None) -> Any:
        return _NO_VALUE if num_returns == 1 else (_NO_VALUE,) * num_returns

    def flush(self) -> None:
        return None

    def get(self, refs: Sequence[Any]) -> list[Any]:
        raise DryRunError("this is a dry run (backend='dryrun'): arrays have shapes and "
                          "placements but no values; use nums.explain(x) to see the plan")

    def free(self, refs: Sequence[Any]) -> None:
        return None

    def shutdown(self) -> None:
        return None
