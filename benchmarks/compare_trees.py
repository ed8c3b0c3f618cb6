"""Time nums from two source trees side by side (A/B), in one run, on every backend.

A change that touches the core (the IR, lowering, executors) must not slow any workload
down. This script times run.py's workloads, the Newton steps and the per-call overheads with
nums imported from two checkouts (``--old`` and ``--new``, each a git worktree), in turns:
every round runs each tree once, in fresh processes, alternating which goes first, so a slow
spell of this shared machine falls on both. It prints per workload the median seconds of
each tree and ``old/new`` (above 1: the new tree is faster).

Give two worktrees, not your checkout: each tree needs its ``backends/`` and ``kernels/``
visible as ``nums.backends`` and ``nums.kernels``, so the script links them into the tree's
``nums/`` folder (what the editable install maps) if they are not there. The tree is put
first on ``PYTHONPATH``, so a child imports that tree's nums, also in Ray workers and MPI
ranks.

Usage::

    git worktree add /tmp/nums-old <commit> && git worktree add /tmp/nums-new HEAD
    python benchmarks/compare_trees.py --old /tmp/nums-old --new /tmp/nums-new --size medium \\
        --backends local,ray,mpi --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, sys, time
sys.path.insert(1, sys.argv[1])            # this benchmarks folder (run.py, floors.py)
import numpy as np
import run as bench
backend, size, repeat, out = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
import nums
options = dict(backend=backend)
if backend == "local":
    options["workers"] = 2
if backend == "ray":
    import ray
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
session = nums.init(**options)
rows = {}
for name, make_inputs, fn in list(bench.workloads(size)) + [bench.newton_workload(size)]:
    run, _ = bench.nums_fn(fn, make_inputs())
    rows[name] = bench.median_time(run, repeat)
if backend == "local":
    nums.shutdown()
    for row in bench.run_overheads(repeat):
        rows[row["workload"]] = row["nums"]
rank = getattr(nums.session().executor, "rank", 0) if nums.is_initialized() else 0
nums.shutdown()
if not rank:
    with open(out, "w") as f:
        json.dump(rows, f)
"""


def prepare(tree: Path) -> None:
    """Link ``backends/`` and ``kernels/`` into ``tree/nums`` (what the editable install maps)."""
    for name in ("backends", "kernels"):
        link = tree / "nums" / name
        if not link.exists():
            link.symlink_to(Path("..") / name)


def run_child(tree: Path, backend: str, size: str, repeat: int, mpiexec: str | None
              ) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rows.json")
        cmd = [sys.executable, "-c", CHILD, str(HERE), backend, size, str(repeat), out]
        if backend == "mpi":
            cmd = [mpiexec, "-n", "2"] + cmd
        proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True,
                              timeout=3600)
        if proc.returncode:
            raise RuntimeError(f"{tree} on {backend} failed:\n{proc.stdout}\n{proc.stderr}")
        return json.loads(Path(out).read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--size", choices=("small", "medium"), default="small")
    parser.add_argument("--backends", default="local")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    for tree in trees.values():
        prepare(tree)
    mpiexec = None
    if "mpi" in args.backends:
        from nums.backends.mpi.launch import find_mpiexec

        mpiexec = find_mpiexec()
    for backend in args.backends.split(","):
        times: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
        for r in range(args.rounds):
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            for which in order:
                rows = run_child(trees[which], backend, args.size, args.repeat, mpiexec)
                for name, t in rows.items():
                    times[which].setdefault(name, []).append(t)
        print(f"\n{backend}, size={args.size}, {args.rounds} rounds x {args.repeat} repeats "
              f"(medians; old/new > 1: new is faster)")
        print(f"{'workload':<46} {'old':>10} {'new':>10} {'old/new':>8}")
        for name in times["new"]:
            old = statistics.median(times["old"][name])
            new = statistics.median(times["new"][name])
            fmt = (lambda v: f"{v * 1e6:.1f}us") if new < 1e-3 else (lambda v: f"{v:.4f}s")
            print(f"{name:<46} {fmt(old):>10} {fmt(new):>10} {old / new:>8.2f}")


if __name__ == "__main__":
    main()
