"""Time the same workloads on NumPy, Dask (threads) and nums in one run; print ratios.

Usage::

    python benchmarks/run.py --size small      # a minute or so
    python benchmarks/run.py --size medium     # the sizes the issues' targets refer to

Every workload starts from data already in each system (a NumPy array, a Dask array with
the same chunks as nums' blocks, a persisted nums array) and times only the computation of
the final NumPy value. Timings are medians of ``--repeat`` runs; ratios above 1 mean nums is
faster. The ``floor`` column is the same arithmetic in hand-written NumPy on the same blocks
and threads with no framework (:mod:`floors`): ``dask/floor`` is the most any block scheduler
with NumPy kernels could gain on Dask in that run. The memory workload runs in fresh
subprocesses and reports peak RSS over the inputs' size. Never assert timings in tests:
this script is where speed is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from floors import floor_fn

SIZES = {
    "small": dict(ew=(2048, 1024), red=(2048, 1024), mm=1024, tall=(250_000, 32)),
    "medium": dict(ew=(4096, 4096), red=(8192, 2048), mm=3000, tall=(2_000_000, 32)),
}


def median_time(fn: Callable[[], Any], repeat: int,
                after: Callable[[Any], Any] | None = None) -> float:
    """Median seconds of ``fn()``; ``after(result)`` runs untimed after each call (to wait
    for work the call started, so the next call starts from an idle machine)."""
    after = after or (lambda _: None)
    after(fn())  # warm up (thread pools, BLAS, caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        after(result)
    return statistics.median(times)


def median_times(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median seconds of each of ``fns``, timed in turns: every round runs each once, in an
    order rotated round by round, so a slow spell of this shared machine falls on all of them
    alike rather than on whichever ran then (ratios of one run are what we quote)."""
    names = list(fns)
    for name in names:
        fns[name]()  # warm up (thread pools, BLAS, caches, a bare-Ray pool's stored blocks)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeat):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def to_numpy(a: Any) -> np.ndarray:
    """The value of a NumPy, Dask or nums result as a NumPy array."""
    if hasattr(a, "compute"):
        return np.asarray(a.compute())
    if hasattr(a, "get"):
        return a.get()
    return np.asarray(a)


def logistic_newton(np_: Any, X: Any, y: Any) -> np.ndarray:
    """Two Newton steps of logistic regression with the module ``np_`` (numpy, dask.array or
    nums.numpy); the d x d solves run in NumPy."""
    w = np.zeros(X.shape[1])
    for _ in range(2):
        p = 1.0 / (1.0 + np_.exp(-(X @ w)))
        g = to_numpy(X.T @ (p - y))
        H = to_numpy(X.T @ (X * (p * (1.0 - p))[:, None]))
        w = w - np.linalg.solve(H + 1e-8 * np.eye(len(w)), g)
    return w


NEWTON = {"small": (200_000, 16), "medium": (2_000_000, 32)}


def newton_workload(size: str):
    """(name, inputs builder, fn) for two logistic-regression Newton steps (fixed seeds, so
    every MPI rank builds the same inputs)."""
    n, d = NEWTON[size]

    def newton_inputs() -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(5)
        X = rng.standard_normal((n, d))
        y = (X @ rng.standard_normal(d) + rng.standard_normal(n) > 0).astype(np.float64)
        return X, y

    return ("logistic regression, 2 Newton steps", newton_inputs, logistic_newton)


def workloads(size: str):
    """(name, inputs builder, numpy fn, dask fn, nums fn) for every workload."""
    s = SIZES[size]

    def elementwise_inputs():
        rng = np.random.default_rng(0)
        return rng.standard_normal(s["ew"]), rng.standard_normal(s["ew"])

    def reduction_inputs():
        return (np.random.default_rng(1).standard_normal(s["red"]),)

    def matmul_inputs():
        rng = np.random.default_rng(2)
        return rng.standard_normal((s["mm"],) * 2), rng.standard_normal((s["mm"],) * 2)

    def tall_inputs():
        return (np.random.default_rng(3).standard_normal(s["tall"]),)

    return [
        ("elementwise x*y+sin(x), sum", elementwise_inputs,
         lambda np_, x, y: (x * y + np_.sin(x)).sum()),
        ("sum(axis=0)", reduction_inputs, lambda np_, x: x.sum(axis=0)),
        ("mean(axis=1)", reduction_inputs, lambda np_, x: x.mean(axis=1)),
        ("square matmul", matmul_inputs, lambda np_, a, b: a @ b),
        ("X.T @ X tall-skinny", tall_inputs, lambda np_, x: x.T @ x),
    ]


