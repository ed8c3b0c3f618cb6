"""Placement: which device runs each block operation.

Two strategies share one interface and one :class:`~nums.optimizer.state.ClusterState`:

- :class:`GreedyPlacement` (the default): every op with inputs goes to the device that
  minimises ``max(memory) + max(net_in) + max(net_out)`` after the move, ties broken toward
  the block-cyclic device and then the lowest device index (deterministic, as MPI needs).
  Ops are placed one at a time in the order the lowering emits them, which is a topological
  order of the block graph (every op's inputs are placed before it), so this is the NumS
  greedy search over the frontier of ready ops with a fixed, deterministic frontier order.
- :class:`CyclicPlacement`: compute every op where the block-cyclic layout says (output
  block ``i`` on device ``i mod grid``; partials where their first input lives), for
  comparison (``nums.init(placement="cyclic")``).

Memory capacity (``Device.capacity``): the greedy placement never puts an op on a device whose
memory would exceed its capacity while another device would stay within its own (in its
"cyclic" mode too: there an op leaves its block-cyclic device only for that reason); when
every device would exceed, the op goes where the objective grows least. The rule is in
:meth:`~nums.optimizer.state.ClusterState.costs`; with no bounded capacity it costs nothing.
The cyclic placement, pinned ops and ops without inputs do not look at capacities.

Ops without inputs (creation, blocks put from the driver) always follow the block-cyclic
layout. Both strategies record the loads they cause, so :func:`nums.explain` can report them.
Network loads are per job (reset by :meth:`Placement.begin_job`); memory persists and is
released when computed arrays are freed.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from nums.optimizer.state import ClusterState
from nums.runtime.device import DeviceGrid

__all__ = ["Placement", "CyclicPlacement", "GreedyPlacement", "make_placement"]


class Placement(abc.ABC):
    """Block-cyclic layout plus load bookkeeping; subclasses choose op devices."""

    name = "base"

    def __init__(self, device_grid: DeviceGrid) -> None:
        self.device_grid = device_grid
        self.state = ClusterState(len(device_grid),
                                  [d.capacity for d in device_grid.devices])
        self.moved_bytes = 0.0
        self.num_ops = 0
        self.off_layout = 0  # ops placed away from their default device this job
        # Bytes per device that the current node's ops made (outputs, received copies);
        # they stop counting when the node's result exists (:meth:`settle`).
        self._transient = [0.0] * len(device_grid)
        self._cache: dict[tuple[int, ...], np.ndarray] = {}
        # An SPMD executor sets this so that frees (garbage collection, which happens at
        # different moments on different ranks) are applied at the same point everywhere.
        self.defer_release: Callable[[Any, Callable[[], None]], None] | None = None

    def snapshot(self) -> Placement:
        """A frozen copy of the loads and counters (what a Plan reads)."""
        out = Placement.__new__(type(self))
        out.state = self.state.copy()
        out.moved_bytes, out.num_ops = self.moved_bytes, self.num_ops
        return out

    def copy(self) -> Placement:
        """An independent placement of the same kind with a copy of the loads (for plans
        made without running)."""
        out = type(self)(self.device_grid)
        out.state = self.state.copy()
        out._cache = self._cache
        return out

    def output_devices(self, grid_shape: tuple[int, ...]) -> np.ndarray:
        """Block-cyclic device index of every block of ``grid_shape`` (read-only array)."""
        found = self._cache.get(grid_shape)
        if found is None:
            found = self.device_grid.device_indices(grid_shape)
            found.setflags(write=False)
            self._cache[grid_shape] = found
        return found

    def single_device(self, device: int, ndim: int) -> np.ndarray:
        """The device array of a one-block array of ``ndim`` dimensions on ``device``
        (read-only, shared)."""
        key = (-1, device, ndim)  # grid shapes never start with -1
        found = self._cache.get(key)
        if found is None:
            found = np.full((1,) * ndim, device, dtype=np.intp)
            found.setflags(write=False)
            self._cache[key] = found
        return found

    def begin_job(self) -> None:
        """Start counting network loads for a new job (and drop what a job that failed
        half-way left: its partial results and received copies)."""
        if any(self._transient):
            self.state.release_totals(self._transient)
            self._transient = [0.0] * len(self._transient)
        self.state.forget_copies()
        self.state.reset_network()
        self.moved_bytes = 0.0
        self.num_ops = 0
        self.off_layout = 0

    def fixed(self, device: int, out_size: float) -> int:
        """Record an op with no inputs placed on ``device``; returns ``device``."""
        self.state.add_memory(device, out_size)
        self.num_ops += 1
        self._transient[device] += out_size
        return device

    def place(self, in_devices: Sequence[int], in_sizes: Sequence[float], out_size: float,
              default: int, in_keys: Sequence[Hashable | None] | None = None,
              pinned: bool = False) -> int:
        """Choose the device of one op, record its loads and return the device index.

        The op's output and the inputs it receives count as resident until :meth:`settle`
        (called when the node's result exists). ``in_keys`` name inputs that other ops of
        the same node may read too (a device receives such an input once). A ``pinned`` op
        runs on ``default`` whatever the search would choose (a read of the block a device
        owns); its loads are recorded all the same."""
        device = default if pinned else self.choose(in_devices, in_sizes, out_size, default,
                                                    in_keys)
        if device != default:
            self.off_layout += 1
        moved = self.state.apply(device, in_devices, in_sizes, out_size, in_keys)
        self.moved_bytes += moved
        self.num_ops += 1
        self._transient[device] += out_size + moved
        return device

    def follows_layout(self) -> bool:
        """Whether every op goes to its block-cyclic device (no search)."""
        return False

    def place_blocks(self, in_devices: Sequence[np.ndarray], in_sizes: Sequence[np.ndarray],
                     out_sizes: np.ndarray, defaults: np.ndarray,
                     in_blocks: Sequence[np.ndarray | None] | None = None) -> list[int]:
        """Place independent ops, one per output block (an elementwise node).

        ``in_devices[k][i]`` and ``in_sizes[k][i]`` are the device and bytes of input ``k``
        of op ``i``; ``defaults[i]`` is op ``i``'s block-cyclic device. ``in_blocks[k]``,
        for an input that is broadcast (one block read by several ops), numbers its blocks,
        so that a device receives each of them once. Returns the device of every op. When
        the strategy :meth:`follows_layout`, the loads of all ops are recorded at once
        (vectorised), which keeps planning 10,000 blocks cheap."""
        blocks = list(in_blocks) if in_blocks is not None else [None] * len(in_devices)
        if not self.follows_layout():
            return self._place_each(in_devices, in_sizes, out_sizes, defaults, blocks)
        n = self.state.num_devices
        moved = np.zeros(defaults.shape[0])
        sent = np.zeros(n)
        largest = 0.0
        for devs, sizes, index in zip(in_devices, in_sizes, blocks):
            needed = devs != defaults
            if index is not None:  # count each (block, receiving device) pair once
                first = np.zeros(needed.shape[0], dtype=bool)
                first[np.unique(index * n + defaults, return_index=True)[1]] = True
                needed &= first
            remote = np.where(needed, sizes, 0.0)
            if remote.shape[0]:
                largest = max(largest, float(remote.max()))
            moved += remote
            sent += np.bincount(devs, weights=remote, minlength=n)
        received = np.bincount(defaults, weights=moved, minlength=n)
        made = np.bincount(defaults, weights=out_sizes, minlength=n) + received
        self.state.add_loads(made, received, sent, largest)
        self.moved_bytes += float(received.sum())
        self.num_ops += defaults.shape[0]
        self._transient = [a + b for a, b in zip(self._transient, made.tolist())]
        return defaults.tolist()

    def _place_each(self, in_devices: Sequence[np.ndarray], in_sizes: Sequence[np.ndarray],
                    out_sizes: np.ndarray, defaults: np.ndarray,
                    blocks: list[np.ndarray | None]) -> list[int]:
        """:meth:`place_blocks` one op at a time (a strategy that searches)."""
        devs = [c.tolist() for c in in_devices]
        sizes = [c.tolist() for c in in_sizes]
        numbers = [c.tolist() if c is not None else None for c in blocks]
        keyed = any(c is not None for c in numbers)
        out = []
        for i, (out_size, default) in enumerate(zip(out_sizes.tolist(), defaults.tolist())):
            keys = [(k, c[i]) if c is not None else None
                    for k, c in enumerate(numbers)] if keyed else None
            out.append(self.place([c[i] for c in devs], [c[i] for c in sizes], out_size,
                                  default, keys))
        return out

    def settle(self, *leaves) -> None:
        """A node's results exist: forget the memory of everything its ops made (partial
        results, received copies) and count the results' blocks instead, until the arrays
        are freed (:meth:`release_leaf`)."""
        state, made = self.state, self._transient
        self._transient = [0.0] * len(made)
        state.forget_copies()
        state.release_totals(made)
        for leaf in leaves:  # one, except for a node with several outputs
            sizes = leaf.grid.block_nbytes(leaf.dtype.itemsize)
            if sizes.size == 1:
                state.add_memory(int(leaf.devices.flat[0]), float(sizes.flat[0]))
            else:
                state.add_loads(np.bincount(leaf.devices.ravel(), weights=sizes.ravel(),
                                            minlength=len(made)))

    @abc.abstractmethod
    def choose(self, in_devices: Sequence[int], in_sizes: Sequence[float], out_size: float,
               default: int, in_keys: Sequence[Hashable | None] | None = None) -> int:
        """The device index for one op (``default``: its block-cyclic device)."""

    def release(self, devices: np.ndarray, sizes: np.ndarray) -> None:
        """Freed blocks no longer count toward memory."""
        self.state.release(devices, sizes)

    def release_leaf(self, leaf) -> None:
        """A computed array was freed: its blocks no longer count toward memory. An SPMD
        executor (``defer_release``) applies it once every rank has freed the array."""
        devices, sizes = leaf.devices, leaf.grid.block_nbytes(leaf.dtype.itemsize)
        if self.defer_release is not None:
            self.defer_release(leaf, functools.partial(self.state.release, devices, sizes))
        elif sizes.size == 1:
            self.state.release_one(int(devices.flat[0]), float(sizes.flat[0]))
        else:
            self.state.release(devices, sizes)


class CyclicPlacement(Placement):
    """Every op on its block-cyclic device."""

    name = "cyclic"

    def choose(self, in_devices, in_sizes, out_size, default, in_keys=None):
        return default

    def follows_layout(self) -> bool:
        return True


MIN_GAIN = 1e-3  # relative objective gain below which an op stays on its default device


class GreedyPlacement(Placement):
    """Every op on the device minimising the objective after the move.

    An op leaves its default (block-cyclic) device only when that lowers the objective by
    more than :data:`MIN_GAIN` (relative): differences below the model's accuracy are ties,
    and a plan that keeps the layout needs no second dry plan (see ``_choose_mode``).

    Greedy decisions are myopic: for some jobs (matmuls especially) the block-cyclic plan
    ends with a lower objective. The lowering therefore plans such jobs both ways first
    (without running anything) and sets :attr:`mode` to whichever ends lower, so the
    optimizer is never worse than block-cyclic.
    """

    name = "greedy"

    def __init__(self, device_grid: DeviceGrid) -> None:
        super().__init__(device_grid)
        self.mode = "greedy"  # or "cyclic" for a job where that plan is better

    def copy(self) -> GreedyPlacement:
        out = super().copy()
        out.mode = self.mode
        return out

    def follows_layout(self) -> bool:
        state = self.state
        return state.num_devices == 1 or (self.mode == "cyclic" and not state.bounded)

    def choose(self, in_devices, in_sizes, out_size, default, in_keys=None):
        state = self.state
        if self.mode == "cyclic" and (not state.bounded or state.fits(
                default, in_devices, in_sizes, out_size, in_keys)):
            return default
        if state.num_devices == 1:
            return 0
        if state.at_lower_bound(default, in_devices, in_sizes, out_size, in_keys):
            return default  # nothing can beat the objective's lower bound
        costs = state.costs(in_devices, in_sizes, out_size, in_keys)
        best = min(costs)
        if costs[default] <= best * (1 + MIN_GAIN):
            return default  # leaving the layout must pay for itself
        return next(d for d, c in enumerate(costs) if c <= best)


_STRATEGIES = {"greedy": GreedyPlacement, "cyclic": CyclicPlacement}


def make_placement(name: str, device_grid: DeviceGrid) -> Placement:
    """The placement strategy called ``name`` ("greedy" or "cyclic")."""
    try:
        return _STRATEGIES[name](device_grid)
    except KeyError:
        raise ValueError(f"unknown placement {name!r}; choose one of "
                         f"{', '.join(sorted(_STRATEGIES))}") from None
