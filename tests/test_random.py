"""Random arrays (``nums.numpy.random``): properties, not NumPy's own stream.

A seed must give the same array for every block shape and executor; values must lie in the
documented ranges and have the right rough statistics.
"""

from __future__ import annotations

import numpy as np
import pytest

import nums.numpy as nps
from tests.conftest import LOCAL_BACKENDS, start
from tests.utils import BLOCKINGS, block_shape_for, check_blocks

SHAPE = (50, 30)


def _draws(rng, block_shape=None) -> dict[str, np.ndarray]:
    """One array of each kind from ``rng`` (in a fixed order), as NumPy arrays."""
    out = {
        "random": rng.random(SHAPE, block_shape=block_shape),
        "standard_normal": rng.standard_normal(SHAPE, block_shape=block_shape),
        "normal": rng.normal(2.0, 3.0, SHAPE, block_shape=block_shape),
        "uniform": rng.uniform(-1.0, 4.0, SHAPE, block_shape=block_shape),
        "integers": rng.integers(-20, 20, SHAPE, block_shape=block_shape),
        "integers_int8": rng.integers(0, 100, SHAPE, dtype=np.int8, endpoint=True,
                                      block_shape=block_shape),
        "random_f32": rng.random(SHAPE, dtype=np.float32, block_shape=block_shape),
    }
    for x in out.values():
        check_blocks(x)
    return {name: x.get() for name, x in out.items()}


def _assert_same_draws(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name, strict=True)


# --------------------------------------------------------------------------- shape and dtype


@pytest.mark.parametrize("size, shape", [(None, ()), (7, (7,)), ((), ()), ((3, 4), (3, 4)),
                                         ((2, 3, 5), (2, 3, 5)), ((0, 4), (0, 4)),
                                         (np.int64(5), (5,))], ids=str)
