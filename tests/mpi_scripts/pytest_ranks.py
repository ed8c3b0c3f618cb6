"""Run pytest on every rank of an MPI job with readable output.

Usage::

    NUMS_TEST_BACKENDS=mpi mpiexec -n 2 python tests/mpi_scripts/pytest_ranks.py \\
        tests/test_smoke.py -q -p no:cacheprovider

Every rank runs the same pytest session (SPMD: the tests call nums in the same order). Rank 0
prints its report as usual; the other ranks write theirs to a temporary file. At the end rank 0
prints one summary line per rank (and the full report of a rank whose result differs from
rank 0's) and every rank exits with the worst status, so ``mpiexec`` fails when any rank
failed.
"""

from __future__ import annotations

import os
import sys
import tempfile

import pytest
from mpi4py import MPI


class _Counts:
    """A pytest plugin that remembers how many tests ran and failed."""

    def __init__(self) -> None:
        self.collected = 0
        self.failed = 0

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.collected = session.testscollected
        self.failed = session.testsfailed


def _run(args: list[str], quiet: bool) -> tuple[int, str, _Counts]:
    """pytest with ``args``; with ``quiet``, stdout and stderr (file descriptors 1 and 2) go
    to a temporary file whose text is returned."""
    counts = _Counts()
    if not quiet:
        return int(pytest.main(args, plugins=[counts])), "", counts
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            code = int(pytest.main(args, plugins=[counts]))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        log.seek(0)
        return code, log.read(), counts


def main(args: list[str]) -> int:
    """Run pytest with ``args`` on this rank; return the worst exit status of all ranks."""
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    code, report, counts = _run(args, quiet=rank != 0)
    results = comm.gather((code, counts.collected, counts.failed, report), root=0)
    if rank == 0:
        assert results is not None
        print(f"\n=== pytest on {comm.Get_size()} MPI ranks ===")
        for r, (c, collected, failed, text) in enumerate(results):
            print(f"rank {r}: exit status {c}, {collected} tests collected, {failed} failed")
            if r and (c, failed) != (code, counts.failed):
                print(f"--- report of rank {r}, which differs from rank 0 ---\n{text}")
        sys.stdout.flush()
    return comm.allreduce(code, op=MPI.MAX)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
