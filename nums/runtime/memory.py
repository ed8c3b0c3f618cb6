"""Memory sizes: what this machine has available, and byte counts people can read.

Used by the memory guard (:meth:`nums.ir.lower.Lowering.ensure` asks the executor's
:meth:`~nums.runtime.executor.Executor.memory_budget` before computing a large array) and by
:class:`~nums.optimizer.plan.Plan`'s report.
"""

from __future__ import annotations

import os

__all__ = ["available_memory", "human_bytes"]


def available_memory() -> float | None:
    """Bytes of memory this machine can give without swapping (Linux ``MemAvailable``; else
    the free physical pages), or None where the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def human_bytes(n: float) -> str:
    """``n`` bytes in binary units, e.g. ``"1.5 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"