def test_generator_shapes_and_dtypes(backend, size, shape):
    rng = nps.random.default_rng(0)
    cases = [
        (rng.random(size), np.float64),
        (rng.random(size, dtype=np.float32), np.float32),
        (rng.standard_normal(size), np.float64),
        (rng.standard_normal(size, dtype=np.float32), np.float32),
        (rng.normal(1.0, 2.0, size), np.float64),
        (rng.uniform(-1.0, 1.0, size), np.float64),
        (rng.integers(0, 10, size), np.int64),
        (rng.integers(0, 10, size, dtype=np.int8), np.int8),
        (rng.integers(0, 10, size, dtype=np.uint16), np.uint16),
        (rng.integers(0, 10, size, dtype=np.int32, endpoint=True), np.int32),
    ]
    for x, dtype in cases:
        assert x.shape == shape
        assert x.dtype == np.dtype(dtype)
        check_blocks(x)
        value = x.get()
        assert value.shape == shape
        assert value.dtype == np.dtype(dtype)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_generator_block_shape_argument(backend, blocking):
    bs = block_shape_for(SHAPE, blocking)
    rng = nps.random.default_rng(3)
    for x in (rng.random(SHAPE, block_shape=bs), rng.standard_normal(SHAPE, block_shape=bs),
              rng.integers(5, size=SHAPE, block_shape=bs)):
        assert x.shape == SHAPE
        assert x.block_shape == bs
        assert x.grid_shape == tuple(-(-n // b) for n, b in zip(SHAPE, bs))
        check_blocks(x)


def test_legacy_shapes_and_dtypes(backend):
    nps.random.seed(0)
    cases = [
        (nps.random.rand(3, 4), (3, 4), np.float64),
        (nps.random.rand(6), (6,), np.float64),
        (nps.random.rand(), (), np.float64),
        (nps.random.randn(2, 5), (2, 5), np.float64),
        (nps.random.randn(), (), np.float64),
        (nps.random.randint(0, 10, size=(4, 3)), (4, 3), np.dtype(int)),
        (nps.random.randint(7, size=9), (9,), np.dtype(int)),
        (nps.random.randint(-5, 5, size=8, dtype=np.int16), (8,), np.int16),
        (nps.random.random_sample((2, 2)), (2, 2), np.float64),
        (nps.random.random_sample(), (), np.float64),
        (nps.random.random((3,)), (3,), np.float64),
        (nps.random.standard_normal((4,)), (4,), np.float64),
        (nps.random.normal(0.0, 1.0, (2, 3)), (2, 3), np.float64),
        (nps.random.uniform(0.0, 1.0, 5), (5,), np.float64),
    ]
    for x, shape, dtype in cases:
        assert x.shape == shape
        assert x.dtype == np.dtype(dtype)
        check_blocks(x)
        assert x.get().shape == shape


def test_random_state_shapes_and_dtypes(backend):
    rs = nps.random.RandomState(5)
    assert rs.rand(3, 2).shape == (3, 2)
    assert rs.randn(4).shape == (4,)
    x = rs.randint(2, 9, size=(5, 5))
    assert x.shape == (5, 5)
    assert x.dtype == np.dtype(int)
    assert rs.randint(3, size=4, dtype=np.uint8).dtype == np.uint8
    assert rs.random_sample((2, 7)).shape == (2, 7)
    assert rs.random(3).dtype == np.float64
    assert rs.standard_normal((3, 3)).shape == (3, 3)
    assert rs.normal(1.0, 2.0, 6).shape == (6,)
    assert rs.uniform(-1, 1, (2, 2)).shape == (2, 2)


def test_normal_uniform_broadcast_parameters(backend):
    rng = nps.random.default_rng(9)
    loc = np.array([0.0, 100.0, -100.0])
    x = rng.normal(loc, 0.5)
    assert x.shape == (3,)
    assert np.all(np.abs(x.get() - loc) < 5.0)
    x = rng.normal(np.zeros((4, 1)), np.ones(5))
    assert x.shape == (4, 5)
    low, high = np.array([0.0, 10.0, 20.0]), np.array([1.0, 11.0, 21.0])
    u = rng.uniform(low, high).get()
    assert u.shape == (3,)
    assert np.all((u >= low) & (u < high))
    u = rng.uniform(low, high, size=(100, 3)).get()
    assert np.all((u >= low) & (u < high))
    n = rng.normal(loc, np.array([0.0, 0.0, 0.0]), size=(10, 3)).get()
    np.testing.assert_array_equal(n, np.broadcast_to(loc, (10, 3)))


# --------------------------------------------------------------------------- ranges


def test_random_in_unit_interval(backend):
    rng = nps.random.default_rng(11)
    for dtype in (np.float64, np.float32):
        x = rng.random((40, 50), dtype=dtype).get()
        assert x.dtype == dtype
        assert x.min() >= 0.0
        assert x.max() < 1.0
        assert x.max() - x.min() > 0.9  # spread over the interval
    for x in (nps.random.rand(2000), nps.random.random_sample(2000),
              nps.random.RandomState(1).rand(2000)):
        v = x.get()
        assert v.min() >= 0.0
        assert v.max() < 1.0
        assert v.max() - v.min() > 0.9


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-3.0, -1.0), (5.0, 5.5), (-1e3, 1e3)])
def test_uniform_range(backend, low, high):
    x = nps.random.default_rng(4).uniform(low, high, 3000, block_shape=(700,)).get()
    assert x.min() >= low
    assert x.max() < high
    assert x.max() - x.min() > 0.9 * (high - low)
    v = nps.random.uniform(low, high, 500).get()
    assert v.min() >= low
    assert v.max() < high


@pytest.mark.parametrize("low, high, endpoint, dtype", [
    (0, 10, False, np.int64),
    (0, 10, True, np.int64),
    (-5, 5, False, np.int32),
    (-5, 5, True, np.int8),
    (0, 255, True, np.uint8),
    (0, 255, False, np.uint8),
    (-128, 127, True, np.int8),
    (1000, 1003, False, np.uint16),
    (0, 1, True, np.bool_),
    (7, 7, True, np.int64),
    (0, 2**40, False, np.int64),
], ids=str)
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_integers_within_bounds(backend, low, high, endpoint, dtype, blocking):
    shape = (60, 50)
    x = nps.random.default_rng(21).integers(low, high, shape, dtype=dtype, endpoint=endpoint,
                                            block_shape=block_shape_for(shape, blocking))
    assert x.dtype == np.dtype(dtype)
    check_blocks(x)
    v = x.get()
    top = high if endpoint else high - 1
    assert v.min() >= low
    assert v.max() <= top
    if top - low < 300:
        # 3000 draws over at most 256 values: every value shows up, both ends included.
        assert set(np.unique(v).tolist()) == set(range(low, top + 1))