def run_throughput(size: str, repeat: int, workers: int) -> list[dict[str, Any]]:
    import nums

    nums.init(backend="local", workers=workers)
    rows = []
    for name, make_inputs, fn in workloads(size):
        rows.append(dict(workload=name, **_time_all(name, fn, make_inputs(), repeat, workers)))
    nums.shutdown()
    return rows


def as_nums(inputs) -> list[Any]:
    """Persisted nums copies of ``inputs``: the first with nums' default blocks, the others
    with the same blocks along a leading axis of the same length (as a user aligns ``y``
    with ``X``'s rows, and as Dask is given them)."""
    import nums.numpy as nps

    first = nps.array(inputs[0]).persist()
    out = [first]
    for a in inputs[1:]:
        if a.ndim and a.shape[0] == first.shape[0]:
            block = (first.block_shape[0],) + tuple(a.shape[1:])
            out.append(nps.array(a, block_shape=block).persist())
        else:
            out.append(nps.array(a).persist())
    return out


def reference_fns(name: str, fn: Callable[..., Any], inputs: tuple, block_shape: tuple,
                  workers: int) -> dict[str, Callable[[], Any]]:
    """The untimed calls of NumPy, of Dask threads with nums' block shape (``block_shape``
    of the first input; the others share its leading block length) and of the workload's
    floor (:mod:`floors`), for :func:`median_times`."""
    import dask
    import dask.array as da

    dask_inputs = [da.from_array(a, chunks=block_shape if a is inputs[0] else
                                 (block_shape[0],) + a.shape[1:]) for a in inputs]

    def run_dask() -> Any:
        with dask.config.set(scheduler="threads", num_workers=workers):
            return to_numpy(fn(da, *dask_inputs))

    fns = dict(numpy=lambda: to_numpy(fn(np, *inputs)), dask=run_dask)
    floor = floor_fn(name, inputs, block_shape[0], workers)
    if floor is not None:
        fns["floor"] = floor
    return fns


def nums_fn(fn: Callable[..., Any], inputs: tuple) -> tuple[Callable[[], Any], Any]:
    """An untimed call of ``fn`` on persisted nums copies of ``inputs`` (running session),
    for :func:`median_times`, and the first copy (its blocks are the ones Dask gets)."""
    import nums.numpy as nps

    blocked = as_nums(inputs)
    return (lambda: to_numpy(fn(nps, *blocked))), blocked[0]


def _time_all(name: str, fn, inputs, repeat: int, workers: int) -> dict[str, Any]:
    run, first = nums_fn(fn, inputs)
    fns = reference_fns(name, fn, inputs, first.block_shape, workers)
    return dict(median_times(dict(fns, nums=run), repeat), blocks=first.grid_shape)


