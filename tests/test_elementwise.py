"""Elementwise operations against NumPy: every ufunc, Python operators, dtype promotion,
broadcasting, clip/where/round/real/imag/angle, astype, long and transposed chains, NumPy's
ufunc protocol, and fusion into one kernel call per block."""

from __future__ import annotations

import operator
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nums
import nums.numpy as nps
from nums.array.blockarray import BlockArray
from nums.numpy.math import UFUNC_NAMES
from tests.conftest import start
from tests.utils import BLOCKINGS, assert_eq, block_shape_for, record_kernel_names

SHAPE = (6, 10)


def ba(a, kind: str = "ragged") -> BlockArray:
    """``a`` as a BlockArray cut the ``kind`` way."""
    a = np.asarray(a)
    return nps.array(a, block_shape=block_shape_for(a.shape, kind))


def other_kind(kind: str) -> str:
    """A blocking different from ``kind`` (for the second operand)."""
    return BLOCKINGS[(BLOCKINGS.index(kind) + 1) % len(BLOCKINGS)]


def numpy_exception(fn) -> type[BaseException]:
    """The exception type NumPy raises in ``fn`` (fails the test if it raises none)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any exception type is the answer
        return type(exc)
    raise AssertionError("NumPy raised no exception")


# -- 1. every ufunc ----------------------------------------------------------------------

_UNIT = {"arcsin", "arccos", "arctanh", "asin", "acos", "atanh", "log1p"}
_POSITIVE = {"log", "log10", "log2", "sqrt", "arccosh", "acosh", "reciprocal"}
_SPECIAL_VALUES = {"isfinite", "isinf", "isnan", "spacing", "signbit", "sign"}
_DIVISORS = {"floor_divide", "remainder", "mod", "fmod", "divmod"}
_POWERS = {"power", "pow", "float_power"}
_INT_BINARY = {"bitwise_and", "bitwise_or", "bitwise_xor", "gcd", "lcm"}
_SHIFTS = {"left_shift", "right_shift", "bitwise_left_shift", "bitwise_right_shift"}
_INT_UNARY = {"invert", "bitwise_not", "bitwise_invert", "bitwise_count"}
_LOGICAL = {"logical_and", "logical_or", "logical_xor", "logical_not"}


def _floats(rng, lo=-3.0, hi=3.0, shape=SHAPE) -> np.ndarray:
    a = rng.uniform(lo, hi, shape)
    if lo <= -2.5 and hi >= 2.5:  # halves and signed zeros, for rint/ceil/trunc/sign
        a.flat[:6] = [0.5, 1.5, -2.5, -0.5, 0.0, -0.0]
    return a


def ufunc_inputs(name: str, rng) -> tuple[np.ndarray, ...]:
    """NumPy inputs inside ``name``'s domain."""
    nin = getattr(np, name).nin
    if name in _LOGICAL:
        return tuple(rng.random(SHAPE) < 0.5 for _ in range(nin))
    if name in _INT_UNARY:
        return (rng.integers(-100, 100, SHAPE),)
    if name in _INT_BINARY:
        return rng.integers(-30, 30, SHAPE), rng.integers(-30, 30, SHAPE)
    if name in _SHIFTS:
        return rng.integers(-100, 100, SHAPE), rng.integers(0, 8, SHAPE)
    if name == "ldexp":
        return _floats(rng), rng.integers(-4, 5, SHAPE)
    if name in _POWERS:
        return _floats(rng, 0.25, 3.0), _floats(rng, -2.0, 2.0)
    if name in _DIVISORS:
        y = rng.uniform(0.5, 3.0, SHAPE) * rng.choice([-1.0, 1.0], SHAPE)
        return _floats(rng, -10.0, 10.0), y
    if name in _UNIT:
        return (_floats(rng, -0.9, 0.9),)
    if name in _POSITIVE:
        return (_floats(rng, 1.1, 4.0),)
    if name in _SPECIAL_VALUES:
        a = _floats(rng)
        a.flat[6:10] = [np.nan, np.inf, -np.inf, 1e-310]
        return (a,)
    if nin == 1:
        return (_floats(rng),)
    x, y = _floats(rng), _floats(rng)
    y[0] = x[0]  # equal elements, for comparisons and nextafter
    x[1, 1] = np.nan
    y[2, 2] = np.nan
    return x, y


def test_ufunc_names_cover_numpy():
    assert len(UFUNC_NAMES) > 80
    for name in ("add", "divmod", "frexp", "modf", "gcd", "logical_not", "arctan2"):
        assert name in UFUNC_NAMES
    for name in ("matmul", "isnat"):
        assert name not in UFUNC_NAMES


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("name", UFUNC_NAMES)
def test_ufunc(backend, name, blocking):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    args = ufunc_inputs(name, rng)
    kinds = [blocking, other_kind(blocking)]
    blocked = [ba(a, kinds[i % 2]) for i, a in enumerate(args)]
    ufunc = getattr(np, name)
    with np.errstate(all="ignore"):
        expected = ufunc(*args)
        actual = getattr(nps, name)(*blocked)
        if ufunc.nout > 1:
            assert isinstance(actual, tuple) and len(actual) == ufunc.nout
            for act, exp in zip(actual, expected):
                assert act.dtype == exp.dtype
                assert_eq(act, exp)
        else:
            assert isinstance(actual, BlockArray)
            assert actual.dtype == expected.dtype
            assert_eq(actual, expected)


_INT_OK = ["add", "subtract", "multiply", "true_divide", "floor_divide", "remainder", "fmod",
           "divmod", "power", "maximum", "minimum", "absolute", "negative", "sign", "square",
           "sqrt", "exp", "equal", "less", "heaviside", "arctan2", "logical_and"]


