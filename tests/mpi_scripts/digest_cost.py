"""What the plan digest costs: a 10,000-block elementwise job's submit loop, digest on and off.

Not a test (``tests/test_mpi.py`` does not run it); run it by hand::

    mpiexec -n 2 python tests/mpi_scripts/digest_cost.py [blocks] [repeats]

It records the ``submit`` calls that lowering ``x + 1`` makes (``blocks`` blocks), then replays
them ``repeats`` times with the executor's digest on and with a digest that does nothing, and
times the replay alone (the tasks run afterwards, outside the timed loop). It also times the
digest's own ``submit`` on the recorded arguments, and a whole ``(x * 2 + 1).persist()``
(lowering, placement, submits and this rank's tasks) with the digest on. Rank 0 prints the
best of the repeats. For an A/B with another version of ``backends/mpi``, run it with a copy
of the tree first on ``PYTHONPATH`` (see ``benchmarks/compare_trees.py``).
"""

from __future__ import annotations

import inspect
import sys
import time

import numpy as np
from _common import close, start

import nums.numpy as nps

blocks = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ex = start()
x = nps.array(np.arange(blocks * 4.0).reshape(blocks, 4), block_shape=(1, 4))
x.persist()

recorded = []
submit = ex.submit


def recorder(kernel, args, device, num_returns=1, nbytes=None):
    recorded.append((kernel, args, device, num_returns, nbytes))
    return submit(kernel, args, device, num_returns, nbytes)


ex.submit = recorder
close(x + 1, np.arange(blocks * 4.0).reshape(blocks, 4) + 1, "x + 1")
del ex.submit
assert len(recorded) == blocks, len(recorded)


class NullDigest:
    """A digest that hashes nothing (the cost of the submit loop without one)."""

    value = count = 0

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def replay() -> float:
    start_time = time.perf_counter()
    for kernel, args, device, num_returns, nbytes in recorded:
        submit(kernel, args, device, num_returns, nbytes)
    elapsed = time.perf_counter() - start_time
    ex.flush()
    ex.get([])  # a sync point: run the tasks, compare digests
    return elapsed


def digest_alone(digest) -> float:
    """The digest's own submit on the recorded calls (the executor's call, nothing else)."""
    MPIRef = type(recorded[0][1][-1])
    calls = [(kernel.name, device[0], num_returns, [a.id for a in args if type(a) is MPIRef],
              args) for kernel, args, device, num_returns, _ in recorded]
    # the digest before it hashed arguments took the ref ids
    old = "ref_ids" in inspect.signature(digest.submit).parameters
    start_time = time.perf_counter()
    if not old:
        for name, rank, num_returns, _, args in calls:
            digest.submit(name, rank, num_returns, args)
    else:
        for name, rank, num_returns, ids, _ in calls:
            digest.submit(name, rank, num_returns, ids)
    return time.perf_counter() - start_time


def job() -> float:
    """The whole ``(x * 2 + 1).persist()``: lowering, placement, submits, local tasks."""
    start_time = time.perf_counter()
    (x * 2 + 1).persist()
    elapsed = time.perf_counter() - start_time
    ex.get([])
    return elapsed


real = ex.digest
on, off, alone, jobs = [], [], [], []
for _ in range(repeats):
    ex.digest = real
    on.append(replay())
    jobs.append(job())
    ex.digest = NullDigest()
    off.append(replay())
    alone.append(digest_alone(type(real)()))
ex.digest = real
if ex.rank == 0:
    us = 1e6 / blocks
    print(f"{blocks} blocks, best of {repeats}: submit loop {min(on) * us:.2f} us/submit "
          f"with the digest, {min(off) * us:.2f} without "
          f"(+{(min(on) - min(off)) * 1e3:.1f} ms per job); digest.submit alone "
          f"{min(alone) * us:.2f} us/submit; whole (x * 2 + 1).persist() "
          f"{min(jobs) * 1e3:.1f} ms", flush=True)