def test_integers_one_bound(backend):
    rng = nps.random.default_rng(2)
    v = rng.integers(4, size=2000).get()
    assert set(np.unique(v).tolist()) == {0, 1, 2, 3}
    v = rng.integers(4, size=2000, endpoint=True).get()
    assert set(np.unique(v).tolist()) == {0, 1, 2, 3, 4}
    v = nps.random.randint(3, size=1000).get()
    assert set(np.unique(v).tolist()) == {0, 1, 2}
    v = nps.random.randint(-2, 1, size=1000).get()
    assert set(np.unique(v).tolist()) == {-2, -1, 0}
    v = nps.random.RandomState(0).randint(10, 12, size=500).get()
    assert set(np.unique(v).tolist()) == {10, 11}


def test_float32_draws(backend):
    rng = nps.random.default_rng(8)
    r = rng.random(5000, dtype=np.float32)
    n = rng.standard_normal(5000, dtype=np.float32)
    assert r.dtype == np.float32
    assert n.dtype == np.float32
    check_blocks(r)
    check_blocks(n)
    rv, nv = r.get(), n.get()
    assert rv.dtype == np.float32
    assert nv.dtype == np.float32
    assert rv.min() >= 0.0
    assert rv.max() < 1.0
    assert abs(float(rv.mean()) - 0.5) < 0.03
    assert abs(float(nv.mean())) < 0.1
    assert abs(float(nv.std()) - 1.0) < 0.1
    assert np.all(np.isfinite(nv))
    # float32 draws are reproducible across block shapes too
    again = nps.random.default_rng(8)
    np.testing.assert_array_equal(again.random(5000, dtype=np.float32, block_shape=(333,)).get(),
                                  rv, strict=True)
    np.testing.assert_array_equal(
        again.standard_normal(5000, dtype=np.float32, block_shape=(4999,)).get(), nv,
        strict=True)


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("seed", [12345, [1, 2, 3]], ids=str)
def test_same_seed_same_array_for_every_blocking(backend, seed):
    reference = _draws(nps.random.default_rng(seed))
    for blocking in BLOCKINGS:
        _assert_same_draws(reference, _draws(nps.random.default_rng(seed),
                                             block_shape_for(SHAPE, blocking)))
    for bs in [(7, 3), (50, 1), (13, 29)]:
        _assert_same_draws(reference, _draws(nps.random.default_rng(seed), bs))


def test_same_seed_same_array_7x3_vs_50x1(backend):
    a = nps.random.default_rng(42).standard_normal((50, 3), block_shape=(7, 3))
    b = nps.random.default_rng(42).standard_normal((50, 3), block_shape=(50, 1))
    assert a.grid_shape == (8, 1)
    assert b.grid_shape == (1, 3)
    np.testing.assert_array_equal(a.get(), b.get(), strict=True)


def test_same_seed_same_array_large_multichunk(backend):
    # More elements than one canonical chunk, blocks that straddle chunk borders.
    shape = (130, 170)
    a = nps.random.default_rng(77).random(shape, block_shape=(130, 170)).get()
    for bs in [(7, 170), (130, 11), (33, 47), (64, 64)]:
        b = nps.random.default_rng(77).random(shape, block_shape=bs).get()
        np.testing.assert_array_equal(a, b, strict=True)
    assert np.unique(a).size == a.size  # no repeated stretches across chunks or blocks


def test_same_seed_same_array_on_both_executors():
    results = {}
    try:
        for name in LOCAL_BACKENDS:
            start(name)
            per_blocking = [_draws(nps.random.default_rng(2024), block_shape_for(SHAPE, b))
                            for b in BLOCKINGS]
            nps.random.seed(5)
            legacy = {"rand": nps.random.rand(20, 30).get(),
                      "randn": nps.random.randn(20, 30).get(),
                      "randint": nps.random.randint(-9, 9, size=(20, 30)).get()}
            results[name] = (per_blocking, legacy)
    finally:
        start("serial")
    serial, threads = results["serial"], results["threads"]
    for a, b in zip(serial[0], threads[0]):
        _assert_same_draws(a, b)
    _assert_same_draws(serial[0][0], threads[0][2])
    _assert_same_draws(serial[1], threads[1])


