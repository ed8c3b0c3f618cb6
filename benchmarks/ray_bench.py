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


def workloads(size: str) -> list[tuple[str, Callable[[], tuple], Callable[..., Any]]]:
    """run.py's workloads plus logistic-regression Newton steps."""
    return list(bench.workloads(size)) + [bench.newton_workload(size)]


class BareRayPool:
    """A ``pool`` for :mod:`floors` that runs each ``map`` call as Ray actor calls: the floor's
    per-block NumPy functions, hand-written Ray with no nums in between.

    One actor per CPU, pinned to the driver's node and called in turn (as nums' workers are).
    A NumPy argument is put in the object store the first time it is seen (the untimed
    warm-up run of ``median_times``) and passed by its ObjectRef after that, as nums and
    Dask start from data already in them; other arguments are pickled with the call.
    """

    def __init__(self, workers: int) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), False)
        imports = {"env_vars": {"PYTHONPATH": str(Path(__file__).parent)}}  # floors, by name
        actor = ray.remote(num_cpus=0, scheduling_strategy=here,
                           runtime_env=imports)(_BareWorker)
        self.actors = [actor.remote() for _ in range(workers)]
        self._refs: dict[tuple, Any] = {}
        self._ray = ray

    def _ref(self, value: Any) -> Any:
        if not isinstance(value, np.ndarray):
            return value
        key = (value.__array_interface__["data"][0], value.shape, value.strides)
        if key not in self._refs:
            self._refs[key] = self._ray.put(value)
        return self._refs[key]

    def map(self, fn: Callable[..., Any], *iterables: Any) -> list[Any]:
        calls = [self.actors[i % len(self.actors)].call.remote(fn, *map(self._ref, args))
                 for i, args in enumerate(zip(*iterables))]
        return self._ray.get(calls)

    def forget(self) -> None:
        """Drop the stored blocks (between workloads)."""
        self._refs.clear()


class _BareWorker:
    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return fn(*args)


def bare_ray_fn(name: str, inputs: tuple, block_rows: int, pool: BareRayPool
                ) -> Callable[[], Any]:
    """An untimed call of workload ``name``'s floor run by ``pool`` (:class:`BareRayPool`)."""
    from floors import FLOORS

    fn = FLOORS[name]
    return lambda: fn(pool, block_rows, *inputs)


def run_throughput(size: str, repeat: int, workers: int) -> list[dict[str, Any]]:
    """Every workload on NumPy, Dask, nums-local and nums-ray."""
    import nums

    cases = [(name, make(), fn) for name, make, fn in workloads(size)]
    rows = [dict(workload=name) for name, _, _ in cases]
    nums.init(backend="local", workers=workers)
    for row, (name, inputs, fn) in zip(rows, cases):
        local, first = bench.nums_fn(fn, inputs)
        fns = bench.reference_fns(name, fn, inputs, first.block_shape, workers)
        row.update(bench.median_times(dict(fns, local=local), repeat))
        row["blocks"], row["block_rows"] = first.grid_shape, first.block_shape[0]
        del local, first, fns
    nums.shutdown()
    nums.init(backend="ray", num_cpus=workers)
    pool = BareRayPool(workers)
    for row, (name, inputs, fn) in zip(rows, cases):
        ray_fn, _ = bench.nums_fn(fn, inputs)
        bare = bare_ray_fn(name, inputs, row["block_rows"], pool)
        row.update(bench.median_times(dict(ray=ray_fn, bare=bare), repeat))
        pool.forget()
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
    print(f"{'workload':<36} {'numpy':>8} {'dask':>8} {'floor':>8} {'nums-loc':>8} "
          f"{'bare-ray':>8} {'nums-ray':>8} {'dask/ray':>8} {'local/ray':>9} {'bare/ray':>8} "
          f"{'dask/floor':>10}  blocks")
    for r in rows:
        print(f"{r['workload'][:36]:<36} {_fmt(r['numpy']):>8} {_fmt(r['dask']):>8} "
              f"{_fmt(r['floor']):>8} {_fmt(r['local']):>8} {_fmt(r['bare']):>8} "
              f"{_fmt(r['ray']):>8} {r['dask'] / r['ray']:>8.2f} {r['local'] / r['ray']:>9.2f} "
              f"{r['bare'] / r['ray']:>8.2f} {r['dask'] / r['floor']:>10.2f}  {r['blocks']}")


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
