"""The executor protocol: the only thing nums asks of a backend.

An executor knows devices, values and kernels; it knows nothing of arrays. Refs are whatever
the backend uses (the value itself, a Future, a Ray ObjectRef, an MPI owner id). In
:meth:`Executor.submit`, ``args`` may mix refs of this executor with plain Python values; the
executor resolves the refs at the top level of ``args`` before calling the kernel (Ray's
convention), so kernels only ever see values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nums.runtime.device import Device

if TYPE_CHECKING:
    from nums.kernels.registry import Kernel

__all__ = ["Executor"]


class Executor:
    """What a backend provides; subclass it. All methods are called from the driver only.

    The first six methods have no default: every backend implements them. The rest have
    defaults that suit a backend keeping every block in this process (the core calls them
    directly, never probing with ``getattr``).
    """

    name: str = "executor"
    #: This process's rank in an SPMD job (MPI); None where the backend is not SPMD.
    rank: int | None = None
    #: An SPMD backend's ``defer_release(leaf, apply)``: call ``apply()`` (which drops the
    #: blocks' memory from the placement's loads) at a point every rank agrees on. None:
    #: apply at once.
    defer_release: Any = None

    def devices(self) -> Sequence[Device]:
        """Every device this executor can place blocks on, in a fixed order."""
        raise NotImplementedError

    def put(self, value: Any, device: Device) -> Any:
        """Store ``value`` on ``device``; return its ref."""
        raise NotImplementedError

    def submit(self, kernel: Kernel, args: Sequence[Any], device: Device,
               num_returns: int = 1, nbytes: float | None = None) -> Any:
        """Run ``kernel.for_device(device)(*args)`` on ``device`` (the kernel as its kind
        implements it, see :meth:`nums.kernels.registry.Kernel.for_device`); return a ref, or
        a tuple of ``num_returns`` refs when ``num_returns > 1``. ``nbytes``, when given, is
        the expected size of the output (a hint; executors may ignore it)."""
        raise NotImplementedError

    def get(self, refs: Sequence[Any]) -> list[Any]:
        """Wait for ``refs`` and return their values, raising a kernel's exception as is."""
        raise NotImplementedError

    def free(self, refs: Sequence[Any]) -> None:
        """Release ``refs`` early (a hint; refs are also released when dropped)."""
        raise NotImplementedError

    def shutdown(self) -> None:
        """Stop workers and release resources; the executor is unusable afterwards."""
        raise NotImplementedError

    def flush(self) -> None:
        """Start the tasks submitted so far (an executor may stage them until then). The
        lowering calls it after each node; the default runs nothing (tasks ran at submit)."""
        return None

    def is_local(self, device: Device) -> bool:
        """Whether blocks of ``device`` are held by this process (an SPMD rank holds only its
        own; the driver of a local or Ray session holds or reaches them all)."""
        return True

    def slots(self, device: Device) -> int:
        """How many tasks ``device`` runs at once (a Ray node's CPUs). The lowering gives
        each slot one task of a reduction or contraction."""
        return 1

    def memory_budget(self) -> float | None:
        """Bytes the devices can hold in all, now (None: unknown). The memory guard asks it
        before computing an array larger than ``nums.ir.lower.GUARD_FROM`` bytes; an SPMD
        backend must return the same number on every rank."""
        return None
