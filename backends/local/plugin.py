"""Registers the local backend through the ``nums_backends`` hook."""

from __future__ import annotations

import os

from nums.runtime.hookspecs import BackendSpec, hookimpl


def make_local_executor(settings, **options):
    """Serial executor for ``workers=1``, a thread pool otherwise (default: one per core)."""
    from nums.backends.local.executor import SerialExecutor, ThreadExecutor

    if options:
        raise TypeError(f"the local backend takes no option(s) {sorted(options)}")
    workers = settings.workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1:
        return SerialExecutor()
    return ThreadExecutor(workers, blas_threads=settings.blas_threads)


@hookimpl
def nums_backends() -> list[BackendSpec]:
    """The local backend."""
    return [BackendSpec("local", make_local_executor,
                        "in-process: serial (workers=1) or a thread pool")]