@pytest.mark.parametrize("name", _INT_OK)
def test_ufunc_integer_inputs(backend, name):
    """Integer operands: C-vs-Python sign rules of // % fmod, int->float dtype rules."""
    rng = np.random.default_rng(7)
    x = rng.integers(-20, 20, SHAPE).astype(np.int32)
    y = rng.integers(1, 6, SHAPE).astype(np.int32) * rng.choice([-1, 1], SHAPE).astype(np.int32)
    if name == "power":
        x, y = x % 7, np.abs(y)
    ufunc = getattr(np, name)
    args = (x, y)[:ufunc.nin]
    with np.errstate(all="ignore"):
        expected = ufunc(*args)
        actual = getattr(nps, name)(*[ba(a, k) for a, k in zip(args, ("ragged", "even"))])
        if ufunc.nout > 1:
            for act, exp in zip(actual, expected):
                assert_eq(act, exp)
        else:
            assert actual.dtype == expected.dtype
            assert_eq(actual, expected)


def test_ufunc_wrong_arity(backend):
    x = ba(np.ones(SHAPE))
    with pytest.raises(TypeError):
        nps.add(x)
    with pytest.raises(TypeError):
        nps.sin(x, x)


def test_ufunc_dtype_and_out_arguments(backend):
    a = np.arange(12).reshape(3, 4)
    x = ba(a)
    assert_eq(nps.add(x, 1, dtype=np.float32), np.add(a, 1, dtype=np.float32))
    assert_eq(nps.sqrt(x, dtype=np.float32), np.sqrt(a, dtype=np.float32))
    z = ba(np.zeros((3, 4)))
    res = nps.multiply(x, 2.5, out=z)
    assert res is z
    assert_eq(z, a * 2.5)
    zi = ba(np.zeros((3, 4), np.int64))
    exc = numpy_exception(lambda: np.multiply(a, 2.5, out=np.zeros((3, 4), np.int64)))
    with pytest.raises(exc):
        nps.multiply(x, 2.5, out=zi)


# -- 2. Python operators -----------------------------------------------------------------

_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "//": operator.floordiv, "%": operator.mod, "**": operator.pow}
_BITWISE = {"&": operator.and_, "|": operator.or_, "^": operator.xor}
_SHIFT_OPS = {"<<": operator.lshift, ">>": operator.rshift}
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne}
_ALL_OPS = {**_ARITH, **_BITWISE, **_SHIFT_OPS, **_COMPARE}


def _operator_cases():
    for sym in _ARITH:
        yield sym, "float64"
        yield sym, "int64"
    for sym in _BITWISE:
        yield sym, "int64"
        yield sym, "bool"
    for sym in _SHIFT_OPS:
        yield sym, "int64"
    for sym in _COMPARE:
        yield sym, "float64"
        yield sym, "int64"


def _operands(sym: str, dtype: str, rng) -> tuple[np.ndarray, np.ndarray, object]:
    """Left array, right array (valid as a right operand of ``sym``) and a right scalar."""
    if dtype == "bool":
        return rng.random(SHAPE) < 0.5, rng.random(SHAPE) < 0.5, True
    if dtype == "int64":
        left = rng.integers(-20, 20, SHAPE)
        right = rng.integers(1, 6, SHAPE)
        if sym in ("//", "%"):
            right = right * rng.choice([-1, 1], SHAPE)
        return left, right, 3
    left = rng.uniform(-5, 5, SHAPE)
    right = rng.uniform(0.5, 3, SHAPE) * rng.choice([-1.0, 1.0], SHAPE)
    if sym == "**":
        left = np.abs(left) + 0.1
    if sym in _COMPARE:
        right[0] = left[0]
    return left, right, 2.5


@pytest.mark.parametrize("form", ["array-array", "array-scalar", "scalar-array",
                                  "ndarray-array", "array-ndarray", "npscalar-array"])
@pytest.mark.parametrize("sym,dtype", list(_operator_cases()))
def test_binary_operator(backend, sym, dtype, form):
    rng = np.random.default_rng(3)
    op = _ALL_OPS[sym]
    left, right, scalar = _operands(sym, dtype, rng)
    x, y = ba(left, "ragged"), ba(right, "even")
    if form == "array-array":
        args, expected_args = (x, y), (left, right)
    elif form == "array-scalar":
        args, expected_args = (x, scalar), (left, scalar)
    elif form == "scalar-array":
        args, expected_args = (scalar, y), (scalar, right)
    elif form == "ndarray-array":
        args, expected_args = (left, y), (left, right)
    elif form == "array-ndarray":
        args, expected_args = (x, right), (left, right)
    else:
        s = np.asarray(scalar)[()]
        args, expected_args = (s, y), (s, right)
    with np.errstate(all="ignore"):
        expected = op(*expected_args)
        actual = op(*args)
        if form != "ndarray-array":
            assert isinstance(actual, BlockArray)
            assert actual.dtype == expected.dtype
        assert_eq(actual, expected)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_divmod_operator(backend, blocking):
    rng = np.random.default_rng(4)
    a = rng.uniform(-9, 9, SHAPE)
    b = rng.uniform(0.5, 3, SHAPE) * rng.choice([-1.0, 1.0], SHAPE)
    x, y = ba(a, blocking), ba(b, other_kind(blocking))
    for actual, expected in [(divmod(x, y), divmod(a, b)), (divmod(x, 2.5), divmod(a, 2.5)),
                             (divmod(7.0, y), divmod(7.0, b)), (divmod(a, y), divmod(a, b))]:
        assert isinstance(actual, tuple) and len(actual) == 2
        assert_eq(actual[0], expected[0])
        assert_eq(actual[1], expected[1])


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_unary_operators(backend, blocking):
    rng = np.random.default_rng(5)
    f = rng.uniform(-5, 5, SHAPE)
    i = rng.integers(-50, 50, SHAPE).astype(np.int16)
    b = rng.random(SHAPE) < 0.5
    xf, xi, xb = ba(f, blocking), ba(i, blocking), ba(b, blocking)
    assert_eq(-xf, -f)
    assert_eq(+xf, +f)
    assert_eq(abs(xf), abs(f))
    assert_eq(-xi, -i)
    assert_eq(abs(xi), abs(i))
    assert_eq(~xi, ~i)
    assert_eq(~xb, ~b)
    assert_eq(operator.neg(-xf), f)
    with pytest.raises(numpy_exception(lambda: -b)):
        -xb  # noqa: B018 - the operator itself must raise


