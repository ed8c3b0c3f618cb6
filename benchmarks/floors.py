"""The *floor* of each benchmark workload: its arithmetic in hand-written NumPy, no framework.

A workload's floor is the time of the same arithmetic on the same row blocks, spread over
``workers`` threads of one process (BLAS at one thread each, as in nums' workers),
with no scheduler, no task graph, no copies and no transfers, and with the cheapest NumPy
formulation known: elementwise chains walk each block in cache-sized tiles, and the Hessian of
the Newton steps is one symmetric product per block. It is what a block scheduler with no
overhead at all would take with NumPy's kernels on this machine, so ``dask / floor`` is the
largest ``dask / nums`` any such system can show in the same run. nums can go under the floor
where its kernels do less work than the NumPy written here, where separate processes (Ray,
MPI) spare it the GIL that the floor's threads take between NumPy calls (a few percent for
tile loops), and by this shared machine's noise: quote several runs.

Used by ``run.py``, ``ray_bench.py`` and ``mpi_bench.py`` (the ``floor`` column). Every floor
takes its thread pool as ``pool`` and hands it the blocks (NumPy arrays) as ``pool.map``'s
arguments, so ``ray_bench.py`` runs the same per-block functions as Ray actor calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

TILE_ELEMENTS = 65536  # nums' default tile; 8192 took 10-15% longer here (more NumPy calls)
_TILES = threading.local()  # two tile buffers per thread, reused: fresh pages are slow here


def _row_blocks(a: np.ndarray, rows: int) -> list[np.ndarray]:
    return [a[i:i + rows] for i in range(0, a.shape[0], rows)]


def _tile_sum(xb: np.ndarray, yb: np.ndarray) -> float:
    """``(xb * yb + sin(xb)).sum()`` tile by tile in this thread's reused buffers (top level:
    Ray workers import it by name, with buffers of their own)."""
    xf, yf = xb.reshape(-1), yb.reshape(-1)
    if getattr(_TILES, "pair", None) is None:
        _TILES.pair = np.empty(TILE_ELEMENTS), np.empty(TILE_ELEMENTS)
    t1, t2 = _TILES.pair
    total = 0.0
    for i in range(0, xf.size, TILE_ELEMENTS):
        n = min(TILE_ELEMENTS, xf.size - i)
        a, b = t1[:n], t2[:n]
        np.sin(xf[i:i + n], out=a)
        np.multiply(xf[i:i + n], yf[i:i + n], out=b)
        np.add(a, b, out=a)
        total += float(a.sum())
    return total


def _elementwise(pool: ThreadPoolExecutor, rows: int, x: np.ndarray, y: np.ndarray) -> float:
    return sum(pool.map(_tile_sum, _row_blocks(x, rows), _row_blocks(y, rows)))


def _sum0(pool: ThreadPoolExecutor, rows: int, x: np.ndarray) -> np.ndarray:
    return sum(pool.map(lambda b: np.add.reduce(b, axis=0), _row_blocks(x, rows)))


def _mean1(pool: ThreadPoolExecutor, rows: int, x: np.ndarray) -> np.ndarray:
    return np.concatenate(list(pool.map(lambda b: b.mean(axis=1), _row_blocks(x, rows))))


def _matmul(pool: ThreadPoolExecutor, rows: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    blocks = _row_blocks(a, rows)
    return np.concatenate(list(pool.map(np.matmul, blocks, [b] * len(blocks))))


def _gram(pool: ThreadPoolExecutor, rows: int, x: np.ndarray) -> np.ndarray:
    return sum(pool.map(lambda b: b.T @ b, _row_blocks(x, rows)))


def _newton(pool: ThreadPoolExecutor, rows: int, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    w = np.zeros(X.shape[1])
    x_blocks, y_blocks = _row_blocks(X, rows), _row_blocks(y, rows)
    for _ in range(2):
        def step(xb: np.ndarray, yb: np.ndarray, w: np.ndarray = w):
            p = 1.0 / (1.0 + np.exp(-(xb @ w)))
            z = xb * np.sqrt(p * (1.0 - p))[:, None]
            return xb.T @ (p - yb), z.T @ z

        parts = list(pool.map(step, x_blocks, y_blocks))
        g = sum(p[0] for p in parts)
        H = sum(p[1] for p in parts)
        w = w - np.linalg.solve(H + 1e-8 * np.eye(len(w)), g)
    return w


FLOORS: dict[str, Callable[..., Any]] = {
    "elementwise x*y+sin(x), sum": _elementwise,
    "sum(axis=0)": _sum0,
    "mean(axis=1)": _mean1,
    "square matmul": _matmul,
    "X.T @ X tall-skinny": _gram,
    "logistic regression, 2 Newton steps": _newton,
}


_POOLS: dict[int, ThreadPoolExecutor] = {}


def floor_fn(name: str, inputs: tuple, block_rows: int, workers: int
             ) -> Callable[[], Any] | None:
    """Workload ``name``'s floor on ``inputs`` as a call to time (see the module docstring),
    None if it has none; ``block_rows`` is the row count of the first input's blocks. The
    call limits BLAS to one thread while it runs (NumPy's own runs keep its default)."""
    from threadpoolctl import ThreadpoolController

    fn = FLOORS.get(name)
    if fn is None:
        return None
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="floor")
    pool, blas = _POOLS[workers], ThreadpoolController()

    def run() -> Any:
        with blas.limit(limits=1):
            return fn(pool, block_rows, *inputs)

    return run
