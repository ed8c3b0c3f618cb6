"""Plan: what a job puts on every device (bytes resident, received, sent).

Returned by :func:`nums.explain`. ``print(plan)`` shows one row per device; ``plan.plot()``
draws the three load vectors with matplotlib (an optional dependency).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nums.runtime.memory import human_bytes

__all__ = ["Plan"]


@dataclass(frozen=True)
class Plan:
    """Per-device loads of one job, in bytes, in device order.

    Attributes
    ----------
    devices : tuple of str
    memory, net_in, net_out : numpy.ndarray
        Bytes resident, received and sent per device after the job.
    peak_memory : numpy.ndarray
        The most bytes resident per device at any point of the job (partial results and
        received copies included).
    objective : float
        ``max(memory) + max(net_in) + max(net_out)``.
    moved_bytes : float
        Bytes that crossed devices.
    largest_move : float
        Bytes of the largest single block that crossed devices (0 when nothing moved): a
        quick check that big operands stayed in place.
    num_ops : int
        Block operations placed.
    placement : str
        "greedy" or "cyclic".
    executed : bool
        False for a plan made without running (a dry run of what would happen).
    """

    devices: tuple[str, ...]
    memory: np.ndarray
    net_in: np.ndarray
    net_out: np.ndarray
    peak_memory: np.ndarray
    objective: float
    moved_bytes: float
    largest_move: float
    num_ops: int
    placement: str
    executed: bool

    @classmethod
    def from_placement(cls, placement: Any, devices: Any, executed: bool) -> Plan:
        """Snapshot the loads a placement recorded."""
        state = placement.state
        return cls(tuple(str(d) for d in devices), state.memory, state.net_in, state.net_out,
                   state.peak_memory, state.objective(), placement.moved_bytes,
                   state.largest_move, placement.num_ops,
                   placement.name, executed)

    def __str__(self) -> str:
        head = (f"Plan ({self.placement} placement, {'executed' if self.executed else 'not run'}"
                f"): {self.num_ops} block ops, {human_bytes(self.moved_bytes)} moved "
                f"(largest block {human_bytes(self.largest_move)}), objective "
                f"{human_bytes(self.objective)}")
        rows = [f"{'device':<14}{'memory':>12}{'peak':>12}{'net_in':>12}{'net_out':>12}"]
        for name, m, p, i, o in zip(self.devices, self.memory, self.peak_memory, self.net_in,
                                    self.net_out):
            rows.append(f"{name:<14}{human_bytes(m):>12}{human_bytes(p):>12}{human_bytes(i):>12}"
                        f"{human_bytes(o):>12}")
        if len(self.devices) > 1:
            rows.append(f"{'max / mean':<14}"
                        + "".join(f"{v.max() / max(v.mean(), 1e-300):>12.2f}"
                                  for v in (self.memory, self.peak_memory, self.net_in,
                                            self.net_out)))
        return "\n".join([head, *rows])

    def plot(self, ax: Any = None) -> Any:
        """Bar chart of memory, net_in and net_out per device (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes, optional

        Returns
        -------
        matplotlib Axes
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("Plan.plot needs matplotlib: pip install matplotlib") from exc
        if ax is None:
            _, ax = plt.subplots(figsize=(max(4, len(self.devices) * 0.5), 3))
        x = np.arange(len(self.devices))
        for k, (label, values) in enumerate((("memory", self.memory), ("net_in", self.net_in),
                                             ("net_out", self.net_out))):
            ax.bar(x + (k - 1) * 0.27, values, width=0.27, label=label)
        ax.set_xticks(x, self.devices, rotation=90)
        ax.set_ylabel("bytes")
        ax.legend()
        return ax