def test_generator_repeats_its_sequence_of_draws(backend):
    a, b = nps.random.default_rng(99), nps.random.default_rng(99)
    for _ in range(3):
        np.testing.assert_array_equal(a.random(200).get(), b.random(200).get())
        np.testing.assert_array_equal(a.integers(0, 50, 200).get(), b.integers(0, 50, 200).get())


def test_default_rng_accepts_generator(backend):
    rng = nps.random.default_rng(1)
    assert nps.random.default_rng(rng) is rng


def test_different_seeds_differ(backend):
    arrays = [nps.random.default_rng(s).random(500).get() for s in (0, 1, 2, 12345)]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert not np.array_equal(arrays[i], arrays[j])
            assert np.mean(arrays[i] == arrays[j]) < 0.01
    a = nps.random.default_rng(0).integers(0, 2**31, 500).get()
    b = nps.random.default_rng(1).integers(0, 2**31, 500).get()
    assert np.mean(a == b) < 0.01
    a = nps.random.RandomState(0).randn(500).get()
    b = nps.random.RandomState(1).randn(500).get()
    assert not np.array_equal(a, b)


def test_consecutive_draws_differ(backend):
    rng = nps.random.default_rng(7)
    a, b = rng.random(500).get(), rng.random(500).get()
    assert np.mean(a == b) < 0.01
    c, d = rng.standard_normal((20, 25)).get(), rng.standard_normal((20, 25)).get()
    assert np.mean(c == d) < 0.01
    e, f = rng.integers(0, 10**9, 500).get(), rng.integers(0, 10**9, 500).get()
    assert np.mean(e == f) < 0.01
    nps.random.seed(3)
    g, h = nps.random.rand(500).get(), nps.random.rand(500).get()
    assert np.mean(g == h) < 0.01


def test_blocks_are_not_copies_of_each_other(backend):
    x = nps.random.default_rng(5).random((40, 25), block_shape=(8, 5))
    v = x.get()
    blocks = [v[i:i + 8, j:j + 5] for i in range(0, 40, 8) for j in range(0, 25, 5)]
    for i in range(len(blocks)):
        for j in range(i + 1, len(blocks)):
            assert not np.array_equal(blocks[i], blocks[j])
    assert np.unique(v).size == v.size


def test_legacy_seed_then_rand_repeats(backend):
    nps.random.seed(123)
    a = nps.random.rand(30, 20).get()
    b = nps.random.randn(15).get()
    c = nps.random.randint(0, 100, size=40).get()
    d = nps.random.random_sample((5, 5)).get()
    nps.random.seed(123)
    np.testing.assert_array_equal(nps.random.rand(30, 20).get(), a)
    np.testing.assert_array_equal(nps.random.randn(15).get(), b)
    np.testing.assert_array_equal(nps.random.randint(0, 100, size=40).get(), c)
    np.testing.assert_array_equal(nps.random.random_sample((5, 5)).get(), d)
    nps.random.seed(124)
    assert not np.array_equal(nps.random.rand(30, 20).get(), a)


def test_random_state_seed_repeats(backend):
    rs = nps.random.RandomState(10)
    a = rs.rand(40).get()
    b = rs.randn(3, 4).get()
    assert not np.array_equal(rs.rand(40).get(), a)
    rs.seed(10)
    np.testing.assert_array_equal(rs.rand(40).get(), a)
    np.testing.assert_array_equal(rs.randn(3, 4).get(), b)
    np.testing.assert_array_equal(nps.random.RandomState(10).rand(40).get(), a)
    other = nps.random.RandomState(11).rand(40).get()
    assert not np.array_equal(other, a)


# --------------------------------------------------------------------------- statistics