def test_unsupported_operands_raise_like_numpy(backend):
    f = np.linspace(-1, 1, 12).reshape(3, 4)
    b = np.array([True, False, True, True])
    xf, xb = ba(f), ba(b)
    with pytest.raises(numpy_exception(lambda: f & f)):
        xf & xf  # noqa: B018
    with pytest.raises(numpy_exception(lambda: f << 1)):
        xf << 1  # noqa: B018
    with pytest.raises(numpy_exception(lambda: ~f)):
        ~xf  # noqa: B018
    with pytest.raises(numpy_exception(lambda: b - b)):
        xb - xb  # noqa: B018


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_inplace_operators(backend, blocking):
    rng = np.random.default_rng(6)
    a = rng.uniform(-5, 5, SHAPE)
    b = rng.uniform(0.5, 3, SHAPE)
    row = rng.uniform(-1, 1, SHAPE[1])
    x, y = ba(a, blocking), ba(b, other_kind(blocking))
    handle = x
    x += 1
    a += 1
    assert x is handle
    assert_eq(x, a)
    x *= y
    a *= b
    assert_eq(x, a)
    x -= row
    a -= row
    assert_eq(x, a)
    x /= 4
    a /= 4
    assert_eq(x, a)
    x **= 2
    a **= 2
    assert_eq(x, a)
    x //= 0.75
    a //= 0.75
    assert_eq(x, a)
    x %= y
    a %= b
    assert_eq(x, a)
    assert x is handle

    i = rng.integers(-50, 50, SHAPE)
    xi = ba(i, blocking)
    for sym, val in [("+", 3), ("-", 4), ("*", 3), ("//", 3), ("%", 7), ("**", 2),
                     ("<<", 2), (">>", 1), ("&", 0x3C), ("|", 5), ("^", 9)]:
        xi = getattr(operator, "i" + _op_name(sym))(xi, val)
        i = getattr(operator, "i" + _op_name(sym))(i, val)
        assert xi.dtype == np.int64
        assert_eq(xi, i)


def _op_name(sym: str) -> str:
    return {"+": "add", "-": "sub", "*": "mul", "//": "floordiv", "%": "mod", "**": "pow",
            "<<": "lshift", ">>": "rshift", "&": "and", "|": "or", "^": "xor"}[sym]


def test_inplace_keeps_dtype_with_same_kind(backend):
    a32 = np.linspace(-2, 2, 24, dtype=np.float32).reshape(4, 6)
    b64 = np.linspace(0, 1, 24).reshape(4, 6)
    x = ba(a32, "even")
    x += ba(b64, "ragged")
    a32 += b64
    assert x.dtype == np.float32
    assert_eq(x, a32)
    i8 = np.arange(-12, 12, dtype=np.int8).reshape(4, 6) * 5
    big = np.full((4, 6), 100, dtype=np.int64)
    xi = ba(i8)
    xi += big  # same kind: wraps around in int8, like NumPy
    i8 += big
    assert xi.dtype == np.int8
    assert_eq(xi, i8)
    xb = ba(np.array([True, False, True]))
    xb |= np.array([False, False, True])
    assert_eq(xb, np.array([True, False, True]))


@pytest.mark.parametrize("case", ["int+=float", "int+=floatarray", "int/=int", "bool+=int",
                                  "float+=complex", "uint8+=-1", "int8*=300"])
def test_inplace_casting_errors(backend, case):
    ints = np.arange(12).reshape(3, 4)
    data = {
        "int+=float": (ints, operator.iadd, 1.5),
        "int+=floatarray": (ints, operator.iadd, np.ones((3, 4))),
        "int/=int": (ints, operator.itruediv, 2),
        "bool+=int": (ints > 5, operator.iadd, 1),
        "float+=complex": (ints * 1.0, operator.iadd, 1j),
        "uint8+=-1": (ints.astype(np.uint8), operator.iadd, -1),
        "int8*=300": (ints.astype(np.int8), operator.imul, 300),
    }
    a, op, other = data[case]
    exc = numpy_exception(lambda: op(a.copy(), other))
    if case.startswith(("int", "bool", "float")) and case != "int8*=300":
        assert issubclass(exc, TypeError)
    x = ba(a)
    with pytest.raises(exc):
        op(x, other)
    assert x.dtype == a.dtype
    assert_eq(x, a)  # unchanged after the failed operation


@pytest.mark.parametrize("target,other", [((3, 1), (3, 4)), ((4,), (3, 4)), ((3, 4), (4, 4)),
                                          ((3, 4), (5,))])
def test_inplace_broadcast_error(backend, target, other):
    a = np.ones(target)
    exc = numpy_exception(lambda: operator.iadd(a.copy(), np.ones(other)))
    assert exc is ValueError
    x = ba(a)
    with pytest.raises(ValueError):
        x += ba(np.ones(other))
    with pytest.raises(ValueError):
        x *= np.ones(other)
    assert_eq(x, a)


def test_inplace_broadcasting_operand(backend):
    a = np.arange(24.0).reshape(4, 6)
    x = ba(a)
    x += ba(np.arange(6.0), "even")
    x *= np.arange(4.0).reshape(4, 1)
    x -= 2
    assert_eq(x, (a + np.arange(6.0)) * np.arange(4.0).reshape(4, 1) - 2)


# -- 3. dtype promotion (NEP 50) -----------------------------------------------------------

def _arr(dtype, values=(1, 2, 3, 4, 5, 6)):
    return np.array(values).astype(dtype).reshape(2, 3)


