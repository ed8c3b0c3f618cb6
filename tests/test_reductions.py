"""Reductions against NumPy: axes, keepdims, dtypes, NaNs, ties, errors and the fan-in tree.

Every reduction is checked on one-block, even and ragged blockings and on both local executors
(the ``backend`` fixture); results must match NumPy's shape, dtype and values exactly (floats
to a tolerance), and the result's blocks must match its grid (``assert_eq``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.exceptions import AxisError

import nums
import nums.numpy as nps
from tests.conftest import start
from tests.utils import BLOCKINGS, assert_eq, block_shape_for

# Reductions taking axis=None / int / tuple (name in nums.numpy == name in numpy).
AXIS_REDUCTIONS = ["sum", "prod", "mean", "std", "var", "min", "max", "all", "any",
                   "nansum", "nanprod", "nanmean", "nanmin", "nanmax", "nanstd", "nanvar",
                   "amin", "amax", "ptp", "count_nonzero"]
ARG_REDUCTIONS = ["argmin", "argmax"]
ALL_REDUCTIONS = AXIS_REDUCTIONS + ARG_REDUCTIONS
METHODS = ["sum", "prod", "mean", "std", "var", "min", "max", "all", "any"]
LOGICAL = {"all", "any", "count_nonzero"}
NO_IDENTITY = ["min", "max", "amin", "amax", "nanmin", "nanmax", "ptp", "argmin", "argmax"]

# Test shapes (1-D, 2-D, 3-D with a size-1 axis) and the axes to reduce over for each.
SHAPES_AND_AXES = [
    ((7,), [None, 0, -1, (0,), (-1,)]),
    ((6, 5), [None, 0, 1, -1, -2, (0, 1), (1, 0), (-1,)]),
    ((4, 1, 5), [None, 0, 1, 2, -1, -3, (0, 2), (1, 2), (0, 1, 2), (-1, 0)]),
]
ARG_SHAPES_AND_AXES = [
    ((7,), [None, 0, -1]),
    ((6, 5), [None, 0, 1, -1, -2]),
    ((4, 1, 5), [None, 0, 1, 2, -1, -3]),
]

DTYPES = ["float64", "float32", "int32", "int64", "uint8", "bool", "complex128"]


def _np(name: str, a: np.ndarray, **kwargs):
    """NumPy's answer, with the warnings of NaN/empty reductions silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(getattr(np, name)(a, **kwargs))


def _nps(name: str, x, **kwargs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return getattr(nps, name)(x, **kwargs)


def _is_0d(ndim: int, axis, keepdims: bool) -> bool:
    """Whether the reduction of an ``ndim``-array over ``axis`` gives a 0-d result."""
    if keepdims:
        return False
    if axis is None:
        return True
    axes = axis if isinstance(axis, tuple) else (axis,)
    return len(axes) == ndim


def _block(a: np.ndarray, blocking: str):
    return nps.array(a, block_shape=block_shape_for(a.shape, blocking))


def _tol(dtype) -> dict:
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.complex64):
        return dict(rtol=1e-5, atol=1e-5)
    return dict(rtol=1e-9, atol=1e-12)


