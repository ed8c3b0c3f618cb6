"""Evaluate placement on simulated clusters (dry run: sizes only, nothing is computed).

For 16, 64 and 256 devices and three jobs, prints for the optimizer (what ``nums.init()``
uses: the greedy search, or block-cyclic where that plan ends lower), for the greedy search
alone, and for plain block-cyclic placement:

- ``mem/ideal``: the largest per-device memory over the balanced ideal (total / devices);
- ``net/bound``: the largest per-device traffic (max of net_in and net_out) over a simple
  lower bound of the job, stated per job below;
- ``ms/op``: planning time per block operation.

Jobs (float64):

(a) one Newton step of L2-regularised logistic regression on a tall-skinny X of
    ``rows x 256`` (gradient ``X.T @ (mu - y) + lam * w`` and Hessian
    ``X.T @ (X * s[:, None]) + lam * I``). Bound: the only data that must cross devices are
    d-vectors and d x d partials; at least one d x d partial reaches the device that
    finishes the Hessian, so ``8 * d**2`` bytes. ``largest`` is the largest block that
    crossed devices; ``X stays`` says whether it is smaller than X's blocks (no block of
    X, or of an X-sized temporary, moved). y is made with the default blocks (no
    ``block_shape=``): the aligned default (see :mod:`nums.array.grid`) gives an array
    created after X, with X's number of rows, X's row partition, so ``mu - y`` and
    ``X * s[:, None]`` are aligned without a move.
(b) square matmul ``n x n`` on square blocks. Bound: the 2-D (SUMMA) algorithm on a
    sqrt(P) x sqrt(P) grid receives ``2 * 8 * n**2 * (sqrt(P) - 1) / P`` bytes per device.
(c) an elementwise chain and a full sum over ``N`` elements. Bound: one 8-byte partial per
    device reaches the root: ``8`` bytes (reported as a count of partials moved).

Then, for the issue's case (X of ``rows x 256`` from ``default_rng(0).standard_normal``, w of
``rows`` from ``default_rng(1).random``, both default blocks, ``X.T @ (X * w[:, None])``,
planned by ``nums.explain``), one line per device count: the bytes moved, the size of the
d x d partials (``8 * 256 * 256 * devices``) and their ratio, aligned (the default) and with
the alignment rule off (``Session.default_partitions = None``: the pure per-array default,
which re-blocks w). The acceptance bound is a ratio of at most 10.

Usage::

    python benchmarks/placement_dryrun.py                 # the issue's sizes (minutes)
    python benchmarks/placement_dryrun.py --scale 0.001   # quick look
"""

from __future__ import annotations

import argparse
import math
import time

import nums
import nums.numpy as nps
from nums.ir.lower import plan_of

BLOCK = 32 * 2**20


def job_logistic(rows: int, d: int = 256):
    X = nps.random.default_rng(0).standard_normal((rows, d))
    y = nps.random.default_rng(1).random(rows)  # default blocks: aligned with X's rows
    w = nps.zeros(d)
    mu = 1 / (1 + nps.exp(-(X @ w)))
    grad = X.T @ (mu - y) + 0.1 * w
    s = mu * (1 - mu)
    hess = X.T @ (X * s[:, None]) + 0.1 * nps.eye(d)
    return [grad, hess], X, 8.0 * d * d


