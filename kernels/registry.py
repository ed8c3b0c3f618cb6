"""The kernel registry: kernel name -> :class:`~nums.runtime.executor.Kernel`.

Built from every registered kernel set on first use; a later set for the same kind overrides
an earlier one (so a plugin can replace a built-in kernel).
"""

from __future__ import annotations

import functools

from nums.runtime.executor import Kernel

__all__ = ["kernel", "all_kernels"]


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
