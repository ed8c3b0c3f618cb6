"""nums on Ray next to nums-local, NumPy and Dask (threads), on the same workloads, in one run.

Usage::

    python benchmarks/ray_bench.py --size small     # a few minutes on 2 cores
    python benchmarks/ray_bench.py --size medium    # the sizes issue 3's targets refer to

The throughput workloads are those of ``benchmarks/run.py`` (imported, not copied) plus
logistic-regression Newton steps. Each system starts from data already in it (a NumPy array, a
Dask array with nums' block shape, a persisted nums array) and times the computation of the
final NumPy value; medians of ``--repeat`` runs. Columns ``dask/ray`` and ``local/ray`` above
1 mean nums-ray is faster. Two more tables: the per-block overhead of nums-ray against a bare
Ray task round trip, and the driver's peak RSS while nums-ray runs a large workload (block data
should never pass through the driver). A local Ray is started with ``--workers`` CPUs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _load_run_module() -> Any:
    """benchmarks/run.py as a module (benchmarks/ is not a package)."""
    path = Path(__file__).with_name("run.py")
    spec = importlib.util.spec_from_file_location("nums_benchmarks_run", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_run_module()
median_time = bench.median_time



_values = bench.to_numpy


def workloads(size: str) -> list[tuple[str, Callable[[], tuple], Callable[..., Any]]]:
    """run.py's workloads plus logistic-regression Newton steps."""
    return list(bench.workloads(size)) + [bench.newton_workload(size)]


def _to_value(result: Any) -> Any:
    return result if isinstance(result, np.ndarray) else _values(result)


def time_nums(fn: Callable[..., Any], inputs: tuple, repeat: int
              ) -> tuple[float, tuple, tuple]:
    """Median time of ``fn`` on persisted nums copies of ``inputs`` (current session), and
    the first input's block shape and grid shape."""
    import nums.numpy as nps

    blocked = bench.as_nums(inputs)
    t = median_time(lambda: _to_value(fn(nps, *blocked)), repeat)
    return t, blocked[0].block_shape, blocked[0].grid_shape


def time_reference(fn: Callable[..., Any], inputs: tuple, block_shape: tuple, repeat: int,
                   workers: int) -> tuple[float, float]:
    """Median times of NumPy and of Dask threads with nums' block shape."""
    import dask
    import dask.array as da

    dask_inputs = [da.from_array(a, chunks=block_shape[:a.ndim] if a.ndim > 1 else
                                 (block_shape[0],)) for a in inputs]
    t_numpy = median_time(lambda: np.asarray(_to_value(fn(np, *inputs))), repeat)
    with dask.config.set(scheduler="threads", num_workers=workers):
        t_dask = median_time(lambda: np.asarray(_to_value(fn(da, *dask_inputs))), repeat)
    return t_numpy, t_dask


def run_throughput(size: str, repeat: int, workers: int) -> list[dict[str, Any]]:
    """Every workload on NumPy, Dask, nums-local and nums-ray."""
    import nums

    cases = [(name, make(), fn) for name, make, fn in workloads(size)]
    rows = [dict(workload=name) for name, _, _ in cases]
    nums.init(backend="local", workers=workers)
    for row, (_, inputs, fn) in zip(rows, cases):
        row["local"], block_shape, row["blocks"] = time_nums(fn, inputs, repeat)
        row["numpy"], row["dask"] = time_reference(fn, inputs, block_shape, repeat, workers)
    nums.shutdown()
    nums.init(backend="ray", num_cpus=workers)
    for row, (_, inputs, fn) in zip(rows, cases):
        row["ray"], _, _ = time_nums(fn, inputs, repeat)
    nums.shutdown()
    return rows