_PROMOTION = {
    "int8+int": (lambda: _arr(np.int8), operator.add, 5, np.int8),
    "int8+float": (lambda: _arr(np.int8), operator.add, 1.5, np.float64),
    "int8*npint64": (lambda: _arr(np.int8), operator.mul, np.int64(2), np.int64),
    "int8+0d_int64": (lambda: _arr(np.int8), operator.add, np.array(2), np.int64),
    "int8_wraps": (lambda: _arr(np.int8, (100, 120, 127, -128, 0, 1)), operator.add, 100,
                   np.int8),
    "float32+float": (lambda: _arr(np.float32), operator.add, 1.5, np.float32),
    "float32+int": (lambda: _arr(np.float32), operator.mul, 3, np.float32),
    "float32+npfloat64": (lambda: _arr(np.float32), operator.add, np.float64(1.5), np.float64),
    "float32+float64arr": (lambda: _arr(np.float32), operator.add, _arr(np.float64),
                           np.float64),
    "float32+0d_float64": (lambda: _arr(np.float32), operator.sub, np.array(0.5), np.float64),
    "int32+float32": (lambda: _arr(np.int32), operator.add, _arr(np.float32), np.float64),
    "int16+float16": (lambda: _arr(np.int16), operator.add, _arr(np.float16), np.float32),
    "uint8+int8": (lambda: _arr(np.uint8), operator.add, _arr(np.int8), np.int16),
    "uint64+int64": (lambda: _arr(np.uint64), operator.add, _arr(np.int64), np.float64),
    "float16+npfloat32": (lambda: _arr(np.float16), operator.add, np.float32(2), np.float32),
    "bool+bool": (lambda: _arr(bool, (1, 0, 1, 0, 0, 1)), operator.add,
                  _arr(bool, (1, 1, 0, 0, 1, 0)), np.bool_),
    "bool*bool": (lambda: _arr(bool, (1, 0, 1, 0, 0, 1)), operator.mul,
                  _arr(bool, (1, 1, 0, 0, 1, 0)), np.bool_),
    "bool+int": (lambda: _arr(bool, (1, 0, 1, 0, 0, 1)), operator.add, 1, np.int64),
    "bool+float": (lambda: _arr(bool, (1, 0, 1, 0, 0, 1)), operator.add, 0.5, np.float64),
    "complex64+float": (lambda: _arr(np.complex64), operator.add, 1.5, np.complex64),
    "complex64+float64arr": (lambda: _arr(np.complex64), operator.add, _arr(np.float64),
                             np.complex128),
    "float32+complex": (lambda: _arr(np.float32), operator.add, 1j, np.complex64),
    "int64/int64": (lambda: _arr(np.int64), operator.truediv, _arr(np.int64), np.float64),
    "int8/int8": (lambda: _arr(np.int8), operator.truediv, _arr(np.int8, (2,) * 6),
                  np.float64),
    "int16/int": (lambda: _arr(np.int16), operator.truediv, 4, np.float64),
    "int32//int32": (lambda: _arr(np.int32), operator.floordiv, _arr(np.int32, (2,) * 6),
                     np.int32),
    "float32**int": (lambda: _arr(np.float32), operator.pow, 2, np.float32),
    "int<float": (lambda: _arr(np.int64), operator.lt, 2.5, np.bool_),
    "float32==int": (lambda: _arr(np.float32), operator.eq, 3, np.bool_),
    "int8>=int64arr": (lambda: _arr(np.int8), operator.ge, _arr(np.int64, (3,) * 6), np.bool_),
    "uint8>int": (lambda: _arr(np.uint8), operator.gt, 300, np.bool_),
}


@pytest.mark.parametrize("case", list(_PROMOTION))
@pytest.mark.parametrize("reflect", [False, True])
def test_promotion(backend, case, reflect):
    make, op, other, want = _PROMOTION[case]
    a = make()
    x = ba(a)
    y = other if not isinstance(other, np.ndarray) or other.ndim == 0 else ba(other, "even")
    with np.errstate(all="ignore"):
        expected = op(other, a) if reflect else op(a, other)
        actual = op(y, x) if reflect else op(x, y)
    assert expected.dtype == np.dtype(want)  # the test's own expectation is NumPy's
    assert actual.dtype == np.dtype(want)  # before computing anything
    assert_eq(actual, expected)


@pytest.mark.parametrize("dtype,value,op", [(np.uint8, 300, operator.add),
                                            (np.uint8, -1, operator.add),
                                            (np.int8, 200, operator.add),
                                            (np.int8, -129, operator.mul),
                                            (np.uint8, 300, operator.sub),
                                            (np.int16, 2**20, operator.floordiv)])
def test_python_int_out_of_bounds(backend, dtype, value, op):
    a = _arr(dtype)
    exc = numpy_exception(lambda: op(a, value))
    assert exc is OverflowError
    x = ba(a)
    with pytest.raises(OverflowError):
        op(x, value)  # at the call, not when computed
    with pytest.raises(OverflowError):
        op(value, x)
    with pytest.raises(OverflowError):
        nps.add(x, value)


def test_comparisons_give_bool(backend):
    a = np.arange(12.0).reshape(3, 4)
    x = ba(a)
    for op in _COMPARE.values():
        r = op(x, 5.0)
        assert r.dtype == np.bool_
        assert_eq(r, op(a, 5.0))
    for name in ("isnan", "isfinite", "signbit", "logical_not"):
        assert getattr(nps, name)(x).dtype == np.bool_


# -- 4. broadcasting -----------------------------------------------------------------------