def run_overheads(repeat: int) -> list[dict[str, Any]]:
    import dask
    import dask.array as da

    import nums
    import nums.numpy as nps

    rows = []
    nums.init(backend="local", workers=1)
    a = np.random.default_rng(4).standard_normal(1000)
    x = nps.array(a).persist()
    dx = da.from_array(a, chunks=1000)
    n = 2000
    t_nums = median_time(lambda: [(x + 1).get() for _ in range(n)], repeat) / n
    t_numpy = median_time(lambda: [a + 1 for _ in range(n)], repeat) / n
    with dask.config.set(scheduler="sync"):
        t_dask = median_time(lambda: [(dx + 1).compute() for _ in range(200)], repeat) / 200
    rows.append(dict(workload="one op, 1,000 elements (serial)", numpy=t_numpy, dask=t_dask,
                     nums=t_nums, blocks=(1,)))
    nums.shutdown()

    nums.init(backend="local", workers=2)
    big = nps.zeros((10_000 * 8,), block_shape=(8,)).persist()
    nps.add(big, 1).get()

    def plan_and_submit():
        from nums.ir.lower import materialize

        return materialize([(big + 1)._node])

    def wait(leaves):
        nums.session().executor.get(list(leaves[0].refs.ravel()))

    t_plan = median_time(plan_and_submit, repeat, after=wait)
    rows.append(dict(workload="plan+submit 10,000-block elementwise", numpy=float("nan"),
                     dask=float("nan"), nums=t_plan, blocks=(10_000,)))
    nums.shutdown()
    return rows


_MEMORY_CHILD = """
import sys, json


def peak_kib():
    # VmHWM is this process's own high-water mark (ru_maxrss survives exec on Linux).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

import numpy as np
shape = tuple(json.loads(sys.argv[2]))
system = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.standard_normal(shape); y = rng.standard_normal(shape)
if system == "numpy":
    r = float((x * y + np.sin(x)).sum())
elif system == "dask":
    import dask, dask.array as da
    dx = da.from_array(x, chunks=(shape[0] // 8, shape[1])); dy = da.from_array(y, chunks=dx.chunks)
    with dask.config.set(scheduler="threads", num_workers=2):
        r = float((dx * dy + da.sin(dx)).sum().compute())
else:
    import nums, nums.numpy as nps
    nums.init(backend="local", workers=2)
    nx = nps.asarray(x); ny = nps.asarray(y)
    r = float((nx * ny + nps.sin(nx)).sum())
peak = peak_kib()
print(json.dumps(dict(peak_kib=peak, inputs_kib=(x.nbytes + y.nbytes) // 1024)))
"""


def run_memory(size: str) -> list[dict[str, Any]]:
    shape = SIZES[size]["ew"]
    out = {}
    for system in ("numpy", "dask", "nums"):
        proc = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, system, json.dumps(shape)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode:
            raise RuntimeError(proc.stderr)
        out[system] = json.loads(proc.stdout.strip().splitlines()[-1])
    return [dict(workload="peak RSS / inputs, (x*y+sin(x)).sum()",
                 **{k: v["peak_kib"] / v["inputs_kib"] for k, v in out.items()})]


def print_table(rows: list[dict[str, Any]], unit: str = "s") -> None:
    print(f"{'workload':<44} {'numpy':>10} {'dask':>10} {'floor':>10} {'nums':>10} "
          f"{'numpy/nums':>11} {'dask/nums':>10} {'dask/floor':>10}  blocks")
    nan = float("nan")
    for r in rows:
        def fmt(v):
            if v != v:  # nan
                return "-"
            return f"{v * 1e6:.1f}us" if unit == "s" and v < 1e-3 else \
                (f"{v:.3f}s" if unit == "s" else f"{v:.2f}")
        ok = unit == "s" and r["nums"] > 0
        ratio_np = r["numpy"] / r["nums"] if ok else nan
        ratio_dk = r["dask"] / r["nums"] if ok else nan
        floor = r.get("floor", nan)
        print(f"{r['workload']:<44} {fmt(r['numpy']):>10} {fmt(r['dask']):>10} "
              f"{fmt(floor):>10} {fmt(r['nums']):>10} {ratio_np:>11.2f} {ratio_dk:>10.2f} "
              f"{r['dask'] / floor:>10.2f}  {r.get('blocks', '')}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    print(f"nums benchmarks, size={args.size}, workers={args.workers}, "
          f"cores={os.cpu_count()}, numpy {np.__version__}")
    print_table(run_throughput(args.size, args.repeat, args.workers))
    print()
    print_table(run_overheads(args.repeat))
    if not args.skip_memory:
        print()
        print_table(run_memory(args.size), unit="x")


if __name__ == "__main__":
    main()
