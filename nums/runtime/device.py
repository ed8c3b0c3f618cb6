"""Devices and the device grid (block-cyclic layout).

A :class:`Device` is where a block lives and a kernel runs: a node (or MPI rank), a kind
(``"cpu"``, ``"gpu"``, ...: which kernels run there and what its blocks are, see
:mod:`nums.runtime.kinds`), an index among the devices of that kind on that node (a GPU's
ordinal), and a memory capacity in bytes (None: unknown, treated as unbounded; the greedy
placement keeps a device within it, see :mod:`nums.optimizer.placement`).

A :class:`DeviceGrid` arranges devices in n dimensions; block ``(i, j, ...)`` of an array
goes to device ``(i mod g0, j mod g1, ...)``. When an array has fewer dimensions than the
grid, the grid is folded into as many axes as the array has (the trailing grid axes multiply
into the last one used), so every device is still used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["Device", "DeviceGrid"]


class Device(NamedTuple):
    """A place where blocks live: ``Device(node, kind, index, capacity=None)``.

    ``capacity`` is the bytes of blocks the device can hold (None: unknown/unbounded). It
    takes part in equality like the other fields; executors give every device its capacity
    when they create it."""

    node: int
    kind: str
    index: int
    capacity: float | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.node}/{self.index}"


class DeviceGrid:
    """Devices arranged in an n-dimensional grid, for block-cyclic placement.

    Parameters
    ----------
    devices : sequence of Device
        Devices in row-major grid order.
    shape : tuple of int, optional
        Grid shape; its product must equal ``len(devices)``. Default: ``(len(devices),)``.
    """

    __slots__ = ("devices", "shape", "_folded")

    def __init__(self, devices: Sequence[Device], shape: tuple[int, ...] | None = None) -> None:
        self.devices = tuple(devices)
        if not self.devices:
            raise ValueError("a device grid needs at least one device")
        self.shape = (len(self.devices),) if shape is None else tuple(int(s) for s in shape)
        if math.prod(self.shape) != len(self.devices):
            raise ValueError(f"cluster_shape {self.shape} does not hold "
                             f"{len(self.devices)} devices")
        self._folded: dict[int, tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self.devices)

    def __repr__(self) -> str:
        return f"DeviceGrid(shape={self.shape}, devices={[str(d) for d in self.devices]})"

    def folded_shape(self, ndim: int) -> tuple[int, ...]:
        """Grid shape used for an array of ``ndim`` dimensions."""
        shape = self._folded.get(ndim)
        if shape is None:
            if ndim >= len(self.shape):
                shape = self.shape + (1,) * (ndim - len(self.shape))
            elif ndim == 0:
                shape = ()
            else:
                shape = self.shape[: ndim - 1] + (math.prod(self.shape[ndim - 1:]),)
            self._folded[ndim] = shape
        return shape

    def device_index(self, block_index: Sequence[int]) -> int:
        """Index into ``devices`` of the device owning ``block_index``."""
        shape = self.folded_shape(len(block_index))
        flat = 0
        for i, g in zip(block_index, shape):
            flat = flat * g + i % g
        return flat

    def device_indices(self, grid_shape: tuple[int, ...]) -> np.ndarray:
        """Device index of every block of a grid, as an int array of ``grid_shape``."""
        shape = self.folded_shape(len(grid_shape))
        flat = np.zeros(grid_shape, dtype=np.intp)
        for axis, (n, g) in enumerate(zip(grid_shape, shape)):
            view = [1] * len(grid_shape)
            view[axis] = n
            flat = flat * g + (np.arange(n) % g).reshape(view)
        return flat
