"""nums on MPI (``mpiexec -n 2``) next to nums-local, NumPy and Dask (threads), in one run.

Usage::

    python benchmarks/mpi_bench.py --size small      # a minute or two on 2 cores
    python benchmarks/mpi_bench.py --size medium     # the sizes issue 4's targets refer to

The driver times NumPy, Dask (threads) and nums-local (``--workers`` threads) in this process
on the workloads of ``benchmarks/run.py`` (imported, not copied) plus logistic-regression
Newton steps, then starts ``mpiexec -n --ranks`` on this same file, where every rank builds the
same inputs and times nums-mpi; rank 0 hands the medians back as JSON. Columns ``dask/mpi`` and
``local/mpi`` above 1 mean nums-mpi is faster. A second table compares moving one block
between two ranks with nums-mpi (``put`` on rank 0, a task on rank 1, ``get`` of a tiny result)
against a raw mpi4py ``Send``/``Recv`` of the same buffer. ``NUMS_MPIEXEC`` names the
``mpiexec`` to use (default: the one next to this Python, from the mpich wheel).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _load_run_module() -> Any:
    """benchmarks/run.py as a module (benchmarks/ is not a package)."""
    name = "nums_benchmarks_run"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("run.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_run_module()
median_time = bench.median_time

TRANSFER_BYTES = {"small": 64 * 2**20, "medium": 512 * 2**20}


def workloads(size: str) -> list[tuple[str, Callable[[], tuple], Callable[..., Any]]]:
    """run.py's workloads plus logistic-regression Newton steps (same inputs on every rank:
    fixed seeds)."""
    return list(bench.workloads(size)) + [bench.newton_workload(size)]


# -- inside mpiexec ------------------------------------------------------------------------

def rank_main(size: str, repeat: int, out: str | None) -> None:
    """Every rank: time nums-mpi on every workload and one block transfer; rank 0 writes
    the results to ``out``."""
    import nums

    session = nums.init(backend="mpi")
    executor = session.executor
    rows = []
    for name, make_inputs, fn in workloads(size):
        run, first = bench.nums_fn(fn, make_inputs())
        rows.append(dict(workload=name, mpi=median_time(run, repeat),
                         blocks=list(first.grid_shape)))
    transfer = time_transfer(executor, TRANSFER_BYTES[size], repeat) if executor.size > 1 \
        else None
    nums.shutdown()
    if executor.rank == 0 and out:
        Path(out).write_text(json.dumps(dict(rows=rows, transfer=transfer,
                                             ranks=executor.size)))


def time_transfer(executor: Any, nbytes: int, repeat: int) -> dict[str, float]:
    """Seconds to move ``nbytes`` from rank 0 to rank 1: nums-mpi and raw mpi4py."""
    from mpi4py import MPI
    from nums.kernels.registry import kernel

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    data = np.random.default_rng(0).random(nbytes // 8)
    take = kernel("take_slice")
    d0, d1 = executor.devices()[0], executor.devices()[1]

    def nums_move() -> None:
        ref = executor.put(data, d0)  # a new block each time: a block moves once per rank
        first = executor.submit(take, ((slice(0, 1),), ref), d1)
        executor.get([first])

    def raw_move() -> None:
        comm.Barrier()
        if rank == 0:
            comm.Send([data, MPI.DOUBLE], dest=1, tag=7)
        elif rank == 1:
            buf = np.empty_like(data)  # nums receives into a new buffer too
            comm.Recv([buf, MPI.DOUBLE], source=0, tag=7)
        comm.Barrier()

    def barrier_only() -> None:
        comm.Barrier()
        comm.Barrier()

    t_nums = median_time(nums_move, repeat)
    t_raw = median_time(raw_move, repeat) - median_time(barrier_only, repeat)
    return dict(bytes=nbytes, nums=t_nums, raw=max(t_raw, 1e-9))


# -- the driver ----------------------------------------------------------------------------

def find_mpiexec() -> str:
    """The mpiexec to launch with (see :func:`nums.backends.mpi.launch.find_mpiexec`)."""
    from nums.backends.mpi.launch import find_mpiexec as find

    found = find()
    if found is None:
        raise SystemExit("no mpiexec: pip install 'nums[mpi]' or set NUMS_MPIEXEC")
    return found


def run_mpi(size: str, repeat: int, ranks: int, timeout: float) -> dict[str, Any]:
    """Run :func:`rank_main` under mpiexec; return rank 0's results."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "mpi.json")
        command = [find_mpiexec(), "-n", str(ranks), sys.executable, __file__, "--rank-mode",
                   "--size", size, "--repeat", str(repeat), "--out", out]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if proc.returncode:
            raise RuntimeError(f"mpiexec failed ({proc.returncode}):\n{proc.stdout}\n"
                               f"{proc.stderr}")
        return json.loads(Path(out).read_text())