def run_overhead(repeat: int, blocks: int = 2000) -> list[dict[str, Any]]:
    """Per-block cost of ``(x + 1).get()`` over tiny blocks: nums-ray against bare Ray tasks."""
    import ray

    import nums
    import nums.numpy as nps

    session = nums.init(backend="ray", num_cpus=2)
    x = nps.zeros((blocks * 8,), block_shape=(8,)).persist()
    t_nums = median_time(lambda: (x + 1).get(), repeat) / blocks
    # the same blocks as one Ray object each (nums keeps small blocks in packs of several)
    refs = [ray.put(block) for block in np.split(x.get(), blocks)]
    add_one = ray.remote(_add_one)
    t_ray = median_time(lambda: ray.get([add_one.remote(r) for r in refs]), repeat) / blocks
    node = session.executor.nodes[0].node_id
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    pinned = add_one.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, False))
    t_pinned = median_time(lambda: ray.get([pinned.remote(r) for r in refs]), repeat) / blocks
    nums.shutdown()
    return [dict(what=f"(x + 1).get(), {blocks} blocks of 8", nums_ray=t_nums, ray_task=t_ray,
                 ray_pinned=t_pinned)]


def _add_one(block: np.ndarray) -> np.ndarray:
    return block + 1


def driver_memory(gib: float) -> dict[str, Any]:
    """Peak driver RSS while nums-ray creates and reduces ``gib`` GiB of inputs (never
    fetched); run in a fresh process by :func:`run_driver_memory`."""
    import psutil

    import nums
    import nums.numpy as nps

    n = int(gib * 2**30 / 16)  # two float64 inputs
    nums.init(backend="ray")
    proc = psutil.Process()
    start = proc.memory_info().rss
    peak = [start]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.05)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    block = (max(1, n // 32),)
    x = nps.random.default_rng(0).standard_normal((n,), block_shape=block)
    y = nps.random.default_rng(1).standard_normal((n,), block_shape=block)
    total = float((x * y + nps.sin(x)).sum())
    done.set()
    watcher.join()
    nums.shutdown()
    return dict(what=f"(x*y + sin(x)).sum(), inputs {gib:.2f} GiB", rss_start_mb=start / 2**20,
                rss_peak_mb=peak[0] / 2**20, value=total)


def run_driver_memory(gib: float) -> dict[str, Any]:
    """:func:`driver_memory` in a fresh Python process (so earlier work does not count)."""
    proc = subprocess.run([sys.executable, __file__, "--driver-memory-child", str(gib)],
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(v: float) -> str:
    if v != v:
        return "-"
    return f"{v * 1e6:.0f}us" if v < 1e-2 else f"{v:.3f}s"


def print_throughput(rows: list[dict[str, Any]]) -> None:
    print(f"{'workload':<40} {'numpy':>9} {'dask':>9} {'nums-loc':>9} {'nums-ray':>9} "
          f"{'dask/ray':>9} {'local/ray':>9}  blocks")
    for r in rows:
        print(f"{r['workload']:<40} {_fmt(r['numpy']):>9} {_fmt(r['dask']):>9} "
              f"{_fmt(r['local']):>9} {_fmt(r['ray']):>9} {r['dask'] / r['ray']:>9.2f} "
              f"{r['local'] / r['ray']:>9.2f}  {r['blocks']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(bench.NEWTON), default="small")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--memory-gib", type=float, default=None,
                        help="inputs of the driver-memory workload (default 0.25 / 4 GiB)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--driver-memory-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.driver_memory_child is not None:
        print(json.dumps(driver_memory(args.driver_memory_child)))
        return
    print(f"nums-ray benchmarks, size={args.size}, workers={args.workers}, "
          f"cores={os.cpu_count()}, numpy {np.__version__}")
    print_throughput(run_throughput(args.size, args.repeat, args.workers))
    print()
    for r in run_overhead(args.repeat):
        print(f"{r['what']}: nums-ray {_fmt(r['nums_ray'])}/block, bare Ray task "
              f"{_fmt(r['ray_task'])}/block, pinned Ray task {_fmt(r['ray_pinned'])}/block, "
              f"ratio {r['nums_ray'] / r['ray_pinned']:.2f}")
    if not args.skip_memory:
        print()
        gib = args.memory_gib or {"small": 0.25, "medium": 4.0}[args.size]
        for r in [run_driver_memory(gib)]:
            print(f"driver RSS during {r['what']}: start {r['rss_start_mb']:.0f} MB, "
                  f"peak {r['rss_peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
