"""Registers the Ray backend through the ``nums_backends`` hook (Ray is imported only when
the backend is started)."""

from __future__ import annotations

from typing import Any

from nums.runtime.hookspecs import BackendSpec, hookimpl

OPTIONS = ("address", "num_cpus", "object_store_memory", "max_retries", "progress")


def make_ray_executor(settings: Any, **options: Any) -> Any:
    """Start (or join) Ray and return the executor; see :mod:`nums.backends.ray.executor`."""
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise ImportError("the Ray backend needs Ray: pip install 'nums[ray]'") from exc
    from nums.backends.ray.executor import RayExecutor

    return RayExecutor.start(settings, **options)


@hookimpl
def nums_backends() -> list[BackendSpec]:
    """The Ray backend."""
    return [BackendSpec("ray", make_ray_executor,
                        "batches of kernels on worker actors pinned to Ray nodes", OPTIONS)]
