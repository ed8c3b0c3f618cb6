"""The kernel registry: kernel name -> :class:`Kernel`.

Built from every registered kernel set on first use; a later set for the same kind overrides
an earlier one (so a plugin can replace a built-in kernel).

Executors call a kernel through :meth:`Kernel.for_device`, the one place where a kernel meets
the device it runs on: it picks the implementation for the device's kind and returns what to
call with the block arguments:

- the plain function, for a kind whose set does not take the device and whose kernels never
  need conversion (see :func:`nums.runtime.kinds.args_converter`): the CPU kernels of a
  CPU-only installation, with no work added per call;
- otherwise a function bound to the device (cached per device): it converts array arguments
  of another kind's memory to the device's kind (the rule of :mod:`nums.runtime.kinds`) and,
  for a :class:`~nums.runtime.hookspecs.KernelSet` with ``takes_device``, passes
  ``device=device``.

Kernel objects are stable: code may keep one for the life of the process. :func:`reload`
(after a plugin was registered or unregistered at run time) rebuilds the registry and updates
the existing objects in place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nums.runtime.device import Device

__all__ = ["Kernel", "kernel", "all_kernels", "reload"]


class Kernel:
    """A named block kernel with one implementation per device kind.

    Parameters
    ----------
    name : str
    impls : dict
        ``{device kind: function}``.
    num_returns : int
    takes_device : iterable of str
        The kinds whose function takes the device (``fn(*blocks, device=device)``).

    Kernels pickle by name, so a worker process resolves them in its own kernel registry.
    """

    __slots__ = ("name", "impls", "num_returns", "takes_device", "_direct", "_bound")

    def __init__(self, name: str, impls: dict[str, Any], num_returns: int = 1,
                 takes_device: Iterable[str] = ()) -> None:
        self.name = name
        self.num_returns = num_returns
        self._set_impls(impls, takes_device)

    def _set_impls(self, impls: dict[str, Any], takes_device: Iterable[str] = ()) -> None:
        self.impls = impls
        self.takes_device = frozenset(takes_device)
        self._direct: dict[str, Any] = {}  # kind -> function called as is
        self._bound: dict[Device, Any] = {}  # device -> function bound to it

    def for_kind(self, kind: str) -> Any:
        """Return the implementation for devices of ``kind`` ("cpu", "gpu") as registered
        (see :meth:`for_device` for what executors call)."""
        try:
            return self.impls[kind]
        except KeyError:
            raise NotImplementedError(
                f"kernel {self.name!r} has no implementation for {kind!r} devices") from None

    def for_device(self, device: Device) -> Callable[..., Any]:
        """What an executor calls with the block arguments to run this kernel on ``device``.

        Raises
        ------
        NotImplementedError
            If no kernel set of ``device.kind`` has this kernel (naming both).
        """
        fn = self._direct.get(device.kind)
        if fn is None:
            fn = self._bound.get(device)
            if fn is None:
                fn = self._bind(device)
        return fn

    def _bind(self, device: Device) -> Callable[..., Any]:
        from nums.runtime.kinds import args_converter

        kind = device.kind
        fn = self.for_kind(kind)
        convert = args_converter(kind)
        takes = kind in self.takes_device
        if convert is None and not takes:
            self._direct[kind] = fn
            return fn
        if convert is None:
            bound = functools.partial(fn, device=device)
        elif takes:
            def bound(*args: Any) -> Any:
                return fn(*convert(args, device), device=device)
        else:
            def bound(*args: Any) -> Any:
                return fn(*convert(args, device))
        self._bound[device] = bound
        return bound

    def __reduce__(self):
        return kernel, (self.name,)

    def __repr__(self) -> str:
        return f"Kernel({self.name!r}, kinds={sorted(self.impls)})"


_KERNELS: dict[str, Kernel] = {}  # every Kernel object this registry made, by name


@functools.lru_cache(maxsize=1)
def all_kernels() -> dict[str, Kernel]:
    """Every kernel, by name (the same objects across rebuilds)."""
    from nums.runtime import kinds
    from nums.runtime.plugins import kernel_sets

    kinds.clear_cache()  # the plugins may have changed since the kinds were read
    impls: dict[str, dict[str, object]] = {}
    takes: dict[str, set[str]] = {}
    for kernel_set in kernel_sets():
        for name, fn in kernel_set.kernels.items():
            impls.setdefault(name, {})[kernel_set.kind] = fn
            if kernel_set.takes_device:
                takes.setdefault(name, set()).add(kernel_set.kind)
            else:
                takes.setdefault(name, set()).discard(kernel_set.kind)
    for name, k in _KERNELS.items():
        if name not in impls:
            k._set_impls({})  # unregistered: every kind raises NotImplementedError
    out = {}
    for name, by_kind in impls.items():
        k = _KERNELS.get(name)
        if k is None:
            k = _KERNELS[name] = Kernel(name, by_kind, takes_device=takes[name])
        else:
            k._set_impls(by_kind, takes[name])
        out[name] = k
    return out


def reload() -> dict[str, Kernel]:
    """Rebuild the kernel registry and the device kinds from the registered plugins (after
    registering or unregistering one with ``plugin_manager()``); kernel objects held
    elsewhere see the new implementations."""
    all_kernels.cache_clear()
    return all_kernels()


def kernel(name: str) -> Kernel:
    """The kernel called ``name``."""
    try:
        return all_kernels()[name]
    except KeyError:
        raise KeyError(f"no kernel named {name!r} is registered") from None