def run_local(size: str, repeat: int, workers: int) -> list[dict[str, Any]]:
    """NumPy, Dask threads and nums-local on every workload (this process)."""
    import nums

    nums.init(backend="local", workers=workers)
    rows = []
    for name, make_inputs, fn in workloads(size):
        inputs = make_inputs()
        local, first = bench.nums_fn(fn, inputs)
        fns = bench.reference_fns(name, fn, inputs, first.block_shape, workers)
        rows.append(dict(workload=name, **bench.median_times(dict(fns, local=local), repeat)))
    nums.shutdown()
    return rows


def _fmt(v: float) -> str:
    return f"{v * 1e6:.1f}us" if v < 1e-3 else f"{v:.3f}s"


def print_tables(rows: list[dict[str, Any]], transfer: dict[str, float] | None,
                 ranks: int) -> None:
    """The throughput table and the transfer table."""
    print(f"{'workload':<36} {'numpy':>8} {'dask':>8} {'floor':>8} {'nums-loc':>8} "
          f"{'nums-mpi':>8} {'dask/mpi':>8} {'local/mpi':>9} {'dask/floor':>10}  blocks")
    for r in rows:
        print(f"{r['workload'][:36]:<36} {_fmt(r['numpy']):>8} {_fmt(r['dask']):>8} "
              f"{_fmt(r['floor']):>8} {_fmt(r['local']):>8} {_fmt(r['mpi']):>8} "
              f"{r['dask'] / r['mpi']:>8.2f} {r['local'] / r['mpi']:>9.2f} "
              f"{r['dask'] / r['floor']:>10.2f}  {tuple(r['blocks'])}")
    if transfer:
        mb = transfer["bytes"] / 2**20
        bw_nums = transfer["bytes"] / transfer["nums"] / 2**30
        bw_raw = transfer["bytes"] / transfer["raw"] / 2**30
        print(f"\none {mb:.0f} MiB block, rank 0 -> rank 1 ({ranks} ranks): nums-mpi "
              f"{_fmt(transfer['nums'])} ({bw_nums:.2f} GiB/s), raw mpi4py Send/Recv "
              f"{_fmt(transfer['raw'])} ({bw_raw:.2f} GiB/s), nums/raw bandwidth "
              f"{bw_nums / bw_raw:.0%}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(bench.SIZES), default="small")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="nums-local and Dask threads")
    parser.add_argument("--ranks", type=int, default=2, help="mpiexec -n")
    parser.add_argument("--timeout", type=float, default=1800, help="for the mpiexec run")
    parser.add_argument("--rank-mode", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rank_mode:
        rank_main(args.size, args.repeat, args.out)
        return
    print(f"nums-mpi benchmarks, size={args.size}, ranks={args.ranks}, "
          f"local/dask workers={args.workers}, cores={os.cpu_count()}, numpy {np.__version__}")
    start = time.perf_counter()
    local = run_local(args.size, args.repeat, args.workers)
    mpi = run_mpi(args.size, args.repeat, args.ranks, args.timeout)
    rows = [dict(**a, mpi=b["mpi"], blocks=b["blocks"]) for a, b in zip(local, mpi["rows"])]
    print_tables(rows, mpi["transfer"], mpi["ranks"])
    print(f"\n(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