def test_statistics_100k(backend):
    n = 100_000
    rng = nps.random.default_rng(2023)
    z = rng.standard_normal(n, block_shape=(12_500,))
    zv = z.get()
    assert abs(float(zv.mean())) < 0.02
    assert abs(float(zv.std()) - 1.0) < 0.02
    assert abs(float(z.mean().get())) < 0.02  # the same on the blocked array
    assert 0.6 < np.mean(np.abs(zv) < 1.0) < 0.76  # about 68.3% within one sigma

    x = rng.normal(3.0, 2.0, n, block_shape=(25_000,)).get()
    assert abs(float(x.mean()) - 3.0) < 0.04
    assert abs(float(x.std()) - 2.0) < 0.04

    u = rng.random(n, block_shape=(30_000,)).get()
    assert abs(float(u.mean()) - 0.5) < 0.01
    assert abs(float(u.var()) - 1.0 / 12.0) < 0.005
    counts = np.histogram(u, bins=10, range=(0.0, 1.0))[0]
    assert np.all(np.abs(counts - n / 10) < 0.05 * n / 10)

    w = rng.uniform(-2.0, 6.0, n, block_shape=(50_000,)).get()
    assert abs(float(w.mean()) - 2.0) < 0.05
    assert abs(float(w.var()) - 64.0 / 12.0) < 0.15

    k = rng.integers(0, 10, n, block_shape=(20_000,)).get()
    counts = np.bincount(k, minlength=10)
    assert counts.size == 10
    assert np.all(np.abs(counts - n / 10) < 0.05 * n / 10)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("low, high, endpoint", [(5, 5, False), (5, 3, False), (5, 4, True),
                                                 (0, 0, False), (-1, -3, True)], ids=str)
def test_integers_low_not_below_high(backend, low, high, endpoint):
    with pytest.raises(ValueError):
        np.random.default_rng(0).integers(low, high, 5, endpoint=endpoint)
    with pytest.raises(ValueError):
        nps.random.default_rng(0).integers(low, high, 5, endpoint=endpoint)


def test_randint_low_not_below_high(backend):
    with pytest.raises(ValueError):
        nps.random.randint(4, 4, size=3)
    with pytest.raises(ValueError):
        nps.random.randint(0, size=3)
    with pytest.raises(ValueError):
        nps.random.RandomState(0).randint(9, 2, size=3)


def test_integers_bounds_outside_dtype(backend):
    with pytest.raises(ValueError):
        np.random.default_rng(0).integers(0, 300, 5, dtype=np.int8)
    with pytest.raises(ValueError):
        nps.random.default_rng(0).integers(0, 300, 5, dtype=np.int8)
    with pytest.raises(ValueError):
        nps.random.default_rng(0).integers(-1, 5, 5, dtype=np.uint8)


@pytest.mark.parametrize("make", [
    lambda rng: rng.random(5, dtype=np.int32),
    lambda rng: rng.random(5, dtype=np.float16),
    lambda rng: rng.random(5, dtype=np.complex128),
    lambda rng: rng.standard_normal(5, dtype=np.int64),
    lambda rng: rng.standard_normal(5, dtype=np.float16),
    lambda rng: rng.integers(0, 5, 5, dtype=np.float64),
    lambda rng: rng.integers(0, 5, 5, dtype=np.complex64),
    lambda rng: rng.integers(0, 5, 5, dtype=object),
    lambda rng: rng.integers(0, 5, 5, dtype=str),
], ids=lambda v: "")
def test_unsupported_dtype(backend, make):
    with pytest.raises(TypeError):
        make(np.random.default_rng(0))
    with pytest.raises(TypeError):
        make(nps.random.default_rng(0))


def test_legacy_unsupported_dtype(backend):
    with pytest.raises(TypeError):
        nps.random.randint(0, 5, size=3, dtype=np.float32)
    with pytest.raises(TypeError):
        nps.random.RandomState(0).randint(0, 5, size=3, dtype=object)


def test_negative_scale_and_size(backend):
    with pytest.raises(ValueError):
        np.random.default_rng(0).normal(0.0, -1.0, 5)
    with pytest.raises(ValueError):
        nps.random.default_rng(0).normal(0.0, -1.0, 5)
    with pytest.raises(ValueError):
        np.random.default_rng(0).random((3, -1))
    with pytest.raises(ValueError):
        nps.random.default_rng(0).random((3, -1))
    with pytest.raises(ValueError):
        nps.random.rand(2, -2)
