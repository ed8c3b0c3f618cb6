"""Block-cyclic placement: compute every output block where its grid coordinate says.

Deterministic by construction (it depends only on grid shapes), which MPI relies on. Partial
results of reductions and contractions are computed where their first input lives, so data
stays put and only the small partials move.
"""

from __future__ import annotations

import numpy as np

from nums.runtime.device import DeviceGrid

__all__ = ["CyclicPlacement"]


class CyclicPlacement:
    """Places output block ``i`` on ``device_grid``'s device for ``i``."""

    name = "cyclic"

    def __init__(self, device_grid: DeviceGrid) -> None:
        self.device_grid = device_grid
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def output_devices(self, grid_shape: tuple[int, ...]) -> np.ndarray:
        """Device index (into the grid's device list) of every block of ``grid_shape``."""
        found = self._cache.get(grid_shape)
        if found is None:
            found = self.device_grid.device_indices(grid_shape)
            found.setflags(write=False)
            self._cache[grid_shape] = found
        return found
