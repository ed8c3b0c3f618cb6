"""Basic indexing and item assignment against NumPy, over every blocking and local executor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nums.numpy as nps
from tests.conftest import start
from tests.utils import BLOCKINGS, assert_eq, block_shape_for, record_kernel_names

S = slice
E = Ellipsis

SHAPES = {1: (10,), 2: (6, 7), 3: (4, 5, 6)}


def _data(shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    return (np.arange(int(np.prod(shape))) * 3 - 7).astype(dtype).reshape(shape)


def _make(a: np.ndarray, blocking: str):
    return nps.array(a, block_shape=block_shape_for(a.shape, blocking))


# Index cases: (ndim, index). Every kind of basic index on 1-D to 3-D arrays.
GETITEM_CASES = [
    # 1-D
    (1, 0), (1, 3), (1, -1), (1, -10), (1, 9), (1, np.int64(4)),
    (1, S(None)), (1, S(2, 8)), (1, S(None, None, 2)), (1, S(1, None, 3)),
    (1, S(None, None, -1)), (1, S(8, 1, -3)), (1, S(None, None, 7)), (1, S(None, None, -7)),
    (1, S(None, None, 11)), (1, S(5, 5)), (1, S(8, 2)), (1, S(2, 8, -1)), (1, S(-3, None)),
    (1, S(-100, 100)), (1, S(100, -100, -1)), (1, S(-2, -8, -2)), (1, None), (1, E),
    (1, (None, S(3, 0, -2), E)), (1, (E, 2)), (1, (S(1, None), None)), (1, (None, None)),
    (1, ()),
    # 2-D
    (2, 1), (2, -1), (2, (2, 1)), (2, (-1, -1)), (2, (0, -7)),
    (2, (S(1, None), S(None, None, 2))), (2, S(None, None, -1)), (2, (E, 2)),
    (2, (None, S(3, 0, -2), E)), (2, (S(None), 1)), (2, (S(None, None, -1), S(None, None, -2))),
    (2, (S(None, None, 5), S(6, None, -4))), (2, (S(2, 2), S(None))), (2, (S(None), S(3, 3))),
    (2, (None, None, 1)), (2, (1, None, S(None, None, 3))), (2, (E,)), (2, (E, None)),
    (2, (S(4, 1, -1), -3)), (2, (E, S(1, 6, 2), None)), (2, (S(-2, None), E)),
    # 3-D
    (3, (2, 1)), (3, (1, 2, 3)), (3, (E, 2)), (3, (S(None, None, -1), None, S(1, 4), -1)),
    (3, (1, E, S(None, None, 2))), (3, (S(None), S(None, None, -2), S(5, 0, -3))),
    (3, (None, 0, None, S(1, 3), None)), (3, (S(1, 3), S(1, 3), S(1, 3))), (3, (-1, -1)),
    (3, S(None, None, 3)), (3, (E, -1, S(None, None, -1))), (3, (S(3, 0, -1), E, 0)),
    (3, (S(None), S(2, 2), S(None))), (3, (-4, -5, -6)),
]


def _case_id(case) -> str:
    return f"{case[0]}d-{case[1]!r}"


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("case", GETITEM_CASES, ids=_case_id)
def test_getitem(backend, blocking, case):
    ndim, index = case
    a = _data(SHAPES[ndim])
    x = _make(a, blocking)
    assert_eq(x[index], a[index])
    # indexing does not change the source
    assert_eq(x, a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_getitem_int_dtype_and_0d(backend, blocking):
    a = _data((6, 7), np.int32)
    x = _make(a, blocking)
    r = x[2, 1]
    assert r.shape == ()
    assert_eq(r, a[2, 1])
    assert int(r) == int(a[2, 1])
    assert_eq(x[-1], a[-1])
    assert_eq(x[..., 2], a[..., 2])
    assert_eq(x[None, 3:0:-2, ...], a[None, 3:0:-2, ...])


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_getitem_chained(backend, blocking):
    a = _data((4, 5, 6))
    x = _make(a, blocking)
    assert_eq(x[1:][::-1][:, 2][..., ::2], a[1:][::-1][:, 2][..., ::2])
    assert_eq(x[::-2, None][1:, :, 3:0:-1], a[::-2, None][1:, :, 3:0:-1])
    assert_eq(x[3][4][5], a[3][4][5])


def test_getitem_bool_dtype(backend):
    a = np.array([True, False, True, True, False])
    x = nps.array(a, block_shape=(2,))
    assert_eq(x[::-2], a[::-2])
    assert_eq(x[1:4], a[1:4])


# -- item assignment ----------------------------------------------------------------------

SETITEM_CASES = [c for c in GETITEM_CASES]


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("case", SETITEM_CASES, ids=_case_id)
def test_setitem_scalar(backend, blocking, case):
    ndim, index = case
    a = _data(SHAPES[ndim])
    x = _make(a, blocking)
    a[index] = -1.5
    x[index] = -1.5
    assert_eq(x, a)


@pytest.mark.parametrize("kind", ["numpy", "list", "blockarray", "row", "ones"])
@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("case", SETITEM_CASES, ids=_case_id)
def test_setitem_array(backend, blocking, case, kind):
    ndim, index = case
    a = _data(SHAPES[ndim])
    x = _make(a, blocking)
    sel_shape = a[index].shape
    value = -(np.arange(int(np.prod(sel_shape))) + 100.0).reshape(sel_shape)
    if kind == "list" and value.size:
        value = value.tolist()
    elif kind == "blockarray":
        bs = tuple(max(1, (n + 1) // 2) for n in sel_shape)
        value = nps.array(value, block_shape=bs)
    elif kind == "row":  # broadcast along every axis but the last
        value = -(np.arange(sel_shape[-1]) + 100.0) if sel_shape else np.float64(-100.0)
    elif kind == "ones":  # broadcast a value of shape (1, ..., 1)
        value = np.full((1,) * len(sel_shape), -42.0)
    expected_value = value.get() if kind == "blockarray" else value
    a[index] = expected_value
    x[index] = value
    assert_eq(x, a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_setitem_examples(backend, blocking):
    a = _data((6, 8))
    x = _make(a, blocking)
    x[1:, ::2] = -1
    a[1:, ::2] = -1
    assert_eq(x, a)
    x[:, 1] = nps.arange(6, dtype=float)
    a[:, 1] = np.arange(6, dtype=float)
    assert_eq(x, a)
    row = np.linspace(0, 1, 8)
    x[0] = row
    a[0] = row
    assert_eq(x, a)
    x[0] = nps.array(row * 2, block_shape=(3,))
    a[0] = row * 2
    assert_eq(x, a)
    x[-1, ::-3] = [7.0, 8.0, 9.0]
    a[-1, ::-3] = [7.0, 8.0, 9.0]
    assert_eq(x, a)
    x[2:4] = nps.ones((1, 8))
    a[2:4] = np.ones((1, 8))
    assert_eq(x, a)
    x[...] = 5
    a[...] = 5
    assert_eq(x, a)
    x[3, 4] = -8.25
    a[3, 4] = -8.25
    assert_eq(x, a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_setitem_whole_blockarray_value(backend, blocking):
    a = _data((6, 7))
    x = _make(a, blocking)
    b = np.arange(42.0).reshape(6, 7) * -1
    x[...] = nps.array(b, block_shape=(4, 3))
    assert_eq(x, b)
    x[:] = nps.array(b[::-1], block_shape=(6, 7))
    assert_eq(x, b[::-1])


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_setitem_value_from_own_slice(backend, blocking):
    a = _data((6, 7))
    x = _make(a, blocking)
    x[1:] = x[:-1]
    a[1:] = a[:-1].copy()
    assert_eq(x, a)
    x[:, ::-1] = x
    a[:, ::-1] = a.copy()
    assert_eq(x, a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_setitem_leading_unit_dims_in_value(backend, blocking):
    # NumPy drops leading length-1 axes of the value: a[0] = ones((1, 7)) works.
    a = _data((6, 7))
    x = _make(a, blocking)
    a[0] = np.full((1, 7), 3.0)
    x[0] = np.full((1, 7), 3.0)
    assert_eq(x, a)
    a[2:4, 1] = np.full((1, 1, 2), 4.0)
    x[2:4, 1] = np.full((1, 1, 2), 4.0)
    assert_eq(x, a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_setitem_casts_like_numpy(backend, blocking):
    a = np.arange(10, dtype=np.int64)
    x = _make(a, blocking)
    x[1] = 2.7
    a[1] = 2.7
    x[2] = -2.7
    a[2] = -2.7
    x[3:6] = [1.9, -1.9, 3.5]
    a[3:6] = [1.9, -1.9, 3.5]
    x[6:] = nps.array(np.array([9.99, -0.5, 7.2, 8.8]), block_shape=(3,))
    a[6:] = np.array([9.99, -0.5, 7.2, 8.8])
    assert_eq(x, a)
    assert x.dtype == np.int64
    f = np.zeros((4, 3), dtype=np.float32)
    y = _make(f, blocking)
    y[1] = np.array([1, 2, 3], dtype=np.int64)
    f[1] = np.array([1, 2, 3], dtype=np.int64)
    y[2, 2] = True
    f[2, 2] = True
    y[3] = 1 / 3
    f[3] = 1 / 3
    assert_eq(y, f)
    b = np.zeros(5, dtype=bool)
    z = _make(b, blocking)
    z[::2] = 1
    b[::2] = 1
    assert_eq(z, b)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_setitem_0d_blockarray_value(backend, blocking):
    a = _data((6, 7))
    x = _make(a, blocking)
    x[1:3] = x[5, 6]
    a[1:3] = a[5, 6]
    assert_eq(x, a)
    x[:, -1] = x[0, 0]
    a[:, -1] = a[0, 0]
    assert_eq(x, a)


@pytest.mark.parametrize("value,exc", [(300, OverflowError), (np.nan, ValueError)])
def test_setitem_scalar_conversion_errors(backend, value, exc):
    dtype = np.uint8 if exc is OverflowError else np.int64
    a = np.arange(10, dtype=dtype)
    with pytest.raises(exc):
        a[0] = value
    x = nps.array(a, block_shape=(3,))
    with pytest.raises(exc):
        x[0] = value
    assert_eq(x, a)


def test_index_0d_array(backend):
    a = np.array(5.0)
    x = nps.array(a)
    assert_eq(x[()], a[()])
    assert_eq(x[...], a[...])
    assert_eq(x[None], a[None])
    assert_eq(x[None, ..., None], a[None, ..., None])
    x[()] = 3
    assert_eq(x, np.array(3.0))
    x[...] = -1
    assert_eq(x, np.array(-1.0))
    with pytest.raises(IndexError):
        x[0]


def test_index_empty_array(backend):
    a = np.zeros((0, 3))
    x = nps.array(a)
    assert_eq(x[:, 1], a[:, 1])
    assert_eq(x[::-1, None], a[::-1, None])
    assert_eq(x[..., 1:], a[..., 1:])
    x[:, 1] = 7
    assert_eq(x, a)
    with pytest.raises(IndexError):
        x[0]


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_slice_taken_before_assignment_keeps_old_values(backend, blocking):
    # Documented nums semantics (unlike a NumPy view): handles are values, not views.
    a = _data((6, 7))
    x = _make(a, blocking)
    y = x[0:2]
    z = x[:, ::-2]
    w = x.copy()
    x[0] = 9
    assert_eq(y, a[0:2])
    assert_eq(z, a[:, ::-2])
    assert_eq(w, a)
    expected = a.copy()
    expected[0] = 9
    assert_eq(x, expected)
    # a slice taken after the assignment sees it
    assert_eq(x[0:2], expected[0:2])


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_slice_of_persisted_keeps_old_values(backend, blocking):
    a = _data((10,))
    x = _make(a, blocking).persist()
    y = x[2:7].persist()
    x[:] = -3
    assert_eq(y, a[2:7])
    assert_eq(x, np.full(10, -3.0))


def test_aligned_slice_reuses_blocks(backend):
    x = nps.arange(16, block_shape=(4,))
    y = x[4:12]
    x.persist()
    y.persist()
    leaf = y._leaf()
    assert leaf.refs.shape == (2,)
    xrefs = x._leaf().refs
    assert leaf.refs[0] is xrefs[1]
    assert leaf.refs[1] is xrefs[2]
    assert_eq(y, np.arange(4, 12))


def test_aligned_slice_reuses_blocks_2d(backend):
    a = np.arange(64).reshape(8, 8)
    x = nps.array(a, block_shape=(4, 4))
    y = x[4:8, :4]
    x.persist()
    y.persist()
    assert y._leaf().refs[0, 0] is x._leaf().refs[1, 0]
    assert_eq(y, a[4:8, :4])


def test_assignment_reuses_untouched_blocks(backend):
    x = nps.arange(16, block_shape=(4,)).persist()
    before = list(x._leaf().refs)
    x[1] = 100
    after = x._leaf().refs
    assert after[0] is not before[0]
    for i in (1, 2, 3):
        assert after[i] is before[i]
    expected = np.arange(16)
    expected[1] = 100
    assert_eq(x, expected)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_iteration_and_len(backend, blocking):
    a = _data((5, 3))
    x = _make(a, blocking)
    assert len(x) == 5
    rows = list(x)
    assert len(rows) == 5
    for row, expected in zip(rows, a):
        assert_eq(row, expected)
    v = _make(_data((7,)), blocking)
    assert len(v) == 7
    assert [float(e) for e in v] == _data((7,)).tolist()
    s = x[1, 1]
    with pytest.raises(TypeError):
        len(s)
    with pytest.raises(TypeError):
        iter(s).__next__()


# -- errors -------------------------------------------------------------------------------

GETITEM_ERRORS = [
    ((10,), 10, IndexError),
    ((10,), -11, IndexError),
    ((6, 7), (0, 7), IndexError),
    ((6, 7), (-7, 0), IndexError),
    ((10,), (0, 0), IndexError),
    ((6, 7), (1, 2, 3), IndexError),
    ((6, 7), (E, 1, 2, 3), IndexError),
    ((6, 7), (E, E), IndexError),
    ((10,), 1.0, IndexError),
    ((6, 7), (1, 2.0), IndexError),
    ((10,), "a", IndexError),
    ((10,), S(None, None, 0), ValueError),
]


@pytest.mark.parametrize("shape,index,exc", GETITEM_ERRORS,
                         ids=[repr(c[1]) for c in GETITEM_ERRORS])
def test_getitem_errors(backend, shape, index, exc):
    a = _data(shape)
    with pytest.raises(exc):
        a[index]
    x = _make(a, "ragged")
    with pytest.raises(exc):
        x[index]


@pytest.mark.parametrize("shape,index,exc", GETITEM_ERRORS,
                         ids=[repr(c[1]) for c in GETITEM_ERRORS])
def test_setitem_index_errors(backend, shape, index, exc):
    a = _data(shape)
    with pytest.raises(exc):
        a[index] = 1
    x = _make(a, "ragged")
    with pytest.raises(exc):
        x[index] = 1
    assert_eq(x, a)


SETITEM_VALUE_ERRORS = [
    ((6, 8), (S(1, None), S(None, None, 2)), np.ones(3), ValueError),
    ((6, 8), 0, np.ones(7), ValueError),
    ((6, 8), 0, [1.0, 2.0], ValueError),
    ((6, 8), (S(None), 1), np.ones((6, 2)), ValueError),
    ((6, 8), (2, 3), np.ones(2), ValueError),
    ((6, 8), S(None), np.ones((2, 6, 8)), ValueError),
    ((10,), S(2, 5), np.ones((3, 1)), ValueError),
    ((10,), S(5, 2), np.ones(2), ValueError),
    ((10,), 3, 1j, TypeError),
    ((10,), S(None), 2 + 3j, TypeError),
]


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("shape,index,value,exc", SETITEM_VALUE_ERRORS,
                         ids=[f"{c[1]!r}={np.shape(c[2])}" for c in SETITEM_VALUE_ERRORS])
def test_setitem_value_errors(backend, blocking, shape, index, value, exc):
    a = _data(shape)
    with pytest.raises(exc):
        a[index] = value
    x = _make(a, blocking)
    with pytest.raises(exc):
        x[index] = value
    # a failed assignment leaves the array unchanged
    assert_eq(x, a)


def test_setitem_blockarray_value_mismatch(backend):
    x = nps.zeros((6, 8), block_shape=(4, 3))
    with pytest.raises(ValueError):
        x[1:, ::2] = nps.ones(3)
    with pytest.raises(ValueError):
        x[:, 1] = nps.arange(5)
    assert_eq(x, np.zeros((6, 8)))


def test_setitem_complex_into_complex_ok(backend):
    a = np.zeros(5, dtype=np.complex128)
    x = nps.array(a, block_shape=(2,))
    x[1:4] = 1j
    a[1:4] = 1j
    assert_eq(x, a)


# -- property tests -----------------------------------------------------------------------

@st.composite
def _indexed_array(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    block = tuple(draw(st.integers(1, n)) for n in shape)
    n_used = draw(st.integers(0, ndim))
    use_ellipsis = draw(st.booleans())
    # items before an ellipsis index the leading axes, items after it the trailing ones
    split = draw(st.integers(0, n_used)) if use_ellipsis else n_used
    axes = list(range(split)) + list(range(ndim - (n_used - split), ndim))
    items: list = []
    for axis in axes:
        n = shape[axis]
        if draw(st.booleans()):
            items.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
            step = st.one_of(st.none(), st.integers(-4, 4).filter(bool))
            items.append(slice(draw(bound), draw(bound), draw(step)))
    if use_ellipsis:
        items.insert(split, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    index = tuple(items) if len(items) != 1 or draw(st.booleans()) else items[0]
    return shape, block, index


@settings(deadline=None, max_examples=50)
@given(_indexed_array())
def test_property_getitem(params):
    start("serial")
    shape, block, index = params
    a = _data(shape)
    x = nps.array(a, block_shape=block)
    assert_eq(x[index], a[index])


@settings(deadline=None, max_examples=50)
@given(_indexed_array(), st.booleans())
def test_property_setitem(params, array_value):
    start("serial")
    shape, block, index = params
    a = _data(shape)
    x = nps.array(a, block_shape=block)
    if array_value:
        sel = a[index].shape
        value = -(np.arange(int(np.prod(sel))) + 1.0).reshape(sel)
    else:
        value = -123.0
    a[index] = value
    x[index] = value
    assert_eq(x, a)


# -- new axes are views -------------------------------------------------------------------

NEW_AXIS_INDEXES = [
    (slice(None), None), (None,), (Ellipsis, None), (None, slice(None), None),
    (None, Ellipsis), (slice(None), None, slice(None)), (np.newaxis, slice(None), slice(None)),
]


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("index", NEW_AXIS_INDEXES, ids=repr)
def test_new_axes_against_numpy(backend, blocking, index):
    a = np.arange(35.0).reshape(5, 7)
    x = nps.array(a, block_shape=block_shape_for(a.shape, blocking))
    v = np.arange(5.0) - 2
    y = nps.array(v, block_shape=block_shape_for(v.shape, blocking))
    if len([i for i in index if i is not None and i is not Ellipsis]) <= 1:
        assert_eq(y[index], v[index])
        assert_eq((y * 2 + 1)[index], (v * 2 + 1)[index])  # pushed through the Map
    assert_eq(x[index], a[index])
    assert_eq((nps.exp(x) - x)[index], (np.exp(a) - a)[index])
    assert_eq(x[index].T, a[index].T)
    assert_eq(x[index].sum(axis=0), a[index].sum(axis=0))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_broadcasting_through_new_axes(backend, blocking):
    a = np.arange(35.0).reshape(5, 7)
    x = nps.array(a, block_shape=block_shape_for(a.shape, blocking))
    rows, cols = a.mean(axis=1), a.std(axis=0)
    assert_eq(x * x.mean(axis=1)[:, None], a * rows[:, None])
    assert_eq(x - x.std(axis=0)[None, :], a - cols[None, :])
    assert_eq(x.mean(axis=1)[:, None] @ x.std(axis=0)[None, :], rows[:, None] @ cols[None, :])
    assert_eq(nps.expand_dims(x, (0, 3)), np.expand_dims(a, (0, 3)))
    z = x[:, None]
    z[1:3] = -1.0  # a view result is an array of its own
    b = a[:, None].copy()
    b[1:3] = -1.0
    assert_eq(z, b)
    assert_eq(x, a)


def test_new_axis_view_makes_no_task(monkeypatch):
    import nums

    nums.shutdown()
    try:
        session = nums.init(backend="local", workers=2, testing=True)
        a = np.arange(200.0).reshape(50, 4)
        x = nps.array(a, block_shape=(10, 4)).persist()
        s = nps.array(a[:, 0], block_shape=(10,)).persist()
        names = record_kernel_names(session, monkeypatch)
        assert_eq(x * s[:, None], a * a[:, :1])
        assert names == ["fused_map"] * x.grid_shape[0]  # one fused kernel per block
    finally:
        monkeypatch.undo()
        nums.shutdown()
