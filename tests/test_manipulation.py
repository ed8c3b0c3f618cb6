"""Shape manipulation and joining against NumPy, over every blocking and local executor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.exceptions import AxisError

import nums.numpy as nps
from tests.conftest import start
from tests.utils import BLOCKINGS, assert_eq, block_shape_for


def _data(shape, dtype=np.float64) -> np.ndarray:
    return (np.arange(int(np.prod(shape))) * 2 - 5).astype(dtype).reshape(shape)


def _make(a: np.ndarray, blocking: str):
    return nps.array(a, block_shape=block_shape_for(a.shape, blocking))


# -- reshape ------------------------------------------------------------------------------

RESHAPES = [
    ((12,), (3, 4)),
    ((3, 4), (12,)),
    ((3, 4), (-1,)),
    ((6, 4), (3, 8)),
    ((6, 4), (8, 3)),
    ((2, 3, 4), (4, 6)),
    ((4, 6), (2, 3, 4)),
    ((2, 3, 4), (-1,)),
    ((2, 3, 4), (6, -1)),
    ((2, 3, 4), (-1, 4)),
    ((2, 3, 4), (2, 12)),
    ((2, 3, 4), (3, 2, 4)),
    ((2, 3, 4), (4, 3, 2)),
    ((24,), (2, 3, 4)),
    ((6, 4), (1, 6, 1, 4)),
    ((1, 6, 1, 4), (6, 4)),
    ((6, 4), (24, 1)),
    ((6, 4), (1, 24)),
    ((6, 4), (6, 1, 4)),
    ((5, 7), (7, 5)),
    ((9, 10), (3, 30)),
    ((9, 10), (10, 9)),
    ((9, 10), (90,)),
    ((10, 9), (2, 5, 9)),
    ((1,), ()),
    ((1, 1), ()),
    ((), (1, 1)),
    ((), (-1,)),
    ((0, 4), (4, 0)),
    ((0, 4), (-1, 2)),
]


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("src,dst", RESHAPES, ids=[f"{s}->{d}" for s, d in RESHAPES])
def test_reshape(backend, blocking, src, dst):
    a = _data(src)
    x = _make(a, blocking)
    assert_eq(x.reshape(dst), a.reshape(dst))
    assert_eq(nps.reshape(x, dst), np.reshape(a, dst))
    # the source is unchanged
    assert_eq(x, a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_reshape_forms(backend, blocking):
    a = _data((6, 4), np.int32)
    x = _make(a, blocking)
    assert_eq(x.reshape(3, 8), a.reshape(3, 8))
    assert_eq(x.reshape([2, -1]), a.reshape([2, -1]))
    assert_eq(x.reshape(-1), a.reshape(-1))
    assert_eq(x.reshape(24), a.reshape(24))
    assert_eq(nps.reshape(x, 24), np.reshape(a, 24))
    assert_eq(nps.reshape(a, (4, 6)), np.reshape(a, (4, 6)))
    # to 1-D and back
    assert_eq(x.reshape(-1).reshape(6, 4), a)
    assert_eq(x.reshape(2, 3, 4).reshape(4, 6).reshape(6, 4), a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_reshape_of_transposed_and_sliced(backend, blocking):
    a = _data((6, 4))
    x = _make(a, blocking)
    assert_eq(x.T.reshape(3, 8), a.T.reshape(3, 8))
    assert_eq(x[::-1, 1:].reshape(-1), a[::-1, 1:].reshape(-1))
    assert_eq(x[1:5].reshape(2, 2, 4), a[1:5].reshape(2, 2, 4))


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("block_shape", [(3, 2), (1, 8), (4, 5), (24, 24)])
def test_reshape_with_block_shape(backend, blocking, block_shape):
    a = _data((6, 4))
    x = _make(a, blocking)
    y = x.reshape((3, 8), block_shape=block_shape)
    expected_bs = tuple(min(b, n) for b, n in zip(block_shape, (3, 8)))
    assert y.block_shape == expected_bs
    assert_eq(y, a.reshape(3, 8))
    z = nps.reshape(x, (4, 6), block_shape=block_shape)
    assert z.block_shape == tuple(min(b, n) for b, n in zip(block_shape, (4, 6)))
    assert_eq(z, a.reshape(4, 6))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_reblock_only(backend, blocking):
    a = _data((6, 4))
    x = _make(a, blocking)
    y = x.reshape(x.shape, block_shape=(3, 2))
    assert y.block_shape == (3, 2)
    assert y.grid.chunks == ((3, 3), (2, 2))
    assert_eq(y, a)
    z = x.reshape(x.shape, block_shape=(4, 3))
    assert z.grid.chunks == ((4, 2), (3, 1))
    assert_eq(z, a)
    w = x.rechunk((5, 1))
    assert w.grid.chunks == ((5, 1), (1, 1, 1, 1))
    assert_eq(w, a)
    # the source keeps its own blocks
    assert x.block_shape == block_shape_for(a.shape, blocking)


def test_reshape_errors(backend):
    x = nps.array(_data((2, 3, 4)), block_shape=(1, 2, 3))
    a = _data((2, 3, 4))
    for shape in [(5, 5), (-1, -1), (7, -1), (25,), (2, 3, 5), (0, -1)]:
        with pytest.raises(ValueError):
            a.reshape(shape)
        with pytest.raises(ValueError):
            x.reshape(shape)
        with pytest.raises(ValueError):
            nps.reshape(x, shape)


# -- re-blocking: NumS's x.reshape(block_shape=...) -------------------------------------------

REBLOCK_SHAPES = [(10,), (6, 4), (7, 5), (2, 3, 5), (1, 9), (0, 4)]


def _grid_of_new_array(a: np.ndarray, block_shape):
    """The blocks a creation function gives ``a`` for ``block_shape`` (the oracle)."""
    return nps.array(a, block_shape=block_shape).grid


def _check_grid(y, a: np.ndarray, block_shape) -> None:
    want = _grid_of_new_array(a, block_shape)
    assert y.grid.chunks == want.chunks
    assert y.block_shape == want.block_shape
    assert y.grid_shape == want.grid_shape
    # what was asked, where the block fits the axis
    for n, b, got, g in zip(a.shape, block_shape, y.block_shape, y.grid_shape):
        if 0 < b <= n:
            assert got == b
            assert g == -(-n // b)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("target", BLOCKINGS)
@pytest.mark.parametrize("shape", REBLOCK_SHAPES, ids=str)
def test_reshape_block_shape_only(backend, blocking, target, shape):
    a = _data(shape)
    x = _make(a, blocking)
    before = x.grid.chunks
    bs = block_shape_for(shape, target)
    for y in (x.reshape(block_shape=bs), x.reshape(None, block_shape=bs),
              x.reshape(block_shape=list(bs)), nps.reshape(x, None, block_shape=bs),
              x.rechunk(bs)):
        assert y.shape == a.shape
        _check_grid(y, a, bs)
        assert_eq(y, a)
    # the source keeps its blocks and values
    assert x.grid.chunks == before
    assert_eq(x, a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("block_shape", [(6, 4), (3, 2), (4, 3), (1, 1), (5, 1), (1, 4)])
def test_reshape_block_shape_only_exact(backend, blocking, block_shape):
    a = _data((6, 4), np.int32)
    x = _make(a, blocking)
    y = x.reshape(block_shape=block_shape)
    assert y.block_shape == block_shape
    assert y.grid_shape == (-(-6 // block_shape[0]), -(-4 // block_shape[1]))
    assert_eq(y, a)
    # re-blocking again, or back, keeps the values
    assert_eq(y.reshape(block_shape=x.block_shape), a)
    assert y.reshape(block_shape=x.block_shape).grid.chunks == x.grid.chunks


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("target", BLOCKINGS)
@pytest.mark.parametrize("src,dst", [((6, 4), (3, 8)), ((6, 4), (4, 6)), ((2, 3, 4), (4, 6)),
                                     ((4, 6), (2, 3, 4)), ((12,), (3, 4)), ((3, 4), (12,)),
                                     ((6, 4), (6, 1, 4)), ((9, 10), (10, 9)),
                                     ((9, 10), (3, -1))], ids=str)
def test_reshape_and_block_shape(backend, blocking, target, src, dst):
    a = _data(src)
    expected = a.reshape(dst)
    x = _make(a, blocking)
    bs = block_shape_for(expected.shape, target)
    forms = [x.reshape(dst, block_shape=bs), x.reshape(*dst, block_shape=bs),
             x.reshape(shape=dst, block_shape=bs), nps.reshape(x, dst, block_shape=bs),
             nps.reshape(a, dst, block_shape=bs)]
    for y in forms:
        _check_grid(y, expected, bs)
        assert_eq(y, expected)
    assert_eq(x, a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_reshape_block_shape_of_deferred_views(backend, blocking):
    a = _data((6, 4))
    x = _make(a, blocking)
    # not yet computed: an elementwise chain, a transpose, a slice
    for y, expected in [(x * 2 + 1, a * 2 + 1), (x.T, a.T), (x[1:5, ::-1], a[1:5, ::-1])]:
        bs = block_shape_for(expected.shape, "ragged")
        z = y.reshape(block_shape=bs)
        _check_grid(z, expected, bs)
        assert_eq(z, expected)
        w = y.reshape(-1, block_shape=(5,))
        assert w.block_shape == (5,)
        assert_eq(w, expected.reshape(-1))


def test_reshape_block_shape_scalar_and_int(backend):
    x = nps.array(np.float64(3.5))
    y = x.reshape(block_shape=())
    assert y.block_shape == () and y.grid_shape == ()
    assert_eq(y, np.float64(3.5))
    a = _data((10,))
    z = nps.array(a, block_shape=(4,)).reshape(block_shape=3)  # an int for 1-D, as creation
    assert z.block_shape == (3,) and z.grid_shape == (4,)
    assert_eq(z, a)
    # larger than the axis: cut to the axis, as creation functions do
    big = nps.array(a, block_shape=(4,)).reshape(block_shape=(100,))
    assert big.block_shape == (10,) and big.grid_shape == (1,)
    assert_eq(big, a)


def test_reshape_block_shape_errors(backend):
    a = _data((6, 4))
    x = nps.array(a, block_shape=(4, 3))
    bad = [(2,), (2, 2, 2), (), (0, 2), (2, 0), (-1, 2), (2, -3)]
    for bs in bad:
        with pytest.raises(ValueError, match="block_shape"):
            x.reshape(block_shape=bs)
        with pytest.raises(ValueError, match="block_shape"):
            x.rechunk(bs)
        with pytest.raises(ValueError, match="block_shape"):
            nps.reshape(x, None, block_shape=bs)
        # creation functions reject the same block shapes
        with pytest.raises(ValueError, match="block_shape"):
            nps.array(a, block_shape=bs)
    # checked against the new shape, not the old one
    with pytest.raises(ValueError, match="block_shape"):
        x.reshape((3, 8), block_shape=(2, 2, 2))
    with pytest.raises(ValueError, match="block_shape"):
        nps.reshape(x, 24, block_shape=(2, 2))
    with pytest.raises(ValueError, match="block_shape"):
        x.reshape(24, block_shape=(0,))
    # a bad shape is NumPy's error, whatever the block shape
    with pytest.raises(ValueError, match="cannot reshape"):
        x.reshape((5, 5), block_shape=(2, 2))
    # call forms NumPy rejects, and a shape given twice
    with pytest.raises(TypeError):
        x.reshape()
    with pytest.raises(TypeError, match="block_shape"):
        x.reshape((6, 4), (2, 2))
    with pytest.raises(TypeError):
        x.reshape((6, 4), shape=(6, 4))
    with pytest.raises(TypeError):
        nps.reshape(x, (6, 4), newshape=(6, 4))
    with pytest.raises(TypeError):
        x.rechunk(None)
    with pytest.raises(NotImplementedError):
        x.reshape(block_shape=(2, 2), order="F")
    # nothing changed the source
    assert x.grid.chunks == ((4, 2), (3, 1))
    assert_eq(x, a)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_ravel_flatten(backend, blocking):
    for shape in [(10,), (6, 4), (2, 3, 5), (3, 1, 4)]:
        a = _data(shape)
        x = _make(a, blocking)
        assert_eq(x.ravel(), a.ravel())
        assert_eq(x.flatten(), a.flatten())
        assert_eq(nps.ravel(x), np.ravel(a))
        assert_eq(x.T.ravel(), a.T.ravel())


def test_flatten_is_independent_copy(backend):
    a = _data((3, 4))
    x = nps.array(a, block_shape=(2, 3))
    f = x.flatten()
    x[0] = 100
    assert_eq(f, a.ravel())
    f[1] = -3
    b = a.copy()
    b[0] = 100
    assert_eq(x, b)


# -- expand_dims / squeeze ----------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3, (0, 2), (0, -1), (1, 3), (-1, -2)])
def test_expand_dims(backend, blocking, axis):
    a = _data((6, 5))
    x = _make(a, blocking)
    assert_eq(nps.expand_dims(x, axis), np.expand_dims(a, axis))


def test_expand_dims_errors(backend):
    a = _data((6, 5))
    x = nps.array(a, block_shape=(4, 2))
    for axis in [3, -4, (0, 4)]:
        with pytest.raises(AxisError):
            np.expand_dims(a, axis)
        with pytest.raises(AxisError):
            nps.expand_dims(x, axis)
    with pytest.raises(ValueError):
        np.expand_dims(a, (0, 0))
    with pytest.raises(ValueError):
        nps.expand_dims(x, (0, 0))


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("axis", [None, 0, 2, -1, -3, (0, 2), (0, 2, 4), (-5, -1)])
def test_squeeze(backend, blocking, axis):
    a = _data((1, 4, 1, 3, 1))
    x = _make(a, blocking)
    assert_eq(nps.squeeze(x, axis), np.squeeze(a, axis))
    assert_eq(x.squeeze(axis), a.squeeze(axis))


def test_squeeze_all_ones_and_noop(backend):
    a = _data((1, 1))
    assert_eq(nps.squeeze(nps.array(a)), np.squeeze(a))
    b = _data((3, 4))
    assert_eq(nps.squeeze(nps.array(b, block_shape=(2, 3))), np.squeeze(b))


def test_squeeze_errors(backend):
    a = _data((1, 4, 1, 3))
    x = nps.array(a, block_shape=(1, 3, 1, 2))
    for axis in [1, (0, 1), -1]:
        with pytest.raises(ValueError):
            np.squeeze(a, axis)
        with pytest.raises(ValueError):
            nps.squeeze(x, axis)
        with pytest.raises(ValueError):
            x.squeeze(axis)
    for axis in [4, -5]:
        with pytest.raises(AxisError):
            np.squeeze(a, axis)
        with pytest.raises(AxisError):
            nps.squeeze(x, axis)


# -- transpose / swapaxes / moveaxis ------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("axes", [None, (0, 1, 2), (1, 0, 2), (2, 0, 1), (0, 2, 1), (-1, 0, -2)])
def test_transpose(backend, blocking, axes):
    a = _data((3, 4, 5))
    x = _make(a, blocking)
    assert_eq(nps.transpose(x, axes), np.transpose(a, axes))
    assert_eq(x.transpose(axes), a.transpose(axes))
    if axes is not None:
        assert_eq(x.transpose(*axes), a.transpose(*axes))
        assert_eq(x.transpose(list(axes)), a.transpose(list(axes)))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_T_and_transpose_default(backend, blocking):
    for shape in [(7,), (6, 5), (2, 3, 4)]:
        a = _data(shape)
        x = _make(a, blocking)
        assert_eq(x.T, a.T)
        assert_eq(x.transpose(), a.transpose())
        assert_eq(x.T.T, a)
    s = nps.array(np.float64(3.0))
    assert_eq(s.T, np.array(3.0))


def test_transpose_errors(backend):
    a = _data((2, 3))
    x = nps.array(a, block_shape=(1, 2))
    with pytest.raises(ValueError):
        a.transpose(0, 1, 2)
    with pytest.raises(ValueError):
        x.transpose(0, 1, 2)
    with pytest.raises(ValueError):
        nps.transpose(x, (0, 0))
    with pytest.raises(AxisError):
        nps.transpose(x, (0, 2))
    with pytest.raises(ValueError):
        nps.transpose(x, (0,))


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("a1,a2", [(0, 2), (2, 0), (-1, 0), (1, 1), (1, -1)])
def test_swapaxes(backend, blocking, a1, a2):
    a = _data((3, 4, 5))
    x = _make(a, blocking)
    assert_eq(nps.swapaxes(x, a1, a2), np.swapaxes(a, a1, a2))
    assert_eq(x.swapaxes(a1, a2), a.swapaxes(a1, a2))


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("src,dst", [(0, -1), (-1, 0), (1, 2), ([0, 1], [-1, -2]),
                                     ((0, 2), (2, 0)), ([2], [0]), ((0, 1, 2), (2, 1, 0))])
def test_moveaxis(backend, blocking, src, dst):
    a = _data((3, 4, 5))
    x = _make(a, blocking)
    assert_eq(nps.moveaxis(x, src, dst), np.moveaxis(a, src, dst))


def test_axis_errors(backend):
    a = _data((3, 4, 5))
    x = nps.array(a, block_shape=(2, 3, 4))
    with pytest.raises(AxisError):
        np.swapaxes(a, 0, 3)
    with pytest.raises(AxisError):
        nps.swapaxes(x, 0, 3)
    with pytest.raises(AxisError):
        nps.swapaxes(x, -4, 0)
    with pytest.raises(AxisError):
        np.moveaxis(a, 3, 0)
    with pytest.raises(AxisError):
        nps.moveaxis(x, 3, 0)
    with pytest.raises(AxisError):
        nps.moveaxis(x, 0, -4)
    with pytest.raises(ValueError):
        np.moveaxis(a, [0, 1], [0])
    with pytest.raises(ValueError):
        nps.moveaxis(x, [0, 1], [0])
    with pytest.raises(ValueError):
        nps.moveaxis(x, [0, 0], [1, 2])


# -- joining ------------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("axis", [0, 1, -1, -2, None])
def test_concatenate(backend, blocking, axis):
    shapes = {0: [(4, 6), (3, 6), (5, 6)], 1: [(4, 6), (4, 2), (4, 5)], None: [(4, 6), (3, 5),
                                                                                (2,)]}
    key = None if axis is None else axis % 2
    arrays = [_data(s) + k for k, s in enumerate(shapes[key])]
    xs = [nps.array(a, block_shape=block_shape_for(a.shape, blocking)) for a in arrays]
    assert_eq(nps.concatenate(xs, axis=axis), np.concatenate(arrays, axis=axis))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_concatenate_different_block_shapes(backend, blocking):
    a = _data((6, 7))
    b = _data((5, 7)) * -1
    c = _data((6, 3)) + 0.5
    x = _make(a, blocking)
    y = nps.array(b, block_shape=(2, 3))
    z = nps.array(c, block_shape=(4, 1))
    assert_eq(nps.concatenate([x, y], axis=0), np.concatenate([a, b], axis=0))
    assert_eq(nps.concatenate([y, x], axis=0), np.concatenate([b, a], axis=0))
    assert_eq(nps.concatenate([x, z], axis=1), np.concatenate([a, c], axis=1))
    assert_eq(nps.concatenate([z, x, z], axis=-1), np.concatenate([c, a, c], axis=-1))
    assert_eq(nps.concatenate([x, b], axis=0), np.concatenate([a, b], axis=0))
    assert_eq(nps.concatenate([x]), np.concatenate([a]))
    assert_eq(nps.concatenate((x[::-1], x[1:3]), axis=0), np.concatenate((a[::-1], a[1:3])))


def test_concatenate_empty_and_list_inputs(backend):
    a = _data((3, 4))
    x = nps.array(a, block_shape=(2, 3))
    e0, e1 = np.zeros((0, 4)), np.zeros((3, 0))
    assert_eq(nps.concatenate([x, nps.array(e0)]), np.concatenate([a, e0]))
    assert_eq(nps.concatenate([nps.array(e0), x]), np.concatenate([e0, a]))
    assert_eq(nps.concatenate([nps.array(e1), x], axis=1), np.concatenate([e1, a], axis=1))
    assert_eq(nps.concatenate([nps.array(e0), nps.array(e0)]), np.concatenate([e0, e0]))
    assert_eq(nps.concatenate([[1, 2], [3]]), np.concatenate([[1, 2], [3]]))
    assert_eq(nps.concatenate([x, np.arange(3)], axis=None),
              np.concatenate([a, np.arange(3)], axis=None))
    assert_eq(nps.stack([nps.arange(3), nps.arange(3.0)]), np.stack([np.arange(3),
                                                                      np.arange(3.0)]))


@pytest.mark.parametrize("dtypes", [(np.int32, np.float32), (np.int64, np.float32),
                                    (np.int8, np.uint8), (np.bool_, np.int16),
                                    (np.float32, np.complex64), (np.uint16, np.int32, np.bool_)])
def test_concatenate_mixed_dtypes(backend, dtypes):
    arrays = [_data((3, 4)).astype(dt) for dt in dtypes]
    xs = [nps.array(a, block_shape=(2, 3)) for a in arrays]
    expected = np.concatenate(arrays, axis=1)
    result = nps.concatenate(xs, axis=1)
    assert result.dtype == expected.dtype
    assert_eq(result, expected)
    target = np.complex128 if expected.dtype.kind == "c" else np.float64
    assert_eq(nps.concatenate(xs, axis=0, dtype=target),
              np.concatenate(arrays, axis=0, dtype=target))


def test_concatenate_dtype_casting_rule(backend):
    # NumPy's concatenate casts with casting="same_kind": float -> int is a TypeError.
    a = np.arange(4.0)
    x = nps.array(a, block_shape=(3,))
    with pytest.raises(TypeError):
        np.concatenate([a, a], dtype=np.int64)
    with pytest.raises(TypeError):
        nps.concatenate([x, x], dtype=np.int64)
    c = a.astype(np.complex64)
    with pytest.raises(TypeError):
        np.concatenate([c, c], dtype=np.float64)
    with pytest.raises(TypeError):
        nps.concatenate([nps.array(c), nps.array(c)], dtype=np.float64)
    # same-kind downcasts are allowed
    assert_eq(nps.concatenate([x, x], dtype=np.float32),
              np.concatenate([a, a], dtype=np.float32))


def test_concatenate_errors(backend):
    a, b = _data((3, 4)), _data((3, 5))
    x, y = nps.array(a, block_shape=(2, 2)), nps.array(b, block_shape=(2, 2))
    with pytest.raises(ValueError):
        np.concatenate([a, b], axis=0)
    with pytest.raises(ValueError):
        nps.concatenate([x, y], axis=0)
    with pytest.raises(ValueError):
        nps.concatenate([x, nps.ones(4)], axis=0)
    with pytest.raises(ValueError):
        nps.concatenate([nps.array(1.0), nps.array(2.0)])
    with pytest.raises(ValueError):
        nps.concatenate([])
    for axis in [2, -3]:
        with pytest.raises(AxisError):
            np.concatenate([a, a], axis=axis)
        with pytest.raises(AxisError):
            nps.concatenate([x, x], axis=axis)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_stack(backend, blocking, axis):
    arrays = [_data((4, 5)) + k for k in range(3)]
    xs = [_make(arrays[0], blocking), nps.array(arrays[1], block_shape=(3, 2)), arrays[2]]
    assert_eq(nps.stack(xs, axis=axis), np.stack(arrays, axis=axis))


def test_stack_1d_and_errors(backend):
    a, b = np.arange(5.0), np.arange(5.0) * 2
    x, y = nps.array(a, block_shape=(2,)), nps.array(b, block_shape=(3,))
    assert_eq(nps.stack([x, y]), np.stack([a, b]))
    assert_eq(nps.stack([x, y], axis=1), np.stack([a, b], axis=1))
    assert_eq(nps.stack([nps.array(1.0), nps.array(2.0)]), np.stack([1.0, 2.0]))
    with pytest.raises(ValueError):
        np.stack([a, np.arange(4.0)])
    with pytest.raises(ValueError):
        nps.stack([x, nps.arange(4.0)])
    with pytest.raises(AxisError):
        np.stack([a, b], axis=2)
    with pytest.raises(AxisError):
        nps.stack([x, y], axis=2)
    with pytest.raises(AxisError):
        nps.stack([x, y], axis=-3)
    with pytest.raises(ValueError):
        nps.stack([])


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_hstack_vstack_dstack(backend, blocking):
    v1, v2 = np.arange(5.0), np.arange(5.0) + 10
    m1, m2 = _data((4, 3)), _data((4, 2)) * -1
    r1, r2 = _data((2, 3)), _data((3, 3)) + 1
    bv1, bv2 = _make(v1, blocking), nps.array(v2, block_shape=(2,))
    bm1, bm2 = _make(m1, blocking), nps.array(m2, block_shape=(3, 1))
    br1, br2 = _make(r1, blocking), nps.array(r2, block_shape=(2, 2))
    assert_eq(nps.hstack([bv1, bv2]), np.hstack([v1, v2]))
    assert_eq(nps.hstack([bm1, bm2]), np.hstack([m1, m2]))
    assert_eq(nps.hstack((bm1, m2, bm1)), np.hstack((m1, m2, m1)))
    assert_eq(nps.vstack([bv1, bv2]), np.vstack([v1, v2]))
    assert_eq(nps.vstack([br1, br2]), np.vstack([r1, r2]))
    assert_eq(nps.vstack([br1, bv1[:3]]), np.vstack([r1, v1[:3]]))
    assert_eq(nps.dstack([bv1, bv2]), np.dstack([v1, v2]))
    assert_eq(nps.dstack([bm1, bm1 * 2]), np.dstack([m1, m1 * 2]))
    with pytest.raises(ValueError):
        nps.vstack([bv1, nps.arange(3.0)])
    with pytest.raises(ValueError):
        nps.hstack([bm1, br1])


def test_hstack_scalars(backend):
    assert_eq(nps.hstack([nps.array(1.0), nps.array(2.0)]), np.hstack([1.0, 2.0]))
    assert_eq(nps.vstack([nps.array(1.0), nps.array(2.0)]), np.vstack([1.0, 2.0]))


# -- broadcast_to, atleast_nd, astype, copy -----------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("src,dst", [((3,), (4, 3)), ((4, 1), (4, 5)), ((), (2, 3)),
                                     ((1,), (6,)), ((1, 3), (2, 5, 3)), ((3,), 3),
                                     ((2, 3), (2, 3)), ((1, 4), (0, 4))])
def test_broadcast_to(backend, blocking, src, dst):
    a = _data(src)
    x = _make(a, blocking)
    assert_eq(nps.broadcast_to(x, dst), np.broadcast_to(a, dst))


def test_broadcast_to_errors(backend):
    a = _data((3,))
    x = nps.array(a, block_shape=(2,))
    for shape in [(4, 2), (2,), (3, 1)]:
        with pytest.raises(ValueError):
            np.broadcast_to(a, shape)
        with pytest.raises(ValueError):
            nps.broadcast_to(x, shape)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)])
def test_atleast_nd(backend, shape):
    a = _data(shape)
    x = nps.array(a, block_shape=tuple(max(1, n // 2) for n in shape))
    assert_eq(nps.atleast_1d(x), np.atleast_1d(a))
    assert_eq(nps.atleast_2d(x), np.atleast_2d(a))
    assert_eq(nps.atleast_3d(x), np.atleast_3d(a))


def test_atleast_nd_several_inputs(backend):
    arrays = [np.array(2.0), np.arange(3.0), _data((2, 2))]
    xs = [nps.array(a) for a in arrays]
    for ours, theirs in [(nps.atleast_1d, np.atleast_1d), (nps.atleast_2d, np.atleast_2d),
                         (nps.atleast_3d, np.atleast_3d)]:
        got, want = ours(*xs), theirs(*arrays)
        assert len(got) == len(want) == 3
        for g, w in zip(got, want):
            assert_eq(g, w)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("src,dst", [(np.float64, np.int64), (np.float64, np.int8),
                                     (np.int64, np.float32), (np.float64, np.bool_),
                                     (np.int32, np.complex128), (np.bool_, np.float64),
                                     (np.float64, np.uint8), (np.float32, np.float64)])
def test_astype(backend, blocking, src, dst):
    a = (_data((6, 5)) / 3.0).astype(src)
    x = _make(a, blocking)
    assert_eq(x.astype(dst), a.astype(dst))
    assert x.dtype == src


def test_astype_copy_false(backend):
    x = nps.arange(6, block_shape=(4,))
    assert x.astype(x.dtype, copy=False) is x
    y = x.astype(np.float64, copy=False)
    assert y is not x
    assert_eq(y, np.arange(6.0))


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_copy(backend, blocking):
    a = _data((6, 5))
    x = _make(a, blocking)
    c1, c2 = x.copy(), nps.copy(x)
    assert_eq(c1, a)
    assert_eq(c2, a)
    x[1:3] = -9
    assert_eq(c1, a)
    assert_eq(c2, a)
    c1[0] = 4
    b = a.copy()
    b[1:3] = -9
    assert_eq(x, b)
    assert_eq(nps.copy(a), np.copy(a))


def test_shape_helpers(backend):
    a = _data((3, 4))
    x = nps.array(a, block_shape=(2, 2))
    assert nps.shape(x) == (3, 4)
    assert nps.ndim(x) == 2
    assert nps.size(x) == 12
    assert nps.shape(a) == np.shape(a)


# -- property -----------------------------------------------------------------------------

def _factorise(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


@st.composite
def _reshape_case(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    block = tuple(draw(st.integers(1, n)) for n in shape)
    size = int(np.prod(shape))
    out_ndim = draw(st.integers(1, 4))
    target = [1] * out_ndim
    for f in _factorise(size):
        target[draw(st.integers(0, out_ndim - 1))] *= f
    for _ in range(draw(st.integers(0, 2))):
        target.insert(draw(st.integers(0, len(target))), 1)
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    transposed = draw(st.booleans())
    out_block = None
    if draw(st.booleans()):
        resolved = np.empty(size).reshape(target).shape
        out_block = tuple(draw(st.integers(1, max(n, 1))) for n in resolved)
    return shape, block, tuple(target), transposed, out_block


@settings(deadline=None, max_examples=50)
@given(_reshape_case())
def test_property_reshape(case):
    start("serial")
    shape, block, target, transposed, out_block = case
    a = _data(shape)
    x = nps.array(a, block_shape=block)
    if transposed:
        a, x = a.T, x.T
    result = x.reshape(target, block_shape=out_block)
    assert_eq(result, a.reshape(target))
    if out_block is not None:
        assert result.block_shape == out_block
