"""Finding the ``mpiexec`` to launch nums jobs with (tests and benchmarks)."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

__all__ = ["find_mpiexec"]


def find_mpiexec() -> str | None:
    """``NUMS_MPIEXEC``, else the ``mpiexec`` next to this Python (the mpich wheel's), else
    the one on ``PATH``; None when there is none.

    Returns
    -------
    str or None
    """
    named = os.environ.get("NUMS_MPIEXEC")
    if named:
        return named
    candidate = Path(sysconfig.get_path("scripts")) / "mpiexec"
    if candidate.exists():
        return str(candidate)
    return shutil.which("mpiexec")