_BROADCAST_SHAPES = [((5, 1), (1, 7)), ((3, 4, 5), (5,)), ((4, 1, 6), (3, 1)), ((6,), (2, 1, 6)),
                     ((1,), (4, 3)), ((), (4, 3)), ((4, 3), ()), ((0, 3), (1, 3)), ((0, 3), (3,)),
                     ((2, 0, 3), (2, 1, 3)), ((5, 7), (5, 7)), ((1, 1), (1,))]


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("shapes", _BROADCAST_SHAPES, ids=str)
def test_broadcasting(backend, shapes, blocking):
    rng = np.random.default_rng(8)
    a, b = rng.uniform(-3, 3, shapes[0]), rng.uniform(-3, 3, shapes[1])
    x, y = ba(a, blocking), ba(b, other_kind(blocking))
    assert_eq(x + y, a + b)
    assert_eq(y * x, b * a)
    assert_eq(nps.maximum(x, b), np.maximum(a, b))
    assert_eq(a - y, a - b)
    assert_eq(nps.where(x > 0, x, y), np.where(a > 0, a, b))
    assert_eq(nps.hypot(nps.sin(x), y) + x, np.hypot(np.sin(a), b) + a)


@pytest.mark.parametrize("shape,bs1,bs2", [((6, 6), (2, 3), (3, 2)), ((5, 7), (2, 3), (3, 2)),
                                           ((5, 7), (4, 4), (1, 7)), ((7,), (2,), (3,)),
                                           ((3, 5, 4), (2, 2, 3), (1, 4, 2))])
def test_different_block_shapes(backend, shape, bs1, bs2):
    rng = np.random.default_rng(9)
    a, b = rng.uniform(-3, 3, shape), rng.uniform(-3, 3, shape)
    x, y = nps.array(a, block_shape=bs1), nps.array(b, block_shape=bs2)
    assert_eq(x + y, a + b)
    assert_eq(y - x, b - a)
    assert_eq(nps.exp(x) * y + x, np.exp(a) * b + a)
    assert_eq(x * 2 + y * 3 - nps.abs(x - y), a * 2 + b * 3 - np.abs(a - b))
    z = x.copy()
    z += y
    assert_eq(z, a + b)


def test_broadcast_row_and_column_with_ragged_blocks(backend):
    rng = np.random.default_rng(10)
    col, row = rng.uniform(size=(7, 1)), rng.uniform(size=(1, 11))
    m = rng.uniform(size=(7, 11))
    xc = nps.array(col, block_shape=(3, 1))
    xr = nps.array(row, block_shape=(1, 4))
    xm = nps.array(m, block_shape=(2, 5))
    assert_eq(xc + xr, col + row)
    assert_eq(xc * xm - xr, col * m - row)
    assert_eq(xm + row, m + row)
    assert_eq(col + xm, col + m)


def test_scalars_and_zero_d(backend):
    a = np.arange(12.0).reshape(3, 4)
    x = ba(a)
    z = nps.array(np.float64(2.5))
    assert z.shape == ()
    assert_eq(x + z, a + 2.5)
    assert_eq(z * x, 2.5 * a)
    assert_eq(z + z, np.float64(5.0))
    assert_eq(-z, np.array(-2.5))
    assert_eq(nps.sin(z), np.sin(np.array(2.5)))
    assert_eq(x + np.array(1.5), a + np.array(1.5))
    assert_eq(np.array(1.5) - x, np.array(1.5) - a)
    zi = nps.array(np.array(3, np.int64))
    i8 = np.arange(6, dtype=np.int8)
    assert_eq(ba(i8) + zi, i8 + np.array(3, np.int64))


def test_scalar_only_operands(backend):
    """No array operand at all: a 0-d result, like NumPy's."""
    for actual, expected in [(nps.add(2, 3), np.add(2, 3)),
                             (nps.multiply(np.float32(2), 3.0), np.multiply(np.float32(2), 3.0)),
                             (nps.sin(np.float64(1.0)), np.sin(np.float64(1.0))),
                             (nps.maximum(np.array(2.5), 1), np.maximum(np.array(2.5), 1))]:
        assert actual.shape == ()
        assert actual.dtype == np.asarray(expected).dtype
        assert_eq(actual, expected)


def test_numpy_operand_dtypes(backend):
    """The dtype with a NumPy-array operand follows that array's dtype, whatever came before."""
    cases = [(np.float32, np.float32), (np.float32, np.float64), (np.int8, np.int64),
             (np.int8, np.int8), (np.int32, np.float32), (np.float64, np.float16),
             (np.uint8, np.int8), (np.bool_, np.bool_), (np.bool_, np.int16)]
    for _ in range(2):
        for d1, d2 in cases:
            a = np.arange(6).reshape(2, 3).astype(d1)
            b = np.array([1, 2, 3]).astype(d2)
            x = ba(a)
            for actual, expected in [(x + b, a + b), (b * x, b * a), (nps.maximum(x, b),
                                     np.maximum(a, b)), (x < b, a < b)]:
                assert actual.dtype == expected.dtype, (d1, d2)
                assert_eq(actual, expected)
            y, expected = ba(a), a.copy()
            try:
                expected += b
            except TypeError:
                with pytest.raises(TypeError):
                    y += b
            else:
                y += b
                assert_eq(y, expected)


@pytest.mark.parametrize("shapes", [((3, 4), (3, 5)), ((2, 3), (2,)), ((4, 2, 6), (3, 1)),
                                    ((0,), (2,)), ((6, 10), (7,))], ids=str)
def test_broadcast_mismatch(backend, shapes):
    a, b = np.ones(shapes[0]), np.ones(shapes[1])
    exc = numpy_exception(lambda: a + b)
    assert exc is ValueError
    x, y = ba(a), ba(b)
    with pytest.raises(ValueError):
        x + y  # noqa: B018 - raised at the call, before anything is computed
    with pytest.raises(ValueError):
        nps.maximum(x, b)
    with pytest.raises(ValueError):
        a * y  # noqa: B018
    with pytest.raises(ValueError):
        nps.where(x > 0, x, y)


# -- 5. property tests ---------------------------------------------------------------------

_PROP_OPS = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum,
             "subtract": np.subtract}


@st.composite
def _block_shape(draw, shape):
    return tuple(draw(st.integers(1, max(n, 1))) for n in shape)


