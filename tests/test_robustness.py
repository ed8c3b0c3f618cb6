"""Nothing breaks: threads computing at once, and deferred graphs of any depth.

Thread tests join every thread with a timeout (a deadlock fails the test, never hangs CI).
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nums
import nums.numpy as nps
from tests.utils import assert_eq

JOIN_S = 60


def skip_spmd(backend: str) -> None:
    """Threads computing at once submit jobs in an order that differs from rank to rank;
    an MPI program is SPMD (every rank makes the same calls in the same order)."""
    if backend == "mpi":
        pytest.skip("MPI programs are SPMD: each rank must compute in one order, not from "
                    "racing threads")


def run_threads(target, count: int) -> list[BaseException]:
    """Run ``target(i)`` in ``count`` threads; fail if one is still running after JOIN_S."""
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: races show up in every run
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=JOIN_S)
    finally:
        sys.setswitchinterval(interval)
    assert not any(t.is_alive() for t in threads), "threads hang (deadlock)"
    return errors


@pytest.mark.timeout(300)
def test_threads_with_their_own_arrays(backend):
    skip_spmd(backend)
    def work(i: int) -> None:
        rng = np.random.default_rng(i)
        a, b = rng.standard_normal((60, 20)), rng.standard_normal((20, 30))
        A, B = nps.array(a, block_shape=(16, 8)), nps.array(b, block_shape=(8, 16))
        for _ in range(25):
            s, p, m = nums.get((nps.exp(A) * 2 + A).sum(axis=0), A @ B, A.mean())
            np.testing.assert_allclose(s, (np.exp(a) * 2 + a).sum(axis=0), rtol=1e-12)
            np.testing.assert_allclose(p, a @ b, rtol=1e-12)
            np.testing.assert_allclose(m, a.mean(), rtol=1e-12)

    errors = run_threads(work, 4)
    assert not errors, errors[0]


@pytest.mark.timeout(300)
def test_threads_sharing_deferred_arrays(backend):
    skip_spmd(backend)
    a = np.random.default_rng(7).standard_normal((50, 12))
    for _ in range(5):
        x = nps.array(a, block_shape=(9, 5))
        y = nps.exp(x) * 2 - x                   # deferred, shared by every thread
        work = _shared_reader(y, np.exp(a) * 2 - a)
        errors = run_threads(work, 10)
        assert not errors, errors[0]
        assert_eq(y, np.exp(a) * 2 - a)


def _shared_reader(y, want_y):
    """A thread body computing one of several results of the shared deferred ``y``."""
    z, total = y.T @ y, (y + 1).sum(axis=1)

    def work(i: int) -> None:
        got = [y.get, z.get, total.get, lambda: y[3:40:2, 1:].get(),
               lambda: (y * i).mean(axis=0).get()][i % 5]()
        want = [want_y, want_y.T @ want_y, (want_y + 1).sum(axis=1),
                want_y[3:40:2, 1:], (want_y * i).mean(axis=0)][i % 5]
        np.testing.assert_allclose(got, want, rtol=1e-12)

    return work


OPS = [
    ("exp", lambda m, x: m.exp(x * 0.1)),
    ("add", lambda m, x: x + 1.5),
    ("mul", lambda m, x: x * x),
    ("sum0", lambda m, x: m.broadcast_to(x.sum(axis=0), x.shape)),
    ("T", lambda m, x: x.T.T),
    ("slice", lambda m, x: m.concatenate([x[1:], x[:1]], axis=0)),
    ("mask", lambda m, x: m.where(x > 0, x, -x)),
    ("gram", lambda m, x: x @ (x.T @ x) * 1e-3),
]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(st.integers(0, len(OPS) - 1), min_size=1, max_size=6),
                min_size=2, max_size=4))
def test_random_chains_from_several_threads(chains):
    from tests.conftest import SELECTED, start

    start("threads" if "mpi" in SELECTED else SELECTED[-1])
    base = np.random.default_rng(len(chains)).standard_normal((24, 6))

    def work(i: int) -> None:
        x, ref = nps.array(base, block_shape=(5, 4)), base
        for k in chains[i]:
            x, ref = OPS[k][1](nps, x), OPS[k][1](np, ref)
        np.testing.assert_allclose(x.get(), ref, rtol=1e-9, atol=1e-9)

    errors = run_threads(work, len(chains))
    assert not errors, errors[0]


# -- deep deferred graphs ----------------------------------------------------------------

def chain(kind: str, steps: int):
    """``steps`` deferred steps of one kind with no get() in between; returns the nums array
    and NumPy's value."""
    if kind == "matmul":
        X, x = nps.ones((6, 4), block_shape=(2, 2)), np.ones((6, 4))
        W, w = nps.eye(4, block_shape=(2, 2)) * 0.5, np.eye(4) * 0.5
        for _ in range(steps):
            X, x = X @ W + 1, x @ w + 1
    elif kind == "rechunk":
        X = nps.arange(40.0, block_shape=(7,))
        for i in range(steps):
            X = X.reshape(block_shape=(3 + i % 5,))
        x = np.arange(40.0)
    elif kind == "setitem":
        X, x = nps.zeros((20,), block_shape=(3,)), np.zeros(20)
        for i in range(steps):
            X[i % 20] = i
            x[i % 20] = i
    elif kind == "reduce":
        X, x = nps.ones((5, 4), block_shape=(2, 3)), np.ones((5, 4))
        for _ in range(steps):
            X, x = X - X.mean(axis=0) + 1, x - x.mean(axis=0) + 1
    elif kind == "transpose":
        X, x = nps.ones((4, 4), block_shape=(3, 3)), np.ones((4, 4))
        for _ in range(steps):
            X, x = X.T[::-1] * 0.5 + 1, x.T[::-1] * 0.5 + 1
    else:  # elementwise
        X, x = nps.ones((7, 3), block_shape=(2, 2)), np.ones((7, 3))
        for _ in range(steps):
            X, x = nps.sqrt(X) + 1, np.sqrt(x) + 1
    return X, x


KINDS = ["matmul", "rechunk", "setitem", "reduce", "transpose", "elementwise"]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", KINDS)
def test_deep_graphs_compute(backend, kind):
    X, x = chain(kind, 1_000)
    assert_eq(X, x, rtol=1e-9)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", KINDS)
def test_ten_thousand_deferred_steps(serial, kind):
    from tests.conftest import SELECTED

    if "serial" not in SELECTED:  # the Ray and MPI suites rerun this module
        pytest.skip("lowering depth does not depend on the backend: the local suite runs it")
    X, x = chain(kind, 10_000)
    assert nums.explain(X).num_ops > 0  # planning (a dry lowering) is iterative too
    assert_eq(X, x, rtol=1e-9)


# -- memory guard ------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_memory_guard_refuses_before_allocating(backend):
    with pytest.raises(MemoryError, match=r"shape \(1000000000000,\).*7\.3 TiB.*available"):
        nps.zeros((10**12,), block_shape=(2**30,)).sum().get()
    with pytest.raises(MemoryError, match=r"745\.1 GiB"):
        (nps.ones((10**11,), block_shape=(2**28,)) * 2).sum().get()
    with pytest.raises(MemoryError, match=r"shape \(9223372036854775808,\).*blocks"):
        nps.zeros((2**63,))
    assert_eq(nps.ones((1000,)).sum(), np.float64(1000.0))  # the session keeps working
    assert nums.explain(nps.zeros((10**12,), block_shape=(2**30,)).sum()).num_ops > 0
