"""Failing fast under mpiexec: one rank's error ends the whole job, never a deadlock.

A rank that dies alone leaves the others waiting for its messages forever. So, while the MPI
backend runs on more than one rank:

* an uncaught exception (in the user's script or raised by ``get`` for a failed kernel)
  prints its traceback, prefixed with the rank, and calls ``MPI_Abort(1)``, which makes
  ``mpiexec`` kill every rank and exit non-zero at once (:func:`install_excepthook`);
* a diverged program (the ranks' plan digests differ) is reported by :func:`abort` with a
  message naming every rank's position.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import Any

__all__ = ["abort", "install_excepthook", "uninstall_excepthook"]

_previous_hook: Any = None
_FLUSH_SECONDS = 0.5


def abort(comm: Any, message: str, code: int = 1) -> None:
    """Print ``message`` on stderr and abort every rank of ``comm``'s job.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        Any communicator of the job.
    message : str
        What went wrong; printed with the rank as a prefix.
    code : int
        The exit status ``mpiexec`` reports.
    """
    rank = comm.Get_rank()
    text = "".join(f"[nums-mpi rank {rank}] {line}\n" for line in message.rstrip().splitlines())
    try:
        sys.stdout.flush()
        sys.stderr.write(text)
        sys.stderr.flush()
        # mpiexec kills every rank as soon as one aborts; give its I/O forwarding a moment
        # to pass on what this rank (and any other failing at the same time) has written.
        time.sleep(_FLUSH_SECONDS)
    finally:
        comm.Abort(code)


def _hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    from mpi4py import MPI

    text = "".join(traceback.format_exception(exc_type, exc, tb))
    abort(MPI.COMM_WORLD, "uncaught exception, aborting every rank:\n" + text)


def install_excepthook() -> None:
    """Make an uncaught exception abort the whole MPI job (idempotent)."""
    global _previous_hook
    if _previous_hook is None:
        _previous_hook = sys.excepthook
        sys.excepthook = _hook


def uninstall_excepthook() -> None:
    """Restore the exception hook found by :func:`install_excepthook`."""
    global _previous_hook
    if _previous_hook is not None:
        if sys.excepthook is _hook:
            sys.excepthook = _previous_hook
        _previous_hook = None