@st.composite
def _operand_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=0,
                                                    max_side=6))
    arrays = []
    for shape in shapes.input_shapes:
        value = draw(hnp.arrays(np.float64, shape,
                                elements=st.floats(-1e3, 1e3, allow_nan=False)))
        arrays.append((value, draw(_block_shape(shape))))
    return arrays, shapes.result_shape


@settings(max_examples=40, deadline=None)
@given(pair=_operand_pair(), name=st.sampled_from(sorted(_PROP_OPS)), chain=st.booleans())
def test_property_broadcast_ops(pair, name, chain):
    start("serial")
    (a, bs_a), (b, bs_b) = pair[0]
    ufunc = _PROP_OPS[name]
    x, y = nps.array(a, block_shape=bs_a), nps.array(b, block_shape=bs_b)
    expected = ufunc(a, b)
    actual = getattr(nps, name)(x, y)
    if chain:
        expected = ufunc(expected, a) * 0.5
        actual = getattr(nps, name)(actual, x) * 0.5
    assert actual.shape == pair[1]
    assert_eq(actual, expected)


_PROP_DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint32,
                np.float16, np.float32, np.float64, np.complex64, np.complex128]
_PROP_SCALARS = [None, 1, 2.5, True, 1j, np.int8(3), np.float32(1.5)]


@settings(max_examples=40, deadline=None)
@given(d1=st.sampled_from(_PROP_DTYPES), d2=st.sampled_from(_PROP_DTYPES),
       scalar=st.sampled_from(_PROP_SCALARS),
       name=st.sampled_from(["add", "multiply", "maximum", "less", "true_divide"]),
       as_numpy=st.booleans())
def test_property_dtype_promotion(d1, d2, scalar, name, as_numpy):
    start("serial")
    a = np.array([[1, 2, 0], [3, 1, 2]]).astype(d1)
    b = np.array([[2, 1, 1], [1, 3, 2]]).astype(d2) if scalar is None else scalar
    ufunc = getattr(np, name)
    try:
        with np.errstate(all="ignore"):
            expected = ufunc(a, b)
    except Exception as exc:  # noqa: BLE001
        with pytest.raises(type(exc)):
            getattr(nps, name)(ba(a), b)
        return
    with np.errstate(all="ignore"):
        other = b if scalar is not None or as_numpy else ba(b, "ragged")
        actual = getattr(nps, name)(ba(a, "even"), other)
    assert actual.dtype == expected.dtype
    assert_eq(actual, expected)


# -- 6. clip, where, round, real/imag/angle, astype, chains, protocols ---------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_clip(backend, blocking):
    rng = np.random.default_rng(11)
    a = rng.uniform(-3, 3, SHAPE)
    a[0, 0] = np.nan
    x = ba(a, blocking)
    assert_eq(nps.clip(x, -1, 1), np.clip(a, -1, 1))
    assert_eq(nps.clip(x, None, 0.5), np.clip(a, None, 0.5))
    assert_eq(nps.clip(x, -0.5, None), np.clip(a, -0.5, None))
    assert_eq(nps.clip(x, min=-2, max=2), np.clip(a, min=-2, max=2))
    assert_eq(x.clip(-1, 2), a.clip(-1, 2))
    assert_eq(x.clip(max=0), a.clip(max=0))
    lo, hi = rng.uniform(-2, 0, SHAPE), rng.uniform(0, 2, SHAPE[1])
    assert_eq(nps.clip(x, ba(lo, other_kind(blocking)), hi), np.clip(a, lo, hi))
    assert_eq(nps.clip(x, lo, ba(hi)), np.clip(a, lo, hi))
    assert_eq(nps.clip(x, 1, -1), np.clip(a, 1, -1))  # lo > hi: NumPy gives hi
    i = rng.integers(-10, 10, SHAPE).astype(np.int16)
    assert_eq(nps.clip(ba(i, blocking), -3, 4), np.clip(i, -3, 4))
    assert_eq(nps.clip(ba(i, blocking), -2.5, 2.5), np.clip(i, -2.5, 2.5))
    assert_eq(nps.clip(ba(i, blocking), None, 3.5), np.clip(i, None, 3.5))
    with pytest.raises(ValueError):
        nps.clip(x, ba(np.ones(7)), 1)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_where(backend, blocking):
    rng = np.random.default_rng(12)
    a, b = rng.uniform(-3, 3, SHAPE), rng.uniform(-3, 3, SHAPE)
    x, y = ba(a, blocking), ba(b, other_kind(blocking))
    assert_eq(nps.where(x > y, x, y), np.where(a > b, a, b))
    row = rng.random(SHAPE[1]) < 0.5
    assert_eq(nps.where(ba(row), x, y), np.where(row, a, b))
    assert_eq(nps.where(row, x, 0.0), np.where(row, a, 0.0))
    assert_eq(nps.where(x > 0, 1, 2), np.where(a > 0, 1, 2))
    assert_eq(nps.where(x > 0, x, -1), np.where(a > 0, a, -1))
    col = rng.uniform(-1, 1, (SHAPE[0], 1))
    assert_eq(nps.where(x < 0, col, y), np.where(a < 0, col, b))
    assert_eq(nps.where(x, 1.0, 0.0), np.where(a, 1.0, 0.0))  # non-bool condition
    i32 = rng.integers(-5, 5, SHAPE).astype(np.int32)
    assert_eq(nps.where(x > 0, ba(i32), 0), np.where(a > 0, i32, 0))
    assert_eq(nps.where(x > 0, ba(i32), 0.5), np.where(a > 0, i32, 0.5))
    assert_eq(np.where(a > 0, x, y), np.where(a > 0, a, b))  # __array_function__
    with pytest.raises(NotImplementedError):
        nps.where(x > 0)
    with pytest.raises(ValueError):
        nps.where(x > 0, ba(np.ones(3)), y)


