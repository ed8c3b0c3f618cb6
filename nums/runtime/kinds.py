"""Device kinds: what a block of each kind is, and the one rule that moves blocks between kinds.

Every device has a kind (``"cpu"``, ``"gpu"``, ...). A :class:`DeviceKind` says what the
blocks of that kind are (``array_types``: the exact types of its arrays) and how to move them:
``to_host(block)`` returns a NumPy array, ``from_host(array, device)`` puts a NumPy array on
``device`` (a GPU kind copies it to GPU ``device.index``). A *host* kind (both converters
None) keeps its blocks as NumPy arrays in host memory: ``"cpu"`` is one (built in, the
identity), and so is every kind nobody registered (for example a second CPU kind made for
tests, see the local backend).

Kinds are registered like kernel sets, through the ``nums_device_kinds`` pluggy hook
(:mod:`nums.runtime.hookspecs`); a later registration of a name replaces an earlier one.

**The conversion rule lives here and only here.** A kernel placed on a device of kind ``K``
receives every array argument as an array of ``K``: an argument whose exact type belongs to
another kind with different memory is taken to host (its kind's ``to_host``) and then onto the
device (``K``'s ``from_host``); arrays inside plain tuples and lists (reduction partials) too.
:func:`args_converter` builds that function for ``K``, and
:meth:`nums.kernels.registry.Kernel.for_device` wraps a kernel with it. When ``K`` and every
registered kind are host kinds (a CPU-only installation), :func:`args_converter` returns None
and kernels run unwrapped: no conversion code on the CPU hot path. The driver's side of the
boundary uses :func:`to_host_values` (an executor's ``get``) and :func:`to_device` (its
``put``).

The caches here are rebuilt with the kernel registry (:func:`nums.kernels.registry.reload`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nums.runtime.device import Device

__all__ = ["DeviceKind", "CPU", "all_kinds", "device_kind", "args_converter", "to_host",
           "to_device", "to_host_values", "clear_cache"]


@dataclass(frozen=True)
class DeviceKind:
    """What the blocks of one device kind are and how they move to and from host memory.

    Parameters
    ----------
    name : str
        The kind, as in ``Device.kind``.
    array_types : tuple of type
        The exact types of this kind's arrays (``cupy.ndarray``); subclasses are not matched.
    to_host : callable, optional
        ``to_host(block) -> numpy.ndarray``. None for a host kind.
    from_host : callable, optional
        ``from_host(array, device) -> block`` of this kind on ``device``. None for a host kind.
    """

    name: str
    array_types: tuple[type, ...] = ()
    to_host: Callable[[Any], np.ndarray] | None = None
    from_host: Callable[[np.ndarray, Device], Any] | None = None

    def __post_init__(self) -> None:
        if (self.to_host is None) != (self.from_host is None):
            raise ValueError(f"device kind {self.name!r}: give both to_host and from_host "
                             "(a kind with its own memory) or neither (a host kind)")
        if self.to_host is not None and not self.array_types:
            raise ValueError(f"device kind {self.name!r}: a kind with its own memory needs "
                             "its array_types")

    @property
    def on_host(self) -> bool:
        """Whether the blocks of this kind are NumPy arrays in host memory."""
        return self.to_host is None


#: The built-in kind: NumPy arrays, nothing to convert.
CPU = DeviceKind("cpu", (np.ndarray,))


class _Registry:
    """The registered kinds and what is derived from them (built once per reload)."""

    def __init__(self, kinds: dict[str, DeviceKind]) -> None:
        self.kinds = kinds
        # Exact array type -> the kind with its own memory it belongs to.
        self.device_types = {t: k for k in kinds.values() if not k.on_host
                             for t in k.array_types}
        self.converters: dict[str, Callable[[tuple, Device], tuple] | None] = {}

    def kind(self, name: str) -> DeviceKind:
        found = self.kinds.get(name)
        return found if found is not None else DeviceKind(name)


@functools.lru_cache(maxsize=1)
def _registry() -> _Registry:
    from nums.runtime.plugins import plugin_manager

    kinds = {"cpu": CPU}
    for group in reversed(plugin_manager().hook.nums_device_kinds()):
        for kind in group:
            kinds[kind.name] = kind
    return _Registry(kinds)


def clear_cache() -> None:
    """Forget the registered kinds (after a plugin was registered or unregistered); use
    :func:`nums.kernels.registry.reload`, which also rebuilds the kernels."""
    _registry.cache_clear()


def all_kinds() -> dict[str, DeviceKind]:
    """Every registered kind, by name ("cpu" always)."""
    return dict(_registry().kinds)


def device_kind(name: str) -> DeviceKind:
    """The kind called ``name``; an unregistered name is a host kind."""
    return _registry().kind(name)


def _same_memory(a: DeviceKind, b: DeviceKind) -> bool:
    return a.name == b.name or (a.on_host and b.on_host)


def _convert(value: Any, target: DeviceKind, device: Device,
             sources: dict[type, DeviceKind]) -> Any:
    """``value`` as an array of ``target`` on ``device`` when its type is one of ``sources``
    (kinds whose memory differs from the target's); plain tuples and lists are walked."""
    t = type(value)
    source = sources.get(t)
    if source is not None:
        host = value if source.on_host else source.to_host(value)
        return host if target.on_host else target.from_host(host, device)
    if t is tuple or t is list:
        return t(_convert(v, target, device, sources) for v in value)
    return value


def args_converter(kind: str) -> Callable[[tuple, Device], tuple] | None:
    """``convert(args, device) -> args`` with every array of another kind's memory made an
    array of ``kind`` on ``device``; None when no argument can ever need it (``kind`` and
    every registered kind keep their blocks in host memory)."""
    registry = _registry()
    try:
        return registry.converters[kind]
    except KeyError:
        pass
    target = registry.kind(kind)
    sources = {t: k for k in registry.kinds.values() if not _same_memory(k, target)
               for t in k.array_types}
    convert = None
    if sources:
        def convert(args: tuple, device: Device) -> tuple:
            return tuple(_convert(a, target, device, sources) for a in args)
    registry.converters[kind] = convert
    return convert


def to_host(value: Any) -> Any:
    """``value`` with every array of a kind with its own memory taken to host memory
    (plain tuples and lists walked); anything else as is."""
    types = _registry().device_types
    if not types:
        return value
    return _convert(value, CPU, None, types)  # type: ignore[arg-type]


def to_host_values(values: list[Any]) -> list[Any]:
    """:func:`to_host` of every value (the driver's side of ``get``); ``values`` itself when
    only host kinds are registered."""
    types = _registry().device_types
    if not types:
        return values
    return [_convert(v, CPU, None, types) for v in values]  # type: ignore[arg-type]


def to_device(value: Any, device: Device) -> Any:
    """``value`` (a NumPy array, or a block of any kind) as a block of ``device``'s kind (the
    driver's side of ``put``); as is for a host kind."""
    registry = _registry()
    if not registry.device_types:
        return value
    if registry.kind(device.kind).on_host:
        return _convert(value, CPU, device, registry.device_types)
    convert = args_converter(device.kind)
    return convert((value,), device)[0] if convert is not None else value
