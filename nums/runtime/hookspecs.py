"""pluggy hook specifications: how executors and kernel sets join nums.

Built-in backends and kernels register through these hooks exactly like third-party ones;
third parties are found through the ``nums`` entry-point group::

    [project.entry-points.nums]
    mybackend = "mypackage.nums_plugin"

where ``mypackage.nums_plugin`` defines ``@nums.runtime.hookimpl`` functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from nums.runtime.kinds import DeviceKind

__all__ = ["hookspec", "hookimpl", "BackendSpec", "KernelSet", "DeviceKind", "NumsHookSpecs"]

hookspec = pluggy.HookspecMarker("nums")
hookimpl = pluggy.HookimplMarker("nums")


@dataclass(frozen=True)
class BackendSpec:
    """A backend a plugin offers.

    ``factory(settings, **options)`` returns an :class:`~nums.runtime.executor.Executor`.
    ``options`` lists the keyword arguments of ``nums.init`` the backend understands beyond the
    common settings (for example ``address`` for Ray).
    """

    name: str
    factory: Callable[..., Any]
    description: str = ""
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class KernelSet:
    """Block kernels for one device kind: ``{kernel name: function}``.

    With ``takes_device``, every kernel of the set is called as ``fn(*blocks,
    device=device)`` with the :class:`~nums.runtime.device.Device` it runs on (a GPU kernel
    selects its GPU with it); otherwise as ``fn(*blocks)``. Either way its array arguments
    arrive as arrays of ``kind`` (see :mod:`nums.runtime.kinds`, whose hook
    ``nums_device_kinds`` says what a kind's arrays are and how they move).
    """

    kind: str
    kernels: dict[str, Callable[..., Any]]
    takes_device: bool = False


class NumsHookSpecs:
    """The hooks a nums plugin may implement."""

    @hookspec
    def nums_backends(self) -> list[BackendSpec]:
        """Return the backends this plugin provides."""

    @hookspec
    def nums_kernel_sets(self) -> list[KernelSet]:
        """Return the kernel sets this plugin provides (one per device kind)."""

    @hookspec
    def nums_device_kinds(self) -> list[DeviceKind]:
        """Return the device kinds this plugin provides (what their blocks are and how they
        move to and from host memory; see :mod:`nums.runtime.kinds`)."""