@pytest.mark.parametrize("decimals", [0, 1, -1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int16])
def test_around(backend, decimals, dtype):
    a = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1.25, 1.35, -2.45, 15.0, 25.0, 125.4, -35.0,
                  0.0, 3.14159, 99.95, -0.05, 1234.5678, 7.0])
    a = a.reshape(3, 6).astype(dtype) if np.dtype(dtype).kind == "f" else \
        np.array([15, 25, -35, 0, 7, 123, -5, 44, 45, -46, 1, 999, 5, 6, 55, 65, -65, 14],
                 dtype).reshape(3, 6)
    x = ba(a)
    expected = np.around(a, decimals)
    for actual in (nps.around(x, decimals), nps.round(x, decimals), x.round(decimals),
                   np.round(x, decimals)):
        assert isinstance(actual, BlockArray)
        assert actual.dtype == expected.dtype
        assert_eq(actual, expected)


def test_real_imag_angle(backend):
    rng = np.random.default_rng(13)
    c = rng.uniform(-2, 2, SHAPE) + 1j * rng.uniform(-2, 2, SHAPE)
    c[0, :3] = [0, -1, 1j]
    for arr in (c, c.astype(np.complex64)):
        z = ba(arr)
        assert_eq(nps.real(z), np.real(arr))
        assert_eq(nps.imag(z), np.imag(arr))
        assert_eq(z.real, arr.real)
        assert_eq(z.imag, arr.imag)
        assert_eq(nps.angle(z), np.angle(arr), rtol=1e-6)
        assert_eq(nps.angle(z, deg=True), np.angle(arr, deg=True), rtol=1e-6)
        assert_eq(nps.conj(z), np.conj(arr))
        assert_eq(nps.abs(z), np.abs(arr), rtol=1e-6)
    r = rng.uniform(-2, 2, SHAPE)
    r[0, :2] = [0.0, -0.0]
    x = ba(r, "even")
    assert_eq(nps.real(x), np.real(r))
    assert_eq(nps.imag(x), np.imag(r))
    assert_eq(nps.angle(x), np.angle(r))
    assert_eq(nps.angle(x, deg=True), np.angle(r, deg=True))
    i = np.arange(-3, 3).reshape(2, 3)
    assert_eq(nps.real(ba(i)), np.real(i))
    assert_eq(nps.imag(ba(i)), np.imag(i))
    assert_eq(nps.angle(ba(i)), np.angle(i))
    f32 = r.astype(np.float32)
    assert_eq(nps.angle(ba(f32)), np.angle(f32))


