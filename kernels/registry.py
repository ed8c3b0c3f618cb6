"""The kernel registry: kernel name -> :class:`Kernel`.

Built from every registered kernel set on first use; a later set for the same kind overrides
an earlier one (so a plugin can replace a built-in kernel).
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["Kernel", "kernel", "all_kernels"]


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
        return kernel, (self.name,)

    def __repr__(self) -> str:
        return f"Kernel({self.name!r}, kinds={sorted(self.impls)})"



@functools.lru_cache(maxsize=1)
def all_kernels() -> dict[str, Kernel]:
    """Every kernel, by name."""
    from nums.runtime.plugins import kernel_sets

    impls: dict[str, dict[str, object]] = {}
    for kernel_set in kernel_sets():
        for name, fn in kernel_set.kernels.items():
            impls.setdefault(name, {})[kernel_set.kind] = fn
    return {name: Kernel(name, by_kind) for name, by_kind in impls.items()}


def kernel(name: str) -> Kernel:
    """The kernel called ``name``."""
    try:
        return all_kernels()[name]
    except KeyError:
        raise KeyError(f"no kernel named {name!r} is registered") from None
