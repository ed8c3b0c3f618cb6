"""The plugin manager: collects backends and kernel sets from built-ins and entry points.

Built on first use, never at import, so importing nums loads no plugin.
"""

from __future__ import annotations

import functools

import pluggy

from nums.runtime.hookspecs import BackendSpec, KernelSet, NumsHookSpecs

__all__ = ["plugin_manager", "backends", "kernel_sets"]

BUILTIN_PLUGINS = (
    "nums.backends.local.plugin",
    "nums.backends.dryrun.plugin",
    "nums.backends.ray.plugin",
    "nums.backends.mpi.plugin",
    "nums.kernels.plugin",
)


@functools.lru_cache(maxsize=1)
def plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager (built once)."""
    import importlib

    pm = pluggy.PluginManager("nums")
    pm.add_hookspecs(NumsHookSpecs)
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    pm.load_setuptools_entrypoints("nums")
    return pm


def backends() -> dict[str, BackendSpec]:
    """Every registered backend, by name."""
    found: dict[str, BackendSpec] = {}
    for specs in reversed(plugin_manager().hook.nums_backends()):
        for spec in specs:
            found.setdefault(spec.name, spec)
    return found


def kernel_sets() -> list[KernelSet]:
    """Every registered kernel set, built-ins first."""
    sets: list[KernelSet] = []
    for group in reversed(plugin_manager().hook.nums_kernel_sets()):
        sets.extend(group)
    return sets
