"""The executor protocol: the only thing nums asks of a backend.

An executor knows devices, values and kernels; it knows nothing of arrays. Refs are whatever
the backend uses (the value itself, a Future, a Ray ObjectRef, an MPI owner id). In
:meth:`Executor.submit`, ``args`` may mix refs of this executor with plain Python values; the
executor resolves the refs at the top level of ``args`` before calling the kernel (Ray's
convention), so kernels only ever see values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from nums.runtime.device import Device

__all__ = ["Executor", "Kernel"]


class Kernel:
    """A named block kernel with one implementation per device kind.

    Kernels pickle by name, so a worker process resolves them in its own kernel registry.
    """

    __slots__ = ("name", "impls", "num_returns")

    def __init__(self, name: str, impls: dict[str, Any], num_returns: int = 1) -> None:
        self.name = name
        self.impls = impls
        self.num_returns = num_returns

    def for_kind(self, kind: str) -> Any:
        """Return the implementation for devices of ``kind`` ("cpu", "gpu")."""
        try:
            return self.impls[kind]
        except KeyError:
            raise NotImplementedError(
                f"kernel {self.name!r} has no implementation for {kind!r} devices") from None

    def __reduce__(self):
        from nums.kernels.registry import kernel

        return kernel, (self.name,)

    def __repr__(self) -> str:
        return f"Kernel({self.name!r}, kinds={sorted(self.impls)})"


@runtime_checkable
class Executor(Protocol):
    """What a backend provides. All methods are called from the driver only."""

    name: str

    def devices(self) -> Sequence[Device]:
        """Every device this executor can place blocks on, in a fixed order."""

    def put(self, value: Any, device: Device) -> Any:
        """Store ``value`` on ``device``; return its ref."""

    def submit(self, kernel: Kernel, args: Sequence[Any], device: Device,
               num_returns: int = 1, nbytes: float | None = None) -> Any:
        """Run ``kernel(*args)`` on ``device``; return a ref, or a tuple of
        ``num_returns`` refs when ``num_returns > 1``. ``nbytes``, when given, is the
        expected size of the output (a hint; executors may ignore it)."""

    def get(self, refs: Sequence[Any]) -> list[Any]:
        """Wait for ``refs`` and return their values, raising a kernel's exception as is."""

    # Optional: ``slots(device) -> int``, how many tasks ``device`` runs at once (a Ray node's
    # CPUs); default 1. The lowering gives each slot one task of a reduction or contraction.

    def free(self, refs: Sequence[Any]) -> None:
        """Release ``refs`` early (a hint; refs are also released when dropped)."""

    def shutdown(self) -> None:
        """Stop workers and release resources; the executor is unusable afterwards."""
