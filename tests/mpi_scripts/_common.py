"""Helpers shared by the scripts that ``tests/test_mpi.py`` runs under ``mpiexec``.

Each script computes with nums on the MPI backend, compares with NumPy *inside* the script and
exits non-zero on a mismatch; every rank checks, and a failure aborts the whole job.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

import nums


def start(**options: Any) -> Any:
    """Start nums on the MPI backend (test defaults: tiny blocks); return the executor."""
    nums.init(backend="mpi", testing=True, **options)
    return nums.session().executor


def check(ok: bool, what: str) -> None:
    """Fail the script (every rank: the uncaught exception aborts the job) unless ``ok``."""
    if not ok:
        raise AssertionError(f"check failed: {what}")


def close(actual: Any, expected: Any, what: str, rtol: float = 1e-10) -> None:
    """``actual`` (a BlockArray or value) equals NumPy's ``expected``: shape, dtype, values."""
    value = actual.get() if hasattr(actual, "get") else np.asarray(actual)
    expected = np.asarray(expected)
    check(value.shape == expected.shape, f"{what}: shape {value.shape} != {expected.shape}")
    check(value.dtype == expected.dtype, f"{what}: dtype {value.dtype} != {expected.dtype}")
    if expected.dtype.kind in "fc":
        check(np.allclose(value, expected, rtol=rtol, atol=0, equal_nan=True),
              f"{what}: values differ")
    else:
        check(np.array_equal(value, expected), f"{what}: values differ")


def same_everywhere(value: Any, what: str) -> None:
    """Every rank holds the same ``value`` (compared through mpi4py)."""
    from mpi4py import MPI

    values = MPI.COMM_WORLD.allgather(value)
    check(all(_equal(v, values[0]) for v in values), f"{what} differs across ranks: {values}")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b, equal_nan=True))
    return a == b


def done(name: str) -> None:
    """Shut nums down and print one line per rank (the test looks for it)."""
    executor = nums.session().executor
    rank, size = executor.rank, executor.size
    nums.shutdown()
    print(f"{name} OK rank {rank}/{size}", flush=True)
    sys.stdout.flush()
