"""Registers the MPI backend through the ``nums_backends`` hook (mpi4py is imported only when
the backend is started)."""

from __future__ import annotations

from nums.runtime.hookspecs import BackendSpec, hookimpl


def make_mpi_executor(settings, **options):
    """Return the SPMD executor for this rank; see :mod:`nums.backends.mpi.executor`."""
    try:
        import mpi4py  # noqa: F401
    except ImportError as exc:
        raise ImportError("the MPI backend needs mpi4py: pip install 'nums[mpi]' (it brings "
                          "the mpich wheel, so mpiexec works with no system MPI)") from exc
    from nums.backends.mpi.executor import MPIExecutor

    return MPIExecutor.start(settings, **options)


@hookimpl
def nums_backends() -> list[BackendSpec]:
    """The MPI backend."""
    return [BackendSpec("mpi", make_mpi_executor, "SPMD under mpiexec, one device per rank",
                        ("comm", "on_error", "chunk_bytes", "inline_bytes"))]
