"""ClusterState: the load the plan puts on every device, in bytes.

Three vectors, one entry per device: ``memory`` (bytes resident), ``net_in`` (bytes received)
and ``net_out`` (bytes sent). Placing an op with inputs ``(device, size)`` and an output of
``out_size`` bytes on device ``d`` adds ``out_size`` plus every input not already on ``d`` to
``memory[d]``, those inputs to ``net_in[d]``, and each one to ``net_out`` of its source.

A block is received by a device at most once per node: the executors keep a received copy
for every later task on that device (Ray's object store; the MPI executor sends a block to a
rank once). Ops therefore pass a key per input (which block of which operand it is); while the
current node is being placed, an input whose key a device already received costs nothing
there (:meth:`ClusterState.forget_copies` ends the node).

The objective of a placement is ``max(memory) + max(net_in) + max(net_out)`` after the move
(the L-infinity norms of the three vectors). :meth:`ClusterState.costs` evaluates it for every
candidate device at once without copying the vectors (each vector's maximum with one entry
changed comes from its two largest entries), so one decision costs O(devices). The vectors
are plain Python lists, which is faster than NumPy for the handful of devices of a laptop;
for many devices the costs are computed with NumPy.

Devices are counted by their index in the device grid, whatever their node and kind: a block
read by an op on another device counts as sent by its device and received by the op's, so a
block moving between a CPU and a GPU of the same node (a copy between memories, and a
conversion, see :mod:`nums.runtime.kinds`) costs like one moving between nodes.

**Capacity.** A device may have a memory capacity (``Device.capacity``, bytes; None:
unbounded). When some capacity is bounded, :meth:`ClusterState.costs` gives an infinite cost
to every device whose memory would exceed its capacity after the op, as long as at least one
device stays within its own; when every device would exceed, the costs are the plain
objective (the op must run somewhere; the one that raises the objective least is chosen).
:meth:`ClusterState.at_lower_bound` and :meth:`ClusterState.fits` apply the same test. With
no bounded capacity (the default) none of this runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["ClusterState"]

_NO_KEYS = itertools.repeat(None)  # the keys of inputs that are read once
_NUMPY_FROM = 32  # devices from which NumPy evaluates the costs faster than Python loops
_INF = float("inf")


def _top_two(values: list[float]) -> tuple[int, float, float]:
    """Index of the largest entry, the largest and the second largest value."""
    best_i, best, second = 0, values[0], float("-inf")
    for i in range(1, len(values)):
        v = values[i]
        if v > best:
            best_i, best, second = i, v, best
        elif v > second:
            second = v
    return best_i, best, second


def _max_excluding(values: np.ndarray) -> np.ndarray:
    """For every index i, the maximum of ``values`` without entry i."""
    top = int(np.argmax(values))
    second = np.max(np.delete(values, top))
    out = np.full(values.shape[0], values[top], dtype=np.float64)
    out[top] = second
    return out


class ClusterState:
    """Per-device memory, received and sent bytes."""

    __slots__ = ("_mem", "_in", "_out", "_peak", "_copies", "largest_move", "_cap")

    def __init__(self, num_devices: int,
                 capacity: Sequence[float | None] | None = None) -> None:
        self._mem = [0.0] * num_devices
        self._in = [0.0] * num_devices
        self._out = [0.0] * num_devices
        self._peak = [0.0] * num_devices
        self._copies: dict[Hashable, list[int]] = {}  # input key -> devices holding a copy
        self.largest_move = 0.0  # bytes of the largest block that crossed devices this job
        self._cap: list[float] | None = None  # bytes per device; None: all unbounded
        if capacity is not None:
            self.set_capacity(capacity)

    @property
    def num_devices(self) -> int:
        return len(self._mem)

    def set_capacity(self, capacity: Sequence[float | None] | None) -> None:
        """Set each device's memory capacity in bytes (None entries, or None: unbounded)."""
        if capacity is None or all(c is None for c in capacity):
            self._cap = None
            return
        if len(capacity) != len(self._mem):
            raise ValueError(f"{len(capacity)} capacities for {len(self._mem)} devices")
        self._cap = [float("inf") if c is None else float(c) for c in capacity]

    @property
    def capacity(self) -> np.ndarray:
        """Memory capacity per device in bytes (inf: unbounded; a copy)."""
        if self._cap is None:
            return np.full(len(self._mem), np.inf)
        return np.array(self._cap)

    @property
    def bounded(self) -> bool:
        """Whether some device has a bounded capacity."""
        return self._cap is not None

    @property
    def memory(self) -> np.ndarray:
        """Bytes resident per device (a copy)."""
        return np.array(self._mem)

    @property
    def peak_memory(self) -> np.ndarray:
        """Highest bytes resident per device since the job started (a copy)."""
        return np.array(self._peak)

    @property
    def net_in(self) -> np.ndarray:
        """Bytes received per device (a copy)."""
        return np.array(self._in)

    @property
    def net_out(self) -> np.ndarray:
        """Bytes sent per device (a copy)."""
        return np.array(self._out)

    def set(self, memory: Sequence[float], net_in: Sequence[float],
            net_out: Sequence[float]) -> None:
        """Replace the three vectors."""
        self._mem = [float(v) for v in memory]
        self._in = [float(v) for v in net_in]
        self._out = [float(v) for v in net_out]
        self._peak = list(self._mem)

    def reset_network(self) -> None:
        """Zero the received and sent bytes and restart the peaks (a new job)."""
        n = len(self._mem)
        if any(self._in) or any(self._out):
            self._in = [0.0] * n
            self._out = [0.0] * n
        self._peak = list(self._mem)
        self.largest_move = 0.0

    def copy(self) -> ClusterState:
        """An independent copy."""
        out = ClusterState.__new__(ClusterState)
        out._mem, out._in, out._out = list(self._mem), list(self._in), list(self._out)
        out._peak = list(self._peak)
        out._copies = {k: list(v) for k, v in self._copies.items()}
        out.largest_move = self.largest_move
        out._cap = self._cap
        return out

    def forget_copies(self) -> None:
        """The current node is placed: received copies are no longer shared."""
        if self._copies:
            self._copies = {}

    def _inputs(self, in_devices: Sequence[int], in_sizes: Sequence[float],
                in_keys: Sequence[Hashable | None] | None) -> list[tuple[list[int], float]]:
        """Per input: the devices that hold it (its source first, then received copies) and
        its bytes; an input whose key the op already reads counts once, as in :meth:`apply`."""
        if in_keys is None:
            return [([src], size) for src, size in zip(in_devices, in_sizes)]
        copies = self._copies
        seen: set[Hashable] = set()
        out = []
        for src, size, key in zip(in_devices, in_sizes, in_keys):
            if key is None:
                out.append(([src], size))
                continue
            held = copies.get(key)
            out.append(([src, *held] if held else [src], 0.0 if key in seen else size))
            seen.add(key)
        return out

    def objective(self) -> float:
        """``max(memory) + max(net_in) + max(net_out)``."""
        return max(self._mem) + max(self._in) + max(self._out)

    def costs(self, in_devices: Sequence[int], in_sizes: Sequence[float],
              out_size: float, in_keys: Sequence[Hashable | None] | None = None
              ) -> Sequence[float]:
        """The objective after placing the op on each device (one entry per device).

        ``in_keys`` name the inputs for the per-node receive cache (see the module notes);
        a device holding a received copy counts like the source for that input, except that
        sends are still charged to the source (an upper bound). A device that would exceed
        its capacity costs inf while another stays within its own (see the module notes)."""
        mem, nin, nout = self._mem, self._in, self._out
        n = len(mem)
        if n >= _NUMPY_FROM:
            return self._costs_numpy(in_devices, in_sizes, out_size, in_keys)
        on = [0.0] * n
        src_on = [0.0] * n
        total = 0.0
        for holders, size in self._inputs(in_devices, in_sizes, in_keys):
            src_on[holders[0]] += size
            for h in holders:
                on[h] += size
            total += size
        sent = [a + b for a, b in zip(nout, src_on)] if total else nout
        mi, m1, m2 = _top_two(mem)
        ii, i1, i2 = _top_two(nin)
        si, s1, s2 = _top_two(sent)
        out = []
        for d in range(n):
            moved = total - on[d]
            mem_d = mem[d] + out_size + moved
            in_d = nin[d] + moved
            other_m = m2 if d == mi else m1
            other_i = i2 if d == ii else i1
            other_s = s2 if d == si else s1
            out_d = nout[d]
            out.append((mem_d if mem_d > other_m else other_m)
                       + (in_d if in_d > other_i else other_i)
                       + (out_d if out_d > other_s else other_s))
        if self._cap is not None:
            # the same sums, in the same order, as apply() makes (tiny memories would
            # otherwise round away against the moved bytes)
            fits = [m + out_size + (total - o) <= c for m, o, c in zip(mem, on, self._cap)]
            if any(fits) and not all(fits):
                out = [c if f else _INF for c, f in zip(out, fits)]
        return out

    def at_lower_bound(self, device: int, in_devices: Sequence[int], in_sizes: Sequence[float],
                       out_size: float, in_keys: Sequence[Hashable | None] | None = None
                       ) -> bool:
        """Whether placing the op on ``device`` keeps the objective at its current value.

        The three vectors only grow when an op is placed, so the current objective is a lower
        bound for every candidate; a device that reaches it is optimal. Costs O(inputs)."""
        mem, nin, nout = self._mem, self._in, self._out
        moved = 0.0
        sent: dict[int, float] = {}
        for holders, size in self._inputs(in_devices, in_sizes, in_keys):
            src = holders[0]
            if device not in holders:
                moved += size
                sent[src] = sent.get(src, 0.0) + size
        if mem[device] + out_size + moved > max(mem):
            return False
        if self._cap is not None and mem[device] + out_size + moved > self._cap[device]:
            return False
        if moved:
            if nin[device] + moved > max(nin):
                return False
            top = max(nout)
            if any(nout[src] + size > top for src, size in sent.items()):
                return False
        return True

    def _costs_numpy(self, in_devices: Sequence[int], in_sizes: Sequence[float],
                     out_size: float, in_keys: Sequence[Hashable | None] | None) -> np.ndarray:
        memory, net_in, net_out = self.memory, self.net_in, self.net_out
        n = memory.shape[0]
        inputs = self._inputs(in_devices, in_sizes, in_keys)
        sizes = np.array([size for _, size in inputs], dtype=np.float64)
        src_on = np.bincount(np.asarray(in_devices, dtype=np.intp), weights=sizes,
                             minlength=n) if len(in_devices) else np.zeros(n)
        on = src_on
        if in_keys is not None and self._copies:
            on = src_on.copy()
            for holders, size in inputs:
                for h in holders[1:]:
                    on[h] += size
        moved_in = float(sizes.sum()) - on  # bytes that must come to each candidate
        mem_after = memory + out_size + moved_in
        mem_max = np.maximum(_max_excluding(memory), mem_after)
        in_max = np.maximum(_max_excluding(net_in), net_in + moved_in)
        out_max = np.maximum(_max_excluding(net_out + src_on), net_out)
        costs = mem_max + in_max + out_max
        if self._cap is not None:
            fits = mem_after <= np.array(self._cap)
            if fits.any() and not fits.all():
                costs[~fits] = np.inf
        return costs

    def fits(self, device: int, in_devices: Sequence[int], in_sizes: Sequence[float],
             out_size: float, in_keys: Sequence[Hashable | None] | None = None) -> bool:
        """Whether ``device``'s memory stays within its capacity after the op (always True
        when no capacity is bounded). Costs O(inputs)."""
        cap = self._cap
        if cap is None:
            return True
        moved = 0.0
        for holders, size in self._inputs(in_devices, in_sizes, in_keys):
            if device not in holders:
                moved += size
        return self._mem[device] + out_size + moved <= cap[device]

    def add_memory(self, device: int, size: float) -> None:
        """Count ``size`` more bytes resident on ``device``."""
        self._mem[device] += size
        if self._mem[device] > self._peak[device]:
            self._peak[device] = self._mem[device]

    def apply(self, device: int, in_devices: Sequence[int], in_sizes: Sequence[float],
              out_size: float, in_keys: Sequence[Hashable | None] | None = None) -> float:
        """Record the op placed on ``device``; returns the bytes it moved."""
        mem, nin, nout = self._mem, self._in, self._out
        mem[device] += out_size
        moved = 0.0
        copies = self._copies
        for src, size, key in zip(in_devices, in_sizes,
                                  in_keys if in_keys is not None else _NO_KEYS):
            if src == device:
                continue
            if key is not None:
                held = copies.setdefault(key, [])
                if device in held:
                    continue
                held.append(device)
            moved += size
            nout[src] += size
            if size > self.largest_move:
                self.largest_move = size
        if moved:
            mem[device] += moved
            nin[device] += moved
        if mem[device] > self._peak[device]:
            self._peak[device] = mem[device]
        return moved

    def add_loads(self, memory: np.ndarray, net_in: np.ndarray | None = None,
                  net_out: np.ndarray | None = None, largest_move: float = 0.0) -> None:
        """Add per-device vectors of bytes made resident, received and sent (and the
        largest single block among those received)."""
        if largest_move > self.largest_move:
            self.largest_move = largest_move
        mem, peak = self._mem, self._peak
        for d, size in enumerate(memory.tolist()):
            if size:
                mem[d] += size
                if mem[d] > peak[d]:
                    peak[d] = mem[d]
        if net_in is not None and net_in.any():
            self._in = [a + b for a, b in zip(self._in, net_in.tolist())]
        if net_out is not None and net_out.any():
            self._out = [a + b for a, b in zip(self._out, net_out.tolist())]

    def release_totals(self, sizes: Sequence[float]) -> None:
        """Forget ``sizes[d]`` bytes on every device ``d``.

        In place: a garbage-collected array can be released while :meth:`apply` holds the
        list."""
        mem = self._mem
        for d, size in enumerate(sizes):
            if size:
                left = mem[d] - size
                mem[d] = left if left > 0 else 0.0

    def release_one(self, device: int, size: float) -> None:
        """Forget ``size`` bytes on ``device``."""
        left = self._mem[device] - size
        self._mem[device] = left if left > 0 else 0.0

    def release(self, devices: np.ndarray, sizes: np.ndarray) -> None:
        """Forget blocks that were freed."""
        if np.size(devices) == 1:
            self.release_one(int(np.ravel(devices)[0]), float(np.ravel(sizes)[0]))
            return
        totals = np.bincount(np.ravel(devices), weights=np.ravel(sizes), minlength=len(self._mem))
        self.release_totals(totals.tolist())
