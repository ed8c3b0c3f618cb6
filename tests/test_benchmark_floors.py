"""The benchmarks' floors (benchmarks/floors.py) compute what their workloads compute.

A floor that skipped part of the arithmetic would make every ``dask/floor`` ratio a wrong
claim, so each one is checked against the workload's NumPy value on small inputs, with blocks
that divide the rows evenly and with a ragged last block.
"""

from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"nums_benchmarks_{name}",
                                                  BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))  # run.py imports floors as a sibling module
    try:
        yield _load("run")
    finally:
        sys.path.remove(str(BENCHMARKS))


def _cases(bench):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 30)), rng.standard_normal((40, 30))
    a, b = rng.standard_normal((40, 40)), rng.standard_normal((40, 40))
    tall = rng.standard_normal((300, 6))
    labels = (tall @ rng.standard_normal(6) > 0).astype(np.float64)
    names = [name for name, _, _ in bench.workloads("small")]
    fns = {name: fn for name, _, fn in bench.workloads("small")}
    inputs = dict(zip(names, [(x, y), (x,), (x,), (a, b), (tall,)]))
    newton_name, _, newton = bench.newton_workload("small")
    fns[newton_name] = newton
    inputs[newton_name] = (tall, labels)
    return [(name, fns[name], inputs[name]) for name in fns]


@pytest.mark.parametrize("block_rows", [7, 10, 1000])
def test_every_floor_computes_its_workload(bench, block_rows):
    floors = sys.modules["floors"]
    cases = _cases(bench)
    assert {name for name, _, _ in cases} == set(floors.FLOORS)
    with ThreadPoolExecutor(2) as pool:
        for name, fn, inputs in cases:
            expected = bench.to_numpy(fn(np, *inputs))
            got = floors.FLOORS[name](pool, block_rows, *inputs)
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9, err_msg=name)