def job_matmul(n: int, devices: int):
    side = max(1, n // max(1, math.isqrt(devices) * 2))
    A = nps.random.default_rng(0).standard_normal((n, n), block_shape=(side, side))
    B = nps.random.default_rng(1).standard_normal((n, n), block_shape=(side, side))
    root = math.sqrt(devices)
    bound = 2 * 8.0 * n * n * (root - 1) / devices
    return [A @ B], None, bound


def job_elementwise(n: int):
    x = nps.random.default_rng(0).standard_normal((n,))
    return [(nps.exp(x) * 2 + nps.sin(x) * x).sum()], None, 8.0


def _cluster_shape(name: str, devices: int) -> tuple[int, ...]:
    """A square device grid for the 2-D matmul (as SUMMA uses), else one axis."""
    root = math.isqrt(devices)
    return (root, devices // root) if name.startswith("(b)") else (devices,)


def evaluate(name, build, devices: int, mode: str) -> dict:
    nums.shutdown()
    nums.init(backend="dryrun", cluster_shape=_cluster_shape(name, devices), block_size=BLOCK)
    arrays, X, bound = build()
    start = time.perf_counter()
    plan = plan_of([a._node for a in arrays], mode=None if mode == "optimizer" else mode)
    elapsed = time.perf_counter() - start
    memory = plan.memory
    ideal = memory.sum() / devices
    net = max(plan.net_in.max(), plan.net_out.max())
    row = dict(job=name, devices=devices, mode=mode, mem=memory.max() / ideal,
               net=net / bound if bound else float("nan"), ms_per_op=1e3 * elapsed /
               max(plan.num_ops, 1), ops=plan.num_ops, moved=plan.moved_bytes,
               largest=plan.largest_move,
               x_stays="" if X is None else
               ("yes" if plan.largest_move < X.nbytes / X.grid_shape[0] else "NO"))
    nums.shutdown()
    return row


def weighted_gram(devices: int, rows: int, d: int = 256, aligned: bool = True) -> dict:
    """The issue's case: bytes moved to plan ``X.T @ (X * w[:, None])`` on ``devices``."""
    nums.shutdown()
    session = nums.init(backend="dryrun", cluster_shape=(devices,), block_size=BLOCK)
    if not aligned:
        session.default_partitions = None  # the rule off: each array's own default
    X = nps.random.default_rng(0).standard_normal((rows, d))
    w = nps.random.default_rng(1).random(rows)
    plan = nums.explain(X.T @ (X * w[:, None]))
    partials = 8.0 * d * d * devices
    row = dict(devices=devices, aligned=aligned, x_rows=X.block_shape[0],
               w_rows=w.block_shape[0], moved=plan.moved_bytes, partials=partials,
               ratio=plan.moved_bytes / partials)
    nums.shutdown()
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the issue's sizes (1e9 rows, 1e5, 1e10) by this")
    parser.add_argument("--devices", type=int, nargs="*", default=[16, 64, 256])
    args = parser.parse_args(argv)
    rows = max(1, int(1e9 * args.scale))
    n = max(1, int(1e5 * math.sqrt(args.scale)))
    elems = max(1, int(1e10 * args.scale))
    print(f"dry-run placement, block size {BLOCK // 2**20} MiB: (a) {rows:,} x 256, "
          f"(b) {n:,}^2 matmul, (c) {elems:,} elements")
    print(f"{'job':<12}{'devices':>8}{'placement':>11}{'mem/ideal':>11}{'net/bound':>11}"
          f"{'ms/op':>8}{'ops':>10}{'moved':>14}{'largest':>12}{'X stays':>9}")
    for devices in args.devices:
        jobs = [("(a) newton", lambda: job_logistic(rows)),
                ("(b) matmul", lambda devices=devices: job_matmul(n, devices)),
                ("(c) ew+sum", lambda: job_elementwise(elems))]
        for name, build in jobs:
            for mode in ("optimizer", "greedy", "cyclic"):
                r = evaluate(name, build, devices, mode)
                print(f"{r['job']:<12}{r['devices']:>8}{r['mode']:>11}{r['mem']:>11.3f}"
                      f"{r['net']:>11.2f}{r['ms_per_op']:>8.3f}{r['ops']:>10}"
                      f"{r['moved'] / 2**20:>11.1f} MiB{r['largest'] / 2**20:>8.2f} MiB"
                      f"{r['x_stays']:>9}")
    print(f"\nX.T @ (X * w[:, None]), X {rows:,} x 256, w {rows:,} (default blocks); "
          "partials = 8 * 256 * 256 * devices; acceptance: moved <= 10x partials")
    print(f"{'devices':>8}{'blocks':>9}{'X rows/block':>14}{'w rows/block':>14}"
          f"{'moved':>14}{'partials':>12}{'moved/partials':>16}")
    for devices in args.devices:
        for aligned in (True, False):
            r = weighted_gram(devices, rows, aligned=aligned)
            print(f"{devices:>8}{'aligned' if aligned else 'own':>9}{r['x_rows']:>14,}"
                  f"{r['w_rows']:>14,}{r['moved'] / 2**20:>10.2f} MiB"
                  f"{r['partials'] / 2**20:>8.2f} MiB{r['ratio']:>16.2f}")


if __name__ == "__main__":
    main()