def _data(shape, name: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if name in LOGICAL:
        return rng.integers(0, 3, shape).astype(np.float64)  # zeros in some places
    if name in ("prod", "nanprod"):
        return rng.uniform(0.5, 1.5, shape)
    return rng.standard_normal(shape)


def _typed_data(shape, dtype: str, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype in ("float64", "float32"):
        return rng.uniform(-2, 2, shape).astype(dtype)
    if dtype in ("int32", "int64"):
        return rng.integers(-5, 6, shape).astype(dtype)
    if dtype == "uint8":
        return rng.integers(0, 10, shape).astype(dtype)
    if dtype == "bool":
        return rng.random(shape) > 0.4
    return (rng.uniform(-2, 2, shape) + 1j * rng.uniform(-2, 2, shape)).astype(dtype)


# -- axes and keepdims, every reduction, every blocking ---------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("name", AXIS_REDUCTIONS)
def test_axes_and_keepdims(backend, name, blocking):
    for shape, axes in SHAPES_AND_AXES:
        a = _data(shape, name)
        x = _block(a, blocking)
        for axis in axes:
            for keepdims in (False, True):
                if _is_0d(len(shape), axis, keepdims):
                    continue  # test_full_reductions_0d
                expected = _np(name, a, axis=axis, keepdims=keepdims)
                actual = _nps(name, x, axis=axis, keepdims=keepdims)
                assert_eq(actual, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("name", ALL_REDUCTIONS)
def test_full_reductions_0d(backend, name, blocking):
    """Reductions over every axis without keepdims: a 0-d BlockArray (one 0-d block)."""
    table = ARG_SHAPES_AND_AXES if name in ARG_REDUCTIONS else SHAPES_AND_AXES
    for shape, axes in table:
        a = _data(shape, name)
        x = _block(a, blocking)
        for axis in axes:
            if not _is_0d(len(shape), axis, False):
                continue
            expected = _np(name, a, axis=axis)
            assert expected.shape == ()
            actual = _nps(name, x, axis=axis)
            assert actual.shape == ()
            assert_eq(actual, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("name", ARG_REDUCTIONS)
def test_arg_axes_and_keepdims(backend, name, blocking):
    for shape, axes in ARG_SHAPES_AND_AXES:
        a = _data(shape, name, seed=3)
        x = _block(a, blocking)
        for axis in axes:
            for keepdims in (False, True):
                if _is_0d(len(shape), axis, keepdims):
                    continue  # test_full_reductions_0d
                expected = _np(name, a, axis=axis, keepdims=keepdims)
                assert_eq(_nps(name, x, axis=axis, keepdims=keepdims), expected)
                method = getattr(x, name)(axis=axis, keepdims=keepdims)
                assert_eq(method, expected)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("name", METHODS)
def test_methods(backend, name, blocking):
    a = _data((4, 1, 6), name, seed=5)
    x = _block(a, blocking)
    for axis in (None, 0, -1, (0, 2), (1, -1)):
        for keepdims in (False, True):
            if _is_0d(a.ndim, axis, keepdims):
                continue  # test_methods_0d
            expected = _np(name, a, axis=axis, keepdims=keepdims)
            actual = getattr(x, name)(axis=axis, keepdims=keepdims)
            assert_eq(actual, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", METHODS + ARG_REDUCTIONS)
def test_methods_0d(backend, name):
    a = _data((4, 1, 6), name, seed=5)
    for blocking in BLOCKINGS:
        x = _block(a, blocking)
        assert_eq(getattr(x, name)(), _np(name, a), rtol=1e-9, atol=1e-12)
        if name not in ARG_REDUCTIONS:
            assert_eq(getattr(x, name)(axis=(0, 1, 2)), _np(name, a, axis=(0, 1, 2)),
                      rtol=1e-9, atol=1e-12)


def test_amin_amax_ptp_count_nonzero_exist(backend):
    a = np.array([[3.0, 0.0, -1.0], [2.0, 5.0, 0.0]])
    x = _block(a, "ragged")
    assert_eq(nps.amin(x, axis=1), np.amin(a, axis=1))
    assert_eq(nps.amax(x, axis=0), np.amax(a, axis=0))
    assert_eq(nps.ptp(x, axis=1), np.ptp(a, axis=1))
    assert_eq(nps.ptp(x, axis=(0, 1), keepdims=True), np.ptp(a, axis=(0, 1), keepdims=True))
    assert_eq(nps.count_nonzero(x, axis=0), np.count_nonzero(a, axis=0))
    assert_eq(nps.count_nonzero(x, axis=1, keepdims=True),
              np.count_nonzero(a, axis=1, keepdims=True))


def test_array_like_input(backend):
    a = [[1, 2, 3], [4, 5, 6]]
    assert_eq(nps.sum(a, axis=0), np.sum(a, axis=0))
    assert_eq(nps.mean(a, axis=1, keepdims=True), np.mean(a, axis=1, keepdims=True))
    assert_eq(nps.argmax(a, axis=1), np.argmax(a, axis=1))


# -- input dtypes -----------------------------------------------------------------------------

def _supported(name: str, dtype: str) -> bool:
    return not (name == "ptp" and dtype == "bool")  # NumPy: boolean subtract is a TypeError


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL_REDUCTIONS)
def test_input_dtypes(backend, name, dtype):
    if not _supported(name, dtype):
        with pytest.raises(TypeError):
            np.ptp(np.ones(3, dtype=dtype))
        return
    a = _typed_data((5, 4), dtype)
    cases = [(0, False), (1, False), (-1, True), (None, True)]
    if name not in ARG_REDUCTIONS:
        cases.append(((0, 1), True))
    for blocking in ("one", "ragged"):
        x = _block(a, blocking)
        assert x.dtype == a.dtype
        for axis, keepdims in cases:
            expected = _np(name, a, axis=axis, keepdims=keepdims)
            assert_eq(_nps(name, x, axis=axis, keepdims=keepdims), expected, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_input_dtypes_0d(backend, dtype):
    a = _typed_data((5, 4), dtype)
    x = _block(a, "ragged")
    for name in ALL_REDUCTIONS:
        if _supported(name, dtype):
            assert_eq(_nps(name, x), _np(name, a), **_tol(dtype))


# -- the dtype argument -----------------------------------------------------------------------

DTYPE_CASES = [
    ("sum", "int8", "int64"),
    ("sum", "int8", None),
    ("sum", "uint8", None),
    ("sum", "bool", None),
    ("sum", "bool", "int32"),
    ("sum", "int32", "float64"),
    ("sum", "float64", "float32"),
    ("prod", "int8", "int64"),
    ("prod", "int32", None),
    ("mean", "int32", "float32"),
    ("mean", "int64", None),
    ("mean", "float32", "float64"),
    ("mean", "bool", None),
    ("var", "int32", "float32"),
    ("std", "int64", "float32"),
    ("var", "float32", "float64"),
    ("nansum", "int8", "int64"),
    ("nansum", "float64", "float32"),
    ("nanmean", "int32", "float32"),
    ("nanprod", "int8", "int64"),
]


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("name,in_dtype,dtype", DTYPE_CASES)
def test_dtype_argument(backend, name, in_dtype, dtype, blocking):
    rng = np.random.default_rng(7)
    if in_dtype == "bool":
        a = rng.random((6, 5)) > 0.5
    elif name in ("prod", "nanprod"):
        a = rng.integers(1, 4, (6, 5)).astype(in_dtype)
    elif in_dtype in ("int8", "uint8"):
        a = rng.integers(60, 127, (6, 5)).astype(in_dtype)  # int8/uint8 sums overflow
    else:
        a = rng.uniform(-50, 50, (6, 5)).astype(in_dtype)
    x = _block(a, blocking)
    tol = _tol("float32" if np.dtype(dtype or in_dtype) == np.float32 else "float64")
    for axis in (None, 0, 1):
        for keepdims in (False, True):
            if _is_0d(a.ndim, axis, keepdims):
                continue  # test_dtype_argument_0d
            expected = _np(name, a, axis=axis, dtype=dtype, keepdims=keepdims)
            actual = _nps(name, x, axis=axis, dtype=dtype, keepdims=keepdims)
            assert_eq(actual, expected, **tol)
            if name in METHODS:
                method = getattr(x, name)(axis=axis, dtype=dtype, keepdims=keepdims)
                assert_eq(method, expected, **tol)


@pytest.mark.parametrize("name,in_dtype,dtype", DTYPE_CASES)
def test_dtype_argument_0d(backend, name, in_dtype, dtype):
    rng = np.random.default_rng(8)
    a = rng.integers(1, 3, (6, 5)).astype(in_dtype)
    x = _block(a, "ragged")
    expected = _np(name, a, dtype=dtype)
    tol = _tol("float32" if np.dtype(dtype or in_dtype) == np.float32 else "float64")
    assert_eq(_nps(name, x, dtype=dtype), expected, **tol)


def test_int8_sum_with_int64_accumulates_wide(backend):
    a = np.full((40, 2), 100, dtype=np.int8)
    x = _block(a, "ragged")
    assert_eq(nps.sum(x, axis=0, dtype=np.int64), np.sum(a, axis=0, dtype=np.int64))
    assert nps.sum(x, axis=0, dtype=np.int64).get().tolist() == [4000, 4000]
    assert_eq(nps.sum(x, axis=0), np.sum(a, axis=0))  # int8 sums to int64 in NumPy, too


# -- ddof -------------------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("name", ["std", "var", "nanstd", "nanvar"])
def test_ddof(backend, name, blocking):
    a = np.random.default_rng(11).standard_normal((6, 1, 5))
    x = _block(a, blocking)
    for ddof in (0, 1, 2):
        for axis in (None, 0, 2, -1, (0, 2), (0, 1, 2)):
            for keepdims in (False, True):
                if _is_0d(a.ndim, axis, keepdims):
                    continue  # test_ddof_0d
                expected = _np(name, a, axis=axis, ddof=ddof, keepdims=keepdims)
                actual = _nps(name, x, axis=axis, ddof=ddof, keepdims=keepdims)
                assert_eq(actual, expected, rtol=1e-9, atol=1e-12)
                if name in METHODS:
                    method = getattr(x, name)(axis=axis, ddof=ddof, keepdims=keepdims)
                    assert_eq(method, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["std", "var", "nanstd", "nanvar"])
def test_ddof_0d(backend, name):
    a = np.random.default_rng(11).standard_normal((6, 1, 5))
    x = _block(a, "ragged")
    for ddof in (0, 1, 2):
        assert_eq(_nps(name, x, ddof=ddof), _np(name, a, ddof=ddof), rtol=1e-9)


@pytest.mark.parametrize("name", ["std", "var", "nanstd", "nanvar"])
def test_ddof_at_least_count(backend, name):
    # Rows of 1 and 2 values with ddof=2: NumPy's var divides by max(n - ddof, 0) (inf or
    # nan); its nanvar returns nan wherever n - ddof <= 0.
    a = np.array([[1.0, 3.0, np.nan], [2.0, np.nan, np.nan], [1.0, 2.0, 4.0]])
    if not name.startswith("nan"):
        a = np.array([[1.0, 3.0], [2.0, 2.0], [5.0, 0.0]])
    x = _block(a, "ragged")
    for axis in (1, -1):
        expected = _np(name, a, axis=axis, ddof=2)
        assert_eq(_nps(name, x, axis=axis, ddof=2), expected)
    expected = _np(name, a, axis=1, ddof=5, keepdims=True)
    assert_eq(_nps(name, x, axis=1, ddof=5, keepdims=True), expected)
    expected = _np(name, a, axis=(0, 1), ddof=9, keepdims=True)
    assert_eq(_nps(name, x, axis=(0, 1), ddof=9, keepdims=True), expected)


# -- NaN handling -----------------------------------------------------------------------------

def _with_nans(seed: int = 13) -> np.ndarray:
    a = np.random.default_rng(seed).standard_normal((5, 7))
    a[0, 1] = a[0, 5] = np.nan
    a[2, :] = np.nan  # an all-NaN row
    a[3, 6] = np.nan
    a[4, 0] = a[4, 3] = a[4, 4] = np.nan
    return a


NAN_FUNCS = ["nansum", "nanprod", "nanmean", "nanmin", "nanmax", "nanstd", "nanvar"]


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("name", NAN_FUNCS)
def test_nan_functions(backend, name, blocking):
    a = _with_nans()
    x = _block(a, blocking)
    for axis in (None, 0, 1, -1, (0, 1)):
        for keepdims in (False, True):
            if _is_0d(a.ndim, axis, keepdims):
                continue  # test_nan_0d
            expected = _np(name, a, axis=axis, keepdims=keepdims)
            actual = _nps(name, x, axis=axis, keepdims=keepdims)
            assert_eq(actual, expected, rtol=1e-9, atol=1e-12)
    if name in ("nanmean", "nanmin", "nanmax", "nanstd", "nanvar"):
        row = _nps(name, x, axis=1).get()
        assert np.isnan(row[2]) and not np.isnan(row[[0, 1, 3, 4]]).any()
    if name == "nansum":
        assert _nps(name, x, axis=1).get()[2] == 0.0


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_nan_functions_3d(backend, blocking):
    a = np.random.default_rng(17).standard_normal((3, 4, 5))
    a[1] = np.nan
    a[0, 2, 3] = a[2, 0, 0] = np.nan
    x = _block(a, blocking)
    for name in NAN_FUNCS:
        for axis, keepdims in ((None, True), (0, False), ((1, 2), False), (-1, True)):
            expected = _np(name, a, axis=axis, keepdims=keepdims)
            actual = _nps(name, x, axis=axis, keepdims=keepdims)
            assert_eq(actual, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("name", ["min", "max", "sum", "mean", "var", "argmin", "argmax"])
def test_nan_propagates(backend, name, blocking):
    a = _with_nans()
    a[2, :] = np.arange(7.0)  # one row without NaN
    x = _block(a, blocking)
    axes = (None, 0, 1, -1) if name in ARG_REDUCTIONS else (None, 0, 1, (0, 1))
    for axis in axes:
        expected = _np(name, a, axis=axis, keepdims=True)
        assert_eq(_nps(name, x, axis=axis, keepdims=True), expected)
        if not _is_0d(a.ndim, axis, False):
            expected = _np(name, a, axis=axis)
            assert_eq(getattr(x, name)(axis=axis), expected)


@pytest.mark.parametrize("name", NAN_FUNCS + ["min", "max", "sum", "mean", "var", "argmin",
                                              "argmax"])
def test_nan_0d(backend, name):
    a = _with_nans()
    b = a[[0, 1, 3, 4]]  # NaNs, but no all-NaN row
    for data in (a, b):
        for blocking in BLOCKINGS:
            x = _block(data, blocking)
            assert_eq(_nps(name, x), _np(name, data), rtol=1e-9, atol=1e-12)


def test_arg_first_nan(backend):
    a = np.array([1.0, 5.0, 2.0, 9.0, np.nan, 0.0, np.nan, 7.0, np.nan])
    for block in (2, 3, 4, 9):
        x = nps.array(a, block_shape=(block,))
        assert int(nps.argmax(x)) == 4
        assert int(nps.argmin(x)) == 4
        assert_eq(nps.argmax(x, keepdims=True), np.argmax(a, keepdims=True))
        assert_eq(nps.argmin(x, axis=0, keepdims=True), np.argmin(a, axis=0, keepdims=True))
    b = np.array([[1.0, np.nan, 3.0, np.nan], [np.nan, 2.0, 0.0, 8.0],
                  [4.0, 5.0, 6.0, 7.0], [0.0, 0.0, np.nan, np.nan]])
    for blocking in BLOCKINGS:
        x = _block(b, blocking)
        for axis in (0, 1):
            assert_eq(nps.argmin(x, axis=axis), np.argmin(b, axis=axis))
            assert_eq(nps.argmax(x, axis=axis), np.argmax(b, axis=axis))
        assert int(nps.argmin(x)) == int(np.argmin(b)) == 1
        assert_eq(nps.argmax(x, keepdims=True), np.argmax(b, keepdims=True))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_arg_ties_first_occurrence(backend, blocking):
    a = np.random.default_rng(19).integers(0, 3, (7, 9)).astype(np.int64)
    x = _block(a, blocking)
    for axis in (0, 1, -1):
        assert_eq(nps.argmin(x, axis=axis), np.argmin(a, axis=axis))
        assert_eq(nps.argmax(x, axis=axis), np.argmax(a, axis=axis))
    assert int(nps.argmin(x)) == int(np.argmin(a))
    assert int(nps.argmax(x)) == int(np.argmax(a))
    f = a.astype(np.float32)
    y = _block(f, blocking)
    for axis in (None, 0, 1):
        assert_eq(y.argmin(axis=axis, keepdims=True), np.argmin(f, axis=axis, keepdims=True))
        assert_eq(y.argmax(axis=axis, keepdims=True), np.argmax(f, axis=axis, keepdims=True))


def test_arg_ties_across_blocks(backend):
    a = np.array([0, 5, 1, 5, 2, 5, 5, -1, 3, -1])
    for block in (1, 2, 3, 4, 7):
        x = nps.array(a, block_shape=(block,))
        assert int(x.argmax()) == 1
        assert int(x.argmin()) == 7
    b = np.zeros((4, 6))
    x = _block(b, "ragged")
    assert_eq(nps.argmax(x, axis=0), np.zeros(6, dtype=np.intp))
    assert_eq(nps.argmin(x, axis=1), np.zeros(4, dtype=np.intp))
    assert int(nps.argmax(x)) == 0


# -- numerical quality ------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_var_large_offset(backend, blocking):
    rng = np.random.default_rng(23)
    a = 1e8 + rng.standard_normal((40, 6)) * 0.1
    x = _block(a, blocking)
    for name in ("var", "std", "nanvar", "nanstd"):
        for axis in (None, 0, 1):
            for ddof in (0, 1):
                expected = _np(name, a, axis=axis, ddof=ddof, keepdims=True)
                actual = _nps(name, x, axis=axis, ddof=ddof, keepdims=True)
                assert_eq(actual, expected, rtol=1e-6)
    assert_eq(x.mean(axis=0), a.mean(axis=0), rtol=1e-12)


def test_var_large_offset_many_blocks(backend):
    rng = np.random.default_rng(29)
    a = 1e8 + rng.standard_normal(300)
    x = nps.array(a, block_shape=(7,))
    assert_eq(x.var(keepdims=True), a.var(keepdims=True), rtol=1e-6)
    assert_eq(x.std(ddof=1, keepdims=True), a.std(ddof=1, keepdims=True), rtol=1e-6)
    assert float(x.var()) == pytest.approx(a.var(), rel=1e-6)
    assert_eq(x.var(), a.var(), rtol=1e-6)


# -- chains, transposes, 0-d results --------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_reductions_of_elementwise_chains(backend, blocking):
    rng = np.random.default_rng(31)
    a = rng.standard_normal((6, 8))
    b = rng.standard_normal((6, 8))
    x, y = _block(a, blocking), _block(b, blocking)
    assert_eq((x * 2 + 1).sum(axis=0), (a * 2 + 1).sum(axis=0))
    assert_eq(nps.exp(x).mean(axis=1), np.exp(a).mean(axis=1))
    assert_eq((x > 0).any(axis=1), (a > 0).any(axis=1))
    assert_eq((x > -1).all(axis=0), (a > -1).all(axis=0))
    assert_eq((x * y + nps.sin(x)).sum(axis=(0, 1), keepdims=True),
              (a * b + np.sin(a)).sum(axis=(0, 1), keepdims=True))
    assert_eq((x - y).var(axis=1, ddof=1), (a - b).var(axis=1, ddof=1))
    assert_eq(nps.argmax(x * y, axis=1), np.argmax(a * b, axis=1))
    assert_eq(nps.argmin(x + y, keepdims=True), np.argmin(a + b, keepdims=True))
    assert_eq(nps.max(nps.abs(x - 1), axis=(0, 1), keepdims=True),
              np.max(np.abs(a - 1), axis=(0, 1), keepdims=True))
    assert_eq((x > 0).sum(axis=1), (a > 0).sum(axis=1))
    assert_eq(nps.count_nonzero(x > 0.5, axis=0), np.count_nonzero(a > 0.5, axis=0))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_full_reductions_of_chains_0d(backend, blocking):
    rng = np.random.default_rng(31)
    a = rng.standard_normal((6, 8))
    b = rng.standard_normal((6, 8))
    x, y = _block(a, blocking), _block(b, blocking)
    assert_eq(nps.exp(x).mean(), np.exp(a).mean())
    assert_eq((x * y + nps.sin(x)).sum(), (a * b + np.sin(a)).sum())
    assert_eq(nps.argmin(x + y), np.argmin(a + b))
    assert_eq((x > 0).all(), (a > 0).all())
    assert_eq(x.T.sum(), a.T.sum())
    assert_eq(x.T.argmin(), a.T.argmin())


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_reductions_of_transposes(backend, blocking):
    rng = np.random.default_rng(37)
    a = rng.standard_normal((5, 7))
    x = _block(a, blocking)
    assert_eq(x.T.sum(axis=0), a.T.sum(axis=0))
    assert_eq(x.T.sum(axis=1, keepdims=True), a.T.sum(axis=1, keepdims=True))
    assert_eq(x.T.argmax(axis=0), a.T.argmax(axis=0))
    assert_eq(x.T.argmin(keepdims=True), a.T.argmin(keepdims=True))
    assert_eq(x.T.var(axis=0), a.T.var(axis=0))
    assert_eq((x.T * 2).max(axis=1), (a.T * 2).max(axis=1))
    c = rng.standard_normal((3, 4, 5))
    z = _block(c, blocking)
    zt, ct = nps.transpose(z, (2, 0, 1)), np.transpose(c, (2, 0, 1))
    for axis in (None, 0, (1, 2), -1):
        assert_eq(zt.sum(axis=axis, keepdims=True), ct.sum(axis=axis, keepdims=True))
        if axis is not None:
            assert_eq(zt.mean(axis=axis), ct.mean(axis=axis))
    assert_eq(zt.argmax(keepdims=True), ct.argmax(keepdims=True))
    assert_eq(zt.argmin(axis=1), ct.argmin(axis=1))


def test_zero_dimensional_results(backend):
    a = np.random.default_rng(41).standard_normal((6, 5))
    x = _block(a, "ragged")
    s = x.sum()
    assert s.shape == ()
    assert s.get().shape == ()
    assert s.get().dtype == np.float64
    assert float(s) == pytest.approx(a.sum(), rel=1e-12)
    assert bool((x > 0).all()) is bool((a > 0).all())
    assert bool((x > 0).any()) is bool((a > 0).any())
    assert bool((x > -100).all()) is True
    assert bool((x > 100).any()) is False
    assert int(x.argmax()) == int(a.argmax())
    assert int(x.argmin()) == int(a.argmin())
    assert float(nps.mean(x)) == pytest.approx(a.mean(), rel=1e-12)
    assert nps.max(x).item() == a.max()
    i = np.arange(12).reshape(3, 4)
    assert int(_block(i, "even").sum()) == 66
    assert _block(i, "even").sum().get().dtype == i.sum().dtype


def test_0d_result_in_later_operations(backend):
    a = np.arange(12.0).reshape(3, 4)
    x = _block(a, "even")
    s = x.sum()
    assert_eq(s + 1, a.sum() + 1)
    assert_eq(x - x.mean(), a - a.mean())
    assert_eq(x / x.max(), a / a.max())


def test_zero_size_sums(backend):
    a = np.zeros((0, 3))
    x = nps.array(a)
    for name in ("sum", "prod", "all", "any", "nansum", "count_nonzero", "mean"):
        for axis, keepdims in ((0, False), (None, True), ((0, 1), True)):
            expected = _np(name, a, axis=axis, keepdims=keepdims)
            assert_eq(_nps(name, x, axis=axis, keepdims=keepdims), expected)
    for name in ("min", "max", "argmax", "nanmin"):
        assert_eq(_nps(name, x, axis=1), _np(name, a, axis=1))


# -- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_REDUCTIONS)
def test_axis_out_of_range(backend, name):
    a = np.ones((3, 4))
    x = _block(a, "even")
    for axis in (2, -3, 10):
        with pytest.raises(AxisError):
            getattr(np, name)(a, axis=axis)
        with pytest.raises(AxisError):
            getattr(nps, name)(x, axis=axis)
    if name in ARG_REDUCTIONS:
        return
    for axis in ((0, 2), (-3,), (1, -5)):
        with pytest.raises(AxisError):
            getattr(np, name)(a, axis=axis)
        with pytest.raises(AxisError):
            getattr(nps, name)(x, axis=axis)


@pytest.mark.parametrize("name", AXIS_REDUCTIONS)
def test_duplicate_axes(backend, name):
    a = np.ones((3, 4, 2))
    x = _block(a, "even")
    for axis in ((0, 0), (1, -2), (0, 2, -1)):
        with pytest.raises(ValueError):
            getattr(np, name)(a, axis=axis)
        with pytest.raises(ValueError):
            getattr(nps, name)(x, axis=axis)


def test_method_axis_errors(backend):
    x = _block(np.ones((3, 4)), "even")
    for name in METHODS + ARG_REDUCTIONS:
        with pytest.raises(AxisError):
            getattr(x, name)(axis=2)
    for name in METHODS:
        with pytest.raises(ValueError):
            getattr(x, name)(axis=(1, 1))


@pytest.mark.parametrize("name", NO_IDENTITY)
def test_zero_size_no_identity(backend, name):
    a = np.zeros((0, 3))
    x = nps.array(a)
    for axis in (None, 0):
        with pytest.raises(ValueError):
            getattr(np, name)(a, axis=axis)
        with pytest.raises(ValueError):
            getattr(nps, name)(x, axis=axis)
    if name in ARG_REDUCTIONS or name in ("min", "max"):
        with pytest.raises(ValueError):
            getattr(x, name)(axis=0)


@pytest.mark.parametrize("name", ARG_REDUCTIONS)
def test_arg_tuple_axis(backend, name):
    a = np.ones((3, 4))
    x = _block(a, "even")
    for axis in ((0,), (0, 1)):
        with pytest.raises(TypeError):
            getattr(np, name)(a, axis=axis)
        with pytest.raises(TypeError):
            getattr(nps, name)(x, axis=axis)
        with pytest.raises(TypeError):
            getattr(x, name)(axis=axis)


# -- properties -------------------------------------------------------------------------------

@st.composite
def _cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7))
    a = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e3, 1e3)))
    block_shape = tuple(draw(st.integers(1, n)) for n in shape)
    name = draw(st.sampled_from(["sum", "max", "mean", "var", "argmax"]))
    ndim = len(shape)
    int_axis = st.integers(-ndim, ndim - 1)
    if name == "argmax":
        axis = draw(st.none() | int_axis)
    else:
        subset = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
        signed = subset.flatmap(lambda axes: st.tuples(*[st.sampled_from([a, a - ndim])
                                                         for a in axes]))
        axis = draw(st.none() | int_axis | signed)
    keepdims = draw(st.booleans())
    return a, block_shape, name, axis, keepdims


@settings(deadline=None, max_examples=40)
@given(_cases())
def test_property_matches_numpy(case):
    start("serial")
    a, block_shape, name, axis, keepdims = case
    assume(not _is_0d(a.ndim, axis, keepdims))  # 0-d results: the test below
    x = nps.array(a, block_shape=block_shape)
    expected = _np(name, a, axis=axis, keepdims=keepdims)
    assert_eq(_nps(name, x, axis=axis, keepdims=keepdims), expected, rtol=1e-9, atol=1e-9)


# -- the fan-in of the merge tree -------------------------------------------------------------

@pytest.mark.parametrize("full", [False, True], ids=["nd", "0d"])
def test_reduction_fanin_setting(full):
    nums.shutdown()
    nums.init(backend="local", workers=1, testing=True, reduction_fanin=3)
    try:
        assert nums.session().settings.reduction_fanin == 3
        rng = np.random.default_rng(43)
        a = rng.standard_normal((61, 5))
        x = nps.array(a, block_shape=(2, 2))  # 31 x 3 blocks: a three-level tree per column
        i = np.arange(100, dtype=np.int64)
        y = nps.array(i, block_shape=(3,))  # 34 blocks
        names = ("sum", "mean", "var", "min", "nanmax", "prod")
        if full:
            for name in names:
                assert_eq(_nps(name, x), _np(name, a), rtol=1e-9, atol=1e-12)
            assert_eq(x.argmax(), a.argmax())
            assert_eq(y.sum(), i.sum())
            return
        for axis in (None, 0, 1, (0, 1)):
            for name in names:
                expected = _np(name, a, axis=axis, keepdims=True)
                assert_eq(_nps(name, x, axis=axis, keepdims=True), expected, rtol=1e-9,
                          atol=1e-12)
                if axis in (0, 1):
                    assert_eq(_nps(name, x, axis=axis), _np(name, a, axis=axis), rtol=1e-9,
                              atol=1e-12)
        assert_eq(x.argmax(keepdims=True), a.argmax(keepdims=True))
        assert_eq(x.argmin(axis=0), a.argmin(axis=0))
        assert_eq((x * 2).std(axis=0, ddof=1), (a * 2).std(axis=0, ddof=1))
        assert_eq(y.sum(keepdims=True), i.sum(keepdims=True))
        assert_eq(y.argmax(axis=0, keepdims=True), i.argmax(axis=0, keepdims=True))
    finally:
        nums.shutdown()


@settings(deadline=None, max_examples=20)
@given(_cases())
def test_property_full_reductions_0d(case):
    start("serial")
    a, block_shape, name, _, _ = case
    x = nps.array(a, block_shape=block_shape)
    expected = _np(name, a)
    assert_eq(_nps(name, x), expected, rtol=1e-9, atol=1e-9)
