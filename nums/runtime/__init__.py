"""Runtime: devices, the executor protocol, plugins, settings and the session."""

from nums.runtime.device import Device, DeviceGrid
from nums.runtime.executor import Executor
from nums.runtime.hookspecs import BackendSpec, KernelSet, hookimpl, hookspec

__all__ = ["Device", "DeviceGrid", "Executor", "BackendSpec", "KernelSet",
           "hookimpl", "hookspec"]
