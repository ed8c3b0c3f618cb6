"""Array creation (``nums.numpy.creation``) against NumPy on the same inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nums.numpy as nps
from tests.utils import BLOCKINGS, assert_eq, block_shape_for, check_blocks

DTYPES = [np.bool_, np.int8, np.uint16, np.int64, np.float32, np.float64, np.complex128]
SHAPES = [(11,), (6, 9), (4, 5, 3)]


def _sample(shape: tuple[int, ...], dtype) -> np.ndarray:
    """Distinct-ish values of ``dtype`` (negative ones too where the dtype allows)."""
    rng = np.random.default_rng(1234)
    dt = np.dtype(dtype)
    real = rng.uniform(-50, 50, size=shape)
    if dt.kind == "b":
        return real > 0
    if dt.kind == "u":
        return np.abs(real).astype(dt)
    if dt.kind == "c":
        return (real + 1j * rng.uniform(-50, 50, size=shape)).astype(dt)
    return real.astype(dt)


def _grid_shape(shape: tuple[int, ...], block_shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(math.ceil(n / b) if n else 0 for n, b in zip(shape, block_shape))


def _check_layout(x, shape: tuple[int, ...], block_shape: tuple[int, ...]) -> None:
    """``x`` is cut into ``block_shape`` blocks (empty arrays: only the rank is checked)."""
    if 0 in shape:
        assert len(x.block_shape) == len(x.grid_shape) == len(shape)
        return
    expected_block = tuple(min(b, n) for b, n in zip(block_shape, shape))
    assert x.block_shape == expected_block, (x.block_shape, expected_block)
    assert x.grid_shape == _grid_shape(shape, expected_block), (x.grid_shape, shape)


def _assert_identical(x, expected: np.ndarray) -> None:
    """Bit-identical values, same dtype and shape, consistent blocks."""
    expected = np.asarray(expected)
    assert x.shape == expected.shape, (x.shape, expected.shape)
    assert x.dtype == expected.dtype, (x.dtype, expected.dtype)
    check_blocks(x)
    value = x.get()
    assert value.dtype == expected.dtype
    np.testing.assert_array_equal(value, expected, strict=True)


# --------------------------------------------------------------------------- array / asarray


@pytest.mark.parametrize("func", [nps.array, nps.asarray], ids=["array", "asarray"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_array_from_numpy(backend, func, dtype, shape, blocking):
    a = _sample(shape, dtype)
    bs = block_shape_for(shape, blocking)
    x = func(a, block_shape=bs)
    assert_eq(x, a, rtol=0)
    _check_layout(x, shape, bs)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_array_default_block_shape(backend, blocking):
    a = _sample((40, 7), np.float64)
    x = nps.array(a)
    assert_eq(x, a, rtol=0)
    assert x.grid_shape == _grid_shape(a.shape, x.block_shape)


@pytest.mark.parametrize("obj", [
    [1, 2, 3],
    [[1, 2, 3], [4, 5, 6]],
    [[1.5, 2], [3, -4]],
    [True, False, True],
    [1 + 2j, 3, -1j],
    [[[1], [2]], [[3], [4]], [[5], [6]]],
    [],
], ids=str)
def test_array_from_nested_lists(backend, obj):
    expected = np.array(obj)
    assert_eq(nps.array(obj), expected, rtol=0)
    assert_eq(nps.asarray(obj), expected, rtol=0)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_array_from_nested_list_with_block_shape(backend, blocking):
    obj = [[float(i * 7 + j) for j in range(7)] for i in range(5)]
    bs = block_shape_for((5, 7), blocking)
    x = nps.array(obj, block_shape=bs)
    assert_eq(x, np.array(obj), rtol=0)
    _check_layout(x, (5, 7), bs)


@pytest.mark.parametrize("value", [5, -3, 2.5, True, False, 1 - 2j, np.float32(1.25),
                                   np.int16(-7), np.uint8(200)], ids=repr)
def test_array_from_scalar_is_0d(backend, value):
    expected = np.array(value)
    for func in (nps.array, nps.asarray):
        x = func(value)
        assert x.ndim == 0
        assert x.shape == ()
        assert_eq(x, expected, rtol=0)


@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.complex64, np.bool_, np.uint8])
def test_array_dtype_argument(backend, dtype):
    obj = [[0, 1, 2], [3, 4, 5]]
    assert_eq(nps.array(obj, dtype=dtype), np.array(obj, dtype=dtype), rtol=0)
    assert_eq(nps.asarray(obj, dtype=dtype), np.asarray(obj, dtype=dtype), rtol=0)
    a = np.arange(12.7, step=0.5).reshape(2, 13)
    assert_eq(nps.array(a, dtype=dtype, block_shape=(1, 5)), np.array(a, dtype=dtype), rtol=0)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_array_copies_its_input(backend, blocking):
    a = np.arange(30.0).reshape(5, 6)
    original = a.copy()
    x = nps.array(a, block_shape=block_shape_for(a.shape, blocking))
    a[...] = -1.0
    a[0, 0] = 99.0
    assert_eq(x, original, rtol=0)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_array_get_returns_a_copy(backend, blocking):
    # Writing into the NumPy array that ``get()`` returned must not change the BlockArray.
    a = np.arange(30.0).reshape(5, 6)
    x = nps.array(a, block_shape=block_shape_for(a.shape, blocking))
    x.get()[0, 0] = 1234.0
    assert_eq(x, a, rtol=0)


def test_array_copies_noncontiguous_input(backend):
    base = np.arange(60, dtype=np.int64).reshape(6, 10)
    view = base[::2, 1::3]
    original = view.copy()
    x = nps.array(view, block_shape=(2, 2))
    base[...] = 0
    assert_eq(x, original)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_array_from_blockarray(backend, blocking):
    a = _sample((6, 9), np.float64)
    x = nps.array(a, block_shape=(4, 4))
    bs = block_shape_for(a.shape, blocking)
    y = nps.array(x, block_shape=bs)
    assert_eq(y, a, rtol=0)
    _check_layout(y, a.shape, bs)
    assert_eq(nps.array(x, dtype=np.float32), a.astype(np.float32), rtol=0)
    assert_eq(nps.asarray(x), a, rtol=0)


# --------------------------------------------------------------------------- filled arrays


FILL_SHAPES = [(), (0,), (7,), (3, 0), (5, 8), (3, 4, 5)]


@pytest.mark.parametrize("shape", FILL_SHAPES, ids=str)
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_zeros_ones_empty(backend, shape, blocking):
    bs = block_shape_for(shape, blocking)
    for dtype in (np.float64, np.int8, np.uint16, np.bool_, np.complex128):
        assert_eq(nps.zeros(shape, dtype=dtype, block_shape=bs), np.zeros(shape, dtype=dtype))
        assert_eq(nps.ones(shape, dtype=dtype, block_shape=bs), np.ones(shape, dtype=dtype))
        e = nps.empty(shape, dtype=dtype, block_shape=bs)
        assert e.shape == shape
        assert e.dtype == np.dtype(dtype)
        check_blocks(e)
        assert e.get().shape == shape
    x = nps.zeros(shape, block_shape=bs)
    _check_layout(x, shape, bs)


def test_filled_default_dtype_and_int_shape(backend):
    assert_eq(nps.zeros(5), np.zeros(5))
    assert_eq(nps.ones(5), np.ones(5))
    assert_eq(nps.zeros((2, 3)), np.zeros((2, 3)))
    assert_eq(nps.ones([4, 2]), np.ones([4, 2]))
    assert_eq(nps.zeros(np.int64(3)), np.zeros(np.int64(3)))
    e = nps.empty(6)
    assert e.shape == (6,)
    assert e.dtype == np.empty(6).dtype


@pytest.mark.parametrize("fill, dtype", [
    (7, None), (-2.5, None), (True, None), (1 + 1j, None), (np.float32(0.5), None),
    (2.7, np.int32), (3, np.float32), (0, np.bool_), (300, np.int64), (np.nan, np.float64),
    (-np.inf, np.float32), (5, np.uint16), (2, np.complex128),
], ids=str)
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_full(backend, fill, dtype, blocking):
    shape = (5, 7)
    bs = block_shape_for(shape, blocking)
    x = nps.full(shape, fill, dtype=dtype, block_shape=bs)
    assert_eq(x, np.full(shape, fill, dtype=dtype))
    _check_layout(x, shape, bs)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_full_array_fill_value(backend, blocking):
    shape = (6, 4)
    bs = block_shape_for(shape, blocking)
    fill = [1.5, -2.0, 3.0, 0.25]
    assert_eq(nps.full(shape, fill, block_shape=bs), np.full(shape, fill))
    assert_eq(nps.full(shape, fill), np.full(shape, fill))
    assert_eq(nps.full(shape, [[1], [2], [3], [4], [5], [6]], dtype=np.int8),
              np.full(shape, [[1], [2], [3], [4], [5], [6]], dtype=np.int8))


LIKE_SOURCES = [
    np.arange(12.0).reshape(3, 4),
    np.arange(10, dtype=np.int8),
    np.array([[True, False]]),
    np.zeros((2, 3, 4), dtype=np.complex128),
    np.array(3.5),
]


@pytest.mark.parametrize("src", LIKE_SOURCES, ids=lambda a: f"{a.dtype}{a.shape}")
def test_like_from_numpy(backend, src):
    assert_eq(nps.zeros_like(src), np.zeros_like(src))
    assert_eq(nps.ones_like(src), np.ones_like(src))
    assert_eq(nps.full_like(src, 2), np.full_like(src, 2))
    assert_eq(nps.full_like(src, 7.75), np.full_like(src, 7.75))
    e = nps.empty_like(src)
    assert e.shape == src.shape
    assert e.dtype == src.dtype
    check_blocks(e)
    # dtype and shape overrides
    assert_eq(nps.zeros_like(src, dtype=np.float32), np.zeros_like(src, dtype=np.float32))
    assert_eq(nps.ones_like(src, shape=(2, 5)), np.ones_like(src, shape=(2, 5)))
    assert_eq(nps.full_like(src, 3, dtype=np.uint16, shape=(4,)),
              np.full_like(src, 3, dtype=np.uint16, shape=(4,)))
    e = nps.empty_like(src, dtype=np.int64, shape=(3, 2))
    assert e.shape == (3, 2)
    assert e.dtype == np.int64


def test_like_from_nested_list(backend):
    obj = [[1, 2, 3], [4, 5, 6]]
    assert_eq(nps.zeros_like(obj), np.zeros_like(obj))
    assert_eq(nps.ones_like(obj), np.ones_like(obj))
    assert_eq(nps.full_like(obj, 9), np.full_like(obj, 9))


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("dtype", [np.float64, np.int8, np.bool_, np.complex128],
                         ids=lambda d: np.dtype(d).name)
def test_like_from_blockarray(backend, blocking, dtype):
    src = _sample((7, 5), dtype)
    bs = block_shape_for(src.shape, blocking)
    x = nps.array(src, block_shape=bs)
    for got, want in [(nps.zeros_like(x), np.zeros_like(src)),
                      (nps.ones_like(x), np.ones_like(src)),
                      (nps.full_like(x, 1), np.full_like(src, 1)),
                      (nps.empty_like(x), None)]:
        assert got.shape == src.shape
        assert got.dtype == src.dtype
        assert got.block_shape == x.block_shape
        assert got.grid_shape == x.grid_shape
        if want is not None:
            assert_eq(got, want)
        else:
            check_blocks(got)
    assert_eq(nps.zeros_like(x, dtype=np.float32), np.zeros_like(src, dtype=np.float32))
    assert_eq(nps.full_like(x, 4, shape=(3, 3)), np.full_like(src, 4, shape=(3, 3)))
    y = nps.ones_like(x, block_shape=(2, 2))
    assert_eq(y, np.ones_like(src))
    _check_layout(y, src.shape, (2, 2))


# --------------------------------------------------------------------------- arange


ARANGE_CASES = [
    ((10,), {}),
    ((0,), {}),
    ((3, 17), {}),
    ((3, 17, 4), {}),
    ((17, 3, -2), {}),
    ((10, -10, -3), {}),
    ((5, 5), {}),
    ((10, 0), {}),
    ((0, 1, 0.1), {}),
    ((1, 2, 0.1), {}),
    ((1.5, 7.3, 0.7), {}),
    ((-2.0, 2.0, 0.25), {}),
    ((0.1, 0.95, 0.05), {}),
    ((2.5,), {}),
    ((10.0, -3.3, -0.37), {}),
    ((0, 5, 0.5), {}),
    ((-1e-3, 1e-3, 1e-5), {}),
    ((1, 1.3, 0.1), {}),
    ((1.0, 0.0, -0.1), {}),
    ((0, 2.5), {}),
    ((-3, 4.5, 1), {}),
    ((0.5, 5, 1.5), {"dtype": int}),
    ((7, -2.2, -1.3), {"dtype": np.int32}),
    ((0, 10), {"dtype": np.float32}),
    ((0.0, 3.0, 0.1), {"dtype": np.float32}),
    ((20,), {"dtype": np.int8}),
    ((40, 0, -3), {"dtype": np.int16}),
    ((1, 30, 2), {"dtype": np.uint16}),
    ((0, 4, 0.5), {"dtype": np.complex128}),
    ((np.int32(2), np.int32(40), np.int32(3)), {}),
    ((np.float32(0.5), np.float32(9.0), np.float32(0.3)), {}),
]


@pytest.mark.parametrize("args, kwargs", ARANGE_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_arange(backend, args, kwargs, blocking):
    expected = np.arange(*args, **kwargs)
    bs = block_shape_for(expected.shape, blocking)
    x = nps.arange(*args, **kwargs, block_shape=bs)
    _assert_identical(x, expected)
    _check_layout(x, expected.shape, bs)


def test_arange_default_blocks_many_elements(backend):
    for args in [(0.0, 100.0, 0.07), (-5, 3000, 7), (1000.0, -1000.0, -0.9)]:
        expected = np.arange(*args)
        _assert_identical(nps.arange(*args), expected)
        _assert_identical(nps.arange(*args, block_shape=(37,)), expected)


@pytest.mark.parametrize("args", [(0, 10, 0), (5, 1, 0), (0.0, 1.0, 0.0), (3, 1, 0)], ids=str)
def test_arange_zero_step(backend, args):
    with pytest.raises(ZeroDivisionError):
        np.arange(*args)
    with pytest.raises(ZeroDivisionError):
        nps.arange(*args)


# --------------------------------------------------------------------------- linspace / logspace


LINSPACE_CASES = [
    ((0, 1), {"num": 5}),
    ((0, 1), {"num": 5, "endpoint": False}),
    ((2, 3), {"num": 0}),
    ((2, 3), {"num": 0, "endpoint": False}),
    ((2, 3), {"num": 1}),
    ((2, 3), {"num": 1, "endpoint": False}),
    ((2, 3), {"num": 2}),
    ((-5, 5), {"num": 101}),
    ((10.0, -3.5), {"num": 37}),
    ((0, 1), {}),
    ((1e-3, 1e3), {"num": 23, "endpoint": False}),
    ((0, 10), {"num": 7, "dtype": int}),
    ((10, -3), {"num": 9, "dtype": np.int32}),
    ((0, 10), {"num": 6, "endpoint": False, "dtype": np.int64}),
    ((0, 1), {"num": 11, "dtype": np.float32}),
    ((3, 3), {"num": 4}),
    ((0, 1j), {"num": 5}),
    ((np.float32(0), np.float32(2)), {"num": 9}),
]


@pytest.mark.parametrize("args, kwargs", LINSPACE_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_linspace(backend, args, kwargs, blocking):
    expected = np.linspace(*args, **kwargs)
    bs = block_shape_for(expected.shape, blocking)
    x = nps.linspace(*args, **kwargs, block_shape=bs)
    _assert_identical(x, expected)
    _check_layout(x, expected.shape, bs)


@pytest.mark.parametrize("args, kwargs", LINSPACE_CASES, ids=lambda v: str(v))
def test_linspace_retstep(backend, args, kwargs):
    expected, expected_step = np.linspace(*args, **kwargs, retstep=True)
    x, step = nps.linspace(*args, **kwargs, retstep=True)
    _assert_identical(x, expected)
    if np.isnan(expected_step):
        assert np.isnan(step)
    else:
        assert step == expected_step
        assert np.asarray(step).dtype == np.asarray(expected_step).dtype


def test_linspace_negative_num(backend):
    with pytest.raises(ValueError):
        np.linspace(0, 1, -1)
    with pytest.raises(ValueError):
        nps.linspace(0, 1, -1)


LOGSPACE_CASES = [
    ((0, 3), {"num": 4}),
    ((0, 2), {"num": 5, "base": 2}),
    ((1, -1), {"num": 7, "endpoint": False}),
    ((0, 3), {"num": 4, "dtype": int}),
    ((-2, 2), {"num": 9, "dtype": np.float32}),
    ((0, 1), {}),
    ((0, 1), {"num": 1}),
    ((0, 1), {"num": 0}),
    ((0.5, 2.5), {"num": 13, "base": np.e}),
]


@pytest.mark.parametrize("args, kwargs", LOGSPACE_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_logspace(backend, args, kwargs, blocking):
    expected = np.logspace(*args, **kwargs)
    bs = block_shape_for(expected.shape, blocking)
    x = nps.logspace(*args, **kwargs, block_shape=bs)
    assert_eq(x, expected, rtol=1e-14)
    _check_layout(x, expected.shape, bs)


# --------------------------------------------------------------------------- eye / identity


EYE_CASES = [
    ((4,), {}),
    ((1,), {}),
    ((0,), {}),
    ((4, 6), {}),
    ((6, 4), {}),
    ((5, 5), {"k": 2}),
    ((5, 7), {"k": 3}),
    ((7, 5), {"k": -3}),
    ((5, 7), {"k": -1}),
    ((5,), {"k": 10}),
    ((3, 3), {"k": -5}),
    ((5,), {"dtype": np.int32}),
    ((5, 3), {"k": 1, "dtype": np.bool_}),
    ((4,), {"k": -1, "dtype": np.complex128}),
    ((6,), {"M": 9, "k": 2, "dtype": np.uint16}),
    ((6, None, 1), {}),
]


@pytest.mark.parametrize("args, kwargs", EYE_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_eye(backend, args, kwargs, blocking):
    expected = np.eye(*args, **kwargs)
    bs = block_shape_for(expected.shape, blocking)
    x = nps.eye(*args, **kwargs, block_shape=bs)
    assert_eq(x, expected, rtol=0)
    _check_layout(x, expected.shape, bs)


def test_eye_default_blocks(backend):
    assert_eq(nps.eye(40, 30, k=-4), np.eye(40, 30, k=-4))
    assert_eq(nps.eye(3, 50, 20, dtype=np.int8), np.eye(3, 50, 20, dtype=np.int8))


@pytest.mark.parametrize("n", [0, 1, 7])
@pytest.mark.parametrize("dtype", [float, np.int64, np.bool_])
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_identity(backend, n, dtype, blocking):
    expected = np.identity(n, dtype=dtype)
    bs = block_shape_for(expected.shape, blocking)
    x = nps.identity(n, dtype=dtype, block_shape=bs)
    assert_eq(x, expected, rtol=0)
    _check_layout(x, expected.shape, bs)


def test_identity_default_dtype(backend):
    assert_eq(nps.identity(5), np.identity(5))


# --------------------------------------------------------------------------- diag


@pytest.mark.parametrize("k", [0, 2, -1])
@pytest.mark.parametrize("dtype", [np.float64, np.int8, np.bool_, np.complex128],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_diag_from_1d(backend, k, dtype, blocking):
    v = _sample((5,), dtype)
    expected = np.diag(v, k)
    bs = block_shape_for(expected.shape, blocking)
    x = nps.diag(v, k, block_shape=bs)
    assert_eq(x, expected, rtol=0)
    _check_layout(x, expected.shape, bs)
    # from a BlockArray vector with its own blocks
    vb = nps.array(v, block_shape=block_shape_for(v.shape, blocking))
    assert_eq(nps.diag(vb, k), expected, rtol=0)
    assert_eq(nps.diag(vb, k=k, block_shape=bs), expected, rtol=0)


def test_diag_from_list_and_default_k(backend):
    assert_eq(nps.diag([1, 2, 3]), np.diag([1, 2, 3]))
    assert_eq(nps.diag([[1, 2], [3, 4]]), np.diag([[1, 2], [3, 4]]))
    assert_eq(nps.diag(np.arange(1.0, 8.0)), np.diag(np.arange(1.0, 8.0)))


@pytest.mark.parametrize("k", [0, 1, -2])
@pytest.mark.parametrize("shape", [(6, 6), (5, 8), (8, 5), (1, 7)], ids=str)
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_diag_from_2d(backend, k, shape, blocking):
    a = _sample(shape, np.float64)
    expected = np.diag(a, k)
    x = nps.array(a, block_shape=block_shape_for(shape, blocking))
    assert_eq(nps.diag(x, k), expected, rtol=0)
    assert_eq(nps.diag(a, k), expected, rtol=0)
    out_bs = block_shape_for(expected.shape, "ragged")
    y = nps.diag(x, k, block_shape=out_bs)
    assert_eq(y, expected, rtol=0)
    _check_layout(y, expected.shape, out_bs)


@pytest.mark.parametrize("k", [5, -9, 4])
def test_diag_from_2d_out_of_range(backend, k):
    a = np.arange(12).reshape(3, 4)
    assert_eq(nps.diag(nps.array(a, block_shape=(2, 3)), k), np.diag(a, k))


def test_diag_rejects_3d(backend):
    a = np.zeros((2, 2, 2))
    with pytest.raises(ValueError):
        np.diag(a)
    with pytest.raises(ValueError):
        nps.diag(a)


# --------------------------------------------------------------------------- block metadata


@pytest.mark.parametrize("shape, block_shape, grid_shape", [
    ((10,), (10,), (1,)),
    ((10,), (5,), (2,)),
    ((10,), (4,), (3,)),
    ((10,), (3,), (4,)),
    ((10,), (1,), (10,)),
    ((10,), (25,), (1,)),
    ((6, 9), (2, 4), (3, 3)),
    ((6, 9), (6, 9), (1, 1)),
    ((7, 1, 5), (3, 1, 2), (3, 1, 3)),
])
def test_block_shape_metadata(backend, shape, block_shape, grid_shape):
    expected_block = tuple(min(b, n) for b, n in zip(block_shape, shape))
    makers = [
        lambda: nps.zeros(shape, block_shape=block_shape),
        lambda: nps.ones(shape, dtype=np.int8, block_shape=block_shape),
        lambda: nps.full(shape, 3.0, block_shape=block_shape),
        lambda: nps.array(np.ones(shape), block_shape=block_shape),
        lambda: nps.asarray(np.ones(shape), block_shape=block_shape),
    ]
    for make in makers:
        x = make()
        assert x.shape == shape
        assert x.block_shape == expected_block
        assert x.grid_shape == grid_shape
        check_blocks(x)
    if len(shape) == 1:
        x = nps.arange(shape[0], block_shape=block_shape)
        assert (x.block_shape, x.grid_shape) == (expected_block, grid_shape)
        x = nps.linspace(0, 1, shape[0], block_shape=block_shape)
        assert (x.block_shape, x.grid_shape) == (expected_block, grid_shape)
    if len(shape) == 2:
        x = nps.eye(*shape, block_shape=block_shape)
        assert (x.block_shape, x.grid_shape) == (expected_block, grid_shape)


def test_block_shape_wrong_rank_rejected(backend):
    with pytest.raises(ValueError):
        nps.zeros((4, 4), block_shape=(2,))
    with pytest.raises(ValueError):
        nps.array(np.ones((4, 4)), block_shape=(2, 2, 2))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, dtype_text", [
    (lambda: nps.array(np.array(["a"])), "<U1"),
    (lambda: nps.array(["ab", "cd"]), "<U2"),
    (lambda: nps.asarray(np.array(["a"])), "<U1"),
    (lambda: nps.array(np.array([1, None], dtype=object)), "object"),
    (lambda: nps.array([1, 2], dtype=object), "object"),
    (lambda: nps.array(np.array([b"xy"])), "S2"),
    (lambda: nps.array(np.array(["2020-01-01"], dtype="datetime64[D]")), "datetime64"),
    (lambda: nps.zeros(3, dtype=object), "object"),
    (lambda: nps.ones((2, 2), dtype=str), "<U"),
    (lambda: nps.empty(3, dtype="S2"), "S2"),
    (lambda: nps.full(3, "x"), "<U1"),
    (lambda: nps.full(3, 1, dtype=object), "object"),
    (lambda: nps.zeros_like(np.array(["a", "b"])), "<U1"),
    (lambda: nps.ones_like(np.zeros(3), dtype=object), "object"),
    (lambda: nps.arange(3, dtype=object), "object"),
    (lambda: nps.linspace(0, 1, 3, dtype=object), "object"),
    (lambda: nps.eye(3, dtype=object), "object"),
    (lambda: nps.identity(2, dtype="U3"), "<U3"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_unsupported_dtype_raises_type_error(backend, make, dtype_text):
    with pytest.raises(TypeError) as excinfo:
        make()
    assert dtype_text in str(excinfo.value), str(excinfo.value)


@pytest.mark.parametrize("make, np_make", [
    (lambda: nps.zeros(-1), lambda: np.zeros(-1)),
    (lambda: nps.zeros((2, -3)), lambda: np.zeros((2, -3))),
    (lambda: nps.ones((-2,)), lambda: np.ones((-2,))),
    (lambda: nps.empty((3, -1)), lambda: np.empty((3, -1))),
    (lambda: nps.full((-4, 2), 1.0), lambda: np.full((-4, 2), 1.0)),
    (lambda: nps.zeros_like(np.ones(3), shape=(-1,)), lambda: np.zeros_like(np.ones(3),
                                                                            shape=(-1,))),
    (lambda: nps.eye(-1), lambda: np.eye(-1)),
    (lambda: nps.eye(3, -2), lambda: np.eye(3, -2)),
    (lambda: nps.identity(-3), lambda: np.identity(-3)),
], ids=lambda v: "")
def test_negative_dimensions_raise_value_error(backend, make, np_make):
    with pytest.raises(ValueError):
        np_make()
    with pytest.raises(ValueError):
        make()