@pytest.mark.parametrize("src,dst", [(np.float64, np.int32), (np.float64, np.float32),
                                     (np.float64, np.bool_), (np.int64, np.float64),
                                     (np.int64, np.int8), (np.bool_, np.float64),
                                     (np.int32, np.complex128), (np.complex128, np.complex64),
                                     (np.float64, np.uint8), (np.float64, np.float16),
                                     (np.int16, np.uint16), (np.float32, np.float32)])
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_astype(backend, src, dst, blocking):
    base = np.linspace(-3.7, 300.2, 60).reshape(SHAPE)
    if np.dtype(dst) in (np.uint8, np.uint16):
        base = np.abs(base) % 200
    a = base.astype(src) if np.dtype(src).kind != "c" else base + 1j * base[::-1]
    x = ba(a, blocking)
    y = x.astype(dst)
    assert y.dtype == np.dtype(dst)
    assert_eq(y, a.astype(dst))
    assert_eq(y * 2, a.astype(dst) * 2)
    assert_eq(x.astype(dst, copy=False), a.astype(dst, copy=False))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_mixed_chain(backend, blocking):
    rng = np.random.default_rng(14)
    a, b = rng.uniform(-2, 2, SHAPE), rng.uniform(-2, 2, SHAPE)
    x, y = ba(a, blocking), ba(b, other_kind(blocking))
    actual = nps.sqrt(nps.abs(x)) * nps.sin(y) + x ** 2 - 3 / (1 + nps.exp(-x))
    expected = np.sqrt(np.abs(a)) * np.sin(b) + a ** 2 - 3 / (1 + np.exp(-a))
    assert_eq(actual, expected)
    i = rng.integers(1, 9, SHAPE)
    xi = ba(i, blocking)
    actual = nps.where(xi % 2 == 0, x * xi, -y) + (xi // 3).astype(np.float32) \
        - nps.maximum(x, y) / xi
    expected = np.where(i % 2 == 0, a * i, -b) + (i // 3).astype(np.float32) \
        - np.maximum(a, b) / i
    assert_eq(actual, expected)
    mask = (x > 0) & (y < 0.5) | ~(x > y)
    assert_eq(mask, (a > 0) & (b < 0.5) | ~(a > b))
    assert_eq(nps.logical_and(mask, x < 1).astype(int) * 3, np.logical_and(
        (a > 0) & (b < 0.5) | ~(a > b), a < 1).astype(int) * 3)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_long_chain(backend, blocking):
    a = np.linspace(-1, 1, 60).reshape(SHAPE)
    x = ba(a, blocking)
    xn = a.copy()
    for _ in range(100):
        x = x * 1.01 + 0.5
        xn = xn * 1.01 + 0.5
    assert_eq(x, xn, rtol=1e-12)
    b = np.linspace(0, 2, 10)
    y, z = ba(a, blocking), ba(b, "even")
    yn = a.copy()
    for k in range(70):
        y = nps.sin(y) + z * 0.01 if k % 2 else nps.maximum(y, -0.5) - z / (k + 1)
        yn = np.sin(yn) + b * 0.01 if k % 2 else np.maximum(yn, -0.5) - b / (k + 1)
    assert_eq(y, yn, rtol=1e-12)
    w, wn = ba(a, blocking), a.copy()
    for _ in range(100):
        w += 0.25
        w *= 0.99
        wn += 0.25
        wn *= 0.99
    assert_eq(w, wn, rtol=1e-12)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_transposed_operands(backend, blocking):
    rng = np.random.default_rng(15)
    a, b = rng.uniform(-2, 2, SHAPE), rng.uniform(-2, 2, SHAPE[::-1])
    x, y = ba(a, blocking), ba(b, other_kind(blocking))
    assert_eq(x.T + y, a.T + b)
    assert_eq((x * 2).T, (a * 2).T)
    assert_eq((x * 2).T - y, (a * 2).T - b)
    assert_eq(nps.exp(x).T * y + x.T, np.exp(a).T * b + a.T)
    assert_eq((x + y.T).T, (a + b.T).T)
    assert_eq(x.T.T * x, a * a)
    assert_eq(((x - 1).T + y).T * x, ((a - 1).T + b).T * a)
    assert_eq(x.T + b[:, :1], a.T + b[:, :1])
    s, sn = ba(a[:, :6], blocking), a[:, :6].copy()
    s += s.T
    sn += sn.T.copy()
    assert_eq(s, sn)
    c = rng.uniform(-1, 1, (3, 4, 5))
    z = nps.array(c, block_shape=(2, 3, 2))
    w = nps.array(c.transpose(2, 0, 1), block_shape=(3, 3, 3))
    assert_eq(z.transpose(2, 0, 1) + w, c.transpose(2, 0, 1) * 2)
    assert_eq(nps.sin(z).transpose(1, 2, 0) * 3 + c.transpose(1, 2, 0),
              np.sin(c).transpose(1, 2, 0) * 3 + c.transpose(1, 2, 0))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_numpy_ufunc_protocol(backend, blocking):
    rng = np.random.default_rng(16)
    a, b = rng.uniform(0.1, 2, SHAPE), rng.uniform(-2, 2, SHAPE)
    x, y = ba(a, blocking), ba(b, other_kind(blocking))
    for actual, expected in [(np.exp(x), np.exp(a)), (np.add(x, y), a + b),
                             (np.add(a, y), a + b), (np.maximum(x, 0.5), np.maximum(a, 0.5)),
                             (np.negative(x), -a), (np.power(x, y), a ** b),
                             (np.sqrt(x) * 2, np.sqrt(a) * 2), (a + y, a + b),
                             (a * y - x, a * b - a), (np.float64(2.0) * x, 2.0 * a),
                             (np.clip(x, 0.5, 1.5), np.clip(a, 0.5, 1.5)),
                             (np.equal(x, a), np.ones(SHAPE, bool))]:
        assert isinstance(actual, BlockArray)
        assert_eq(actual, expected)
    frac, whole = np.modf(y)
    assert isinstance(frac, BlockArray) and isinstance(whole, BlockArray)
    assert_eq(frac, np.modf(b)[0])
    assert_eq(whole, np.modf(b)[1])
    assert np.asarray(x).dtype == np.float64
    np.testing.assert_array_equal(np.asarray(x + 1), a + 1)


# -- 7. fusion -----------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_fusion_one_kernel_per_block(backend, blocking, monkeypatch):
    a = np.linspace(-2, 2, 60).reshape(SHAPE)
    x = ba(a, blocking).persist()
    calls = record_kernel_names(nums.session(), monkeypatch)
    y = nps.exp(x) * 2 + x
    assert calls == []  # nothing runs until asked
    value = y.get()
    assert len(calls) == x.grid.num_blocks, calls
    np.testing.assert_allclose(value, np.exp(a) * 2 + a)


def test_fusion_two_inputs_and_broadcast(backend, monkeypatch):
    a = np.linspace(-2, 2, 60).reshape(SHAPE)
    b = np.linspace(0, 1, SHAPE[1])
    x = nps.array(a, block_shape=(2, 4))
    y = nps.array(a[::-1], block_shape=(2, 4))
    z = nps.array(b, block_shape=(4,))
    calls = record_kernel_names(nums.session(), monkeypatch)
    r = nps.sin(x) * nps.cos(y) + z - nps.maximum(x, 0.5) / (1 + z ** 2)
    value = r.get()
    assert len(calls) == x.grid.num_blocks, calls
    np.testing.assert_allclose(value, np.sin(a) * np.cos(a[::-1]) + b
                               - np.maximum(a, 0.5) / (1 + b ** 2))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_equal_constants_of_different_types_stay_apart(backend, blocking):
    # One-op programs are cached by op, dtype and constants; 1, 1.0, True and np.float32(1)
    # are equal as keys, yet NumPy gives different results for them.
    for dtype in (np.int8, np.float32, np.bool_):
        a = np.arange(12).reshape(3, 4).astype(dtype)
        x = ba(a, blocking)
        for c in (1, 1.0, True, np.float32(1), np.int64(1), 1 + 0j, float("nan")):
            for _ in range(2):  # the second time from the cache
                assert_eq(x + c, a + c)
                assert_eq(c * x, c * a)
    # 0.0 and -0.0 are equal keys too, but not equal constants
    a = np.array([[1.0, -1.0, 0.0]])
    x = ba(a, blocking)
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in (0.0, -0.0, np.float64(-0.0), 0.0, -0j, 0j):
            assert_eq(x / c, a / c)
    for c in (-0.0, 0.0, np.float32(-0.0)):
        assert_eq(nps.copysign(x, c), np.copysign(a, c))


def test_value_read_twice_by_its_last_reader_keeps_its_buffer(backend):
    """``e * e`` is the last read of ``e``: its scratch slot must be freed once, or two live
    values of a longer fused chain share one buffer (found by a Hypothesis thread test)."""
    a = np.random.default_rng(2).standard_normal((24, 6))
    x = nps.array(a, block_shape=(5, 4))

    def chain(m, v):
        e = m.exp(v * 0.1)
        e = e * e + 1.5
        return m.exp(m.where(e > 0, e, -e) * 0.1)

    assert_eq(chain(nps, x), chain(np, a), rtol=1e-12)
