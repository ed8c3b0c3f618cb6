"""Matrix and tensor products against NumPy: matmul / @, dot, tensordot, inner, outer, vdot.

Every test runs on both local executors (``backend`` fixture) and, where shapes allow, over
the three blockings (one block, even blocks, ragged edge blocks).
"""

from __future__ import annotations

import numpy as np
import pytest
from nums.backends.local.executor import ThreadRef

import nums
import nums.numpy as nps
from tests.utils import BLOCKINGS, assert_eq, block_shape_for, record_kernel_names

# Float sums are reordered by blocking: compare with a tolerance, not bit for bit.
TOL = dict(rtol=1e-10, atol=1e-10)


def rand(shape, dtype=np.float64, seed=0):
    """Small test values of ``dtype`` (integers stay exact, floats are O(1))."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def blocked(a, blocking):
    """``a`` as a BlockArray cut the ``blocking`` way."""
    a = np.asarray(a)
    return nps.array(a, block_shape=block_shape_for(a.shape, blocking))


# -- matmul, 2-D ---------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("shapes", [((8, 8), (8, 8)), ((4, 10), (10, 12)), ((9, 7), (7, 3)),
                                    ((1, 5), (5, 1))],
                         ids=["square", "wide", "tall", "row-col"])
def test_matmul_2d(backend, blocking, shapes):
    a, b = rand(shapes[0], seed=1), rand(shapes[1], seed=2)
    x, y = blocked(a, blocking), blocked(b, blocking)
    assert_eq(x @ y, a @ b, **TOL)
    assert_eq(nps.matmul(x, y), np.matmul(a, b), **TOL)


@pytest.mark.parametrize("blocking", BLOCKINGS + ("many",))
def test_matmul_tall_skinny_gram(backend, blocking):
    a = rand((300, 5), seed=3)
    block_shape = (7, 5) if blocking == "many" else block_shape_for(a.shape, blocking)
    x = nps.array(a, block_shape=block_shape)
    if blocking == "many":
        assert x.grid_shape[0] == 43
    gram = x.T @ x
    assert_eq(gram, a.T @ a, **TOL)
    # The result's blocks follow the free axes: X's columns on both sides.
    assert gram.grid.chunks == (x.grid.chunks[1], x.grid.chunks[1])
    assert_eq(x @ x.T, a @ a.T, **TOL)


def test_matmul_many_row_blocks_both_sides(backend):
    a = rand((300, 5), seed=4)
    x = nps.array(a, block_shape=(10, 5))
    y = nps.array(a, block_shape=(10, 5))
    assert_eq(x.T @ y, a.T @ a, **TOL)


def test_matmul_wide_result(backend):
    a, b = rand((6, 3), seed=5), rand((3, 40), seed=6)
    x = nps.array(a, block_shape=(2, 3))
    y = nps.array(b, block_shape=(3, 7))
    out = x @ y
    assert_eq(out, a @ b, **TOL)
    assert out.grid.chunks == ((2, 2, 2), (7, 7, 7, 7, 7, 5))


# -- matmul with 1-D operands --------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_matmul_vector_operands(backend, blocking):
    m, v, w = rand((7, 9), seed=7), rand((7,), seed=8), rand((9,), seed=9)
    xm, xv, xw = blocked(m, blocking), blocked(v, blocking), blocked(w, blocking)
    assert_eq(xv @ xm, v @ m, **TOL)  # 1-D x 2-D
    assert_eq(xm @ xw, m @ w, **TOL)  # 2-D x 1-D
    assert_eq(xw @ xw, w @ w, **TOL)  # 1-D x 1-D: 0-d
    out = nps.matmul(xv, xv)
    assert out.shape == () and out.ndim == 0
    assert_eq(out, np.matmul(v, v), **TOL)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_matmul_vector_with_batch(backend, blocking):
    s, v = rand((3, 4, 5), seed=10), rand((5,), seed=11)
    u = rand((4,), seed=12)
    xs, xv, xu = blocked(s, blocking), blocked(v, blocking), blocked(u, blocking)
    assert_eq(xs @ xv, s @ v, **TOL)
    assert_eq(xu @ xs, u @ s, **TOL)


# -- batched matmul ------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("shapes", [((3, 4, 5), (3, 5, 6)), ((3, 4, 5), (5, 6)),
                                    ((4, 5), (3, 5, 6)), ((1, 4, 5), (3, 5, 2)),
                                    ((2, 1, 3, 4), (5, 4, 2))],
                         ids=["3d-3d", "3d-2d", "2d-3d", "batch1-3d", "4d-3d"])
def test_matmul_batched(backend, blocking, shapes):
    a, b = rand(shapes[0], seed=13), rand(shapes[1], seed=14)
    x, y = blocked(a, blocking), blocked(b, blocking)
    assert_eq(x @ y, a @ b, **TOL)


def test_matmul_batched_different_batch_blocks(backend):
    a, b = rand((6, 4, 5), seed=15), rand((6, 5, 3), seed=16)
    x = nps.array(a, block_shape=(2, 3, 2))
    y = nps.array(b, block_shape=(4, 3, 3))
    assert_eq(x @ y, a @ b, **TOL)


@pytest.mark.parametrize("shapes", [((3, 0), (0, 4)), ((0, 3), (3, 4)), ((3, 4), (4, 0)),
                                    ((0,), (0,)), ((2, 0, 3), (3, 5))])
def test_matmul_empty(backend, shapes):
    a, b = rand(shapes[0], seed=59), rand(shapes[1], seed=60)
    assert_eq(nps.array(a) @ nps.array(b), a @ b)


# -- re-blocking and transposed operands ---------------------------------------------------

@pytest.mark.parametrize("blocks", [((2, 3), (5, 2)), ((4, 4), (3, 7)), ((6, 10), (1, 1)),
                                    ((1, 1), (10, 7))],
                         ids=["k3-k5", "k4-k3", "one-vs-tiny", "tiny-vs-one"])
def test_matmul_different_block_shapes(backend, blocks):
    a, b = rand((6, 10), seed=17), rand((10, 7), seed=18)
    x = nps.array(a, block_shape=blocks[0])
    y = nps.array(b, block_shape=blocks[1])
    out = x @ y
    assert_eq(out, a @ b, **TOL)
    # Rows follow the left operand, columns the right one.
    assert out.grid.chunks == (x.grid.chunks[0], y.grid.chunks[1])
    # The operands themselves are untouched.
    assert_eq(x, a)
    assert_eq(y, b)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_matmul_transposed_operands(backend, blocking):
    a, b = rand((9, 6), seed=19), rand((9, 4), seed=20)
    c = rand((4, 6), seed=21)
    x, y, z = blocked(a, blocking), blocked(b, blocking), blocked(c, blocking)
    assert_eq(x.T @ y, a.T @ b, **TOL)
    assert_eq(x @ z.T, a @ c.T, **TOL)
    assert_eq(y.T @ x @ z.T, b.T @ a @ c.T, **TOL)
    assert_eq(z.T.T @ z.T, c @ c.T, **TOL)


def test_matmul_transposed_with_different_blocks(backend):
    a, b = rand((10, 6), seed=22), rand((10, 4), seed=23)
    x = nps.array(a, block_shape=(3, 4))
    y = nps.array(b, block_shape=(4, 3))
    assert_eq(x.T @ y, a.T @ b, **TOL)
    assert_eq(y.T @ x, b.T @ a, **TOL)


def test_matmul_computed_and_lazy_operands(backend):
    a, b = rand((8, 6), seed=24), rand((6, 5), seed=25)
    x = nps.array(a, block_shape=(3, 2))
    y = nps.array(b, block_shape=(2, 2))
    assert_eq((x * 2 + 1) @ nps.exp(y), (a * 2 + 1) @ np.exp(b), **TOL)
    assert_eq((x @ y).sum(axis=0), (a @ b).sum(axis=0), **TOL)
    assert_eq(x[1:7:2] @ y[:, 1:], a[1:7:2] @ b[:, 1:], **TOL)


# -- elementwise operands evaluated inside the product tasks --------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS + ("many",))
def test_gram_of_an_elementwise_operand(backend, blocking):
    # The Newton / IRLS Hessian X.T @ (X * s[:, None]) and gradient X.T @ (p - y).
    a = rand((120, 6), seed=60)
    w = rand(6, seed=61)
    yv = (rand(120, seed=62) > 0).astype(np.float64)
    block_shape = (7, 6) if blocking == "many" else block_shape_for(a.shape, blocking)
    x = nps.array(a, block_shape=block_shape)
    y = nps.array(yv, block_shape=(block_shape[0],))
    p = 1 / (1 + nps.exp(-(x @ w)))
    pn = 1 / (1 + np.exp(-(a @ w)))
    assert_eq(x.T @ (x * (p * (1 - p))[:, None]), a.T @ (a * (pn * (1 - pn))[:, None]), **TOL)
    assert_eq(x.T @ (p - y), a.T @ (pn - yv), **TOL)
    assert_eq((x * 2).T @ (x + 1), (a * 2).T @ (a + 1), **TOL)  # both operands programs
    assert_eq((x.astype(np.float32) * 2).T @ x, (a.astype(np.float32) * 2).T @ a, rtol=1e-5)
    assert_eq(x.T @ (x.astype(np.float32) * 2), a.T @ (a.astype(np.float32) * 2), rtol=1e-5)
    assert_eq(nps.tensordot(x, x * 2, ([0], [0])), np.tensordot(a, a * 2, ([0], [0])), **TOL)
    batch = rand((3, 4, 120), seed=66)
    xb = nps.array(batch, block_shape=(2, 3, block_shape[0]))
    assert_eq(xb @ (x - 1), batch @ (a - 1), **TOL)  # batched left operand, one output block


@pytest.mark.parametrize("blocking", BLOCKINGS + ("many",))
def test_weighted_gram(backend, blocking):
    """``X.T @ (X * w[:, None])``: nonnegative weights take the symmetric (sqrt-scaled)
    kernel, other weights the general one; both equal NumPy."""
    a = rand((120, 6), seed=70)
    rows = 7 if blocking == "many" else block_shape_for(a.shape, blocking)[0]
    x = nps.array(a, block_shape=(rows, 6))
    other = rand((120, 6), seed=73)
    y = nps.array(other, block_shape=(rows, 6))
    for weights in (np.abs(rand(120, seed=71)), rand(120, seed=72),
                    np.where(np.arange(120) == 5, np.nan, 1.0), np.zeros(120)):
        s = nps.array(weights, block_shape=(rows,))
        assert_eq(x.T @ (x * s[:, None]), a.T @ (a * weights[:, None]), **TOL)
        assert_eq(x.T @ (s[:, None] * x), a.T @ (weights[:, None] * a), **TOL)
        assert_eq(x.T @ (x * (s * s + 1)[:, None]), a.T @ (a * (weights ** 2 + 1)[:, None]),
                  **TOL)
        assert_eq(x.T @ (y * s[:, None]), a.T @ (other * weights[:, None]), **TOL)
    w32 = np.abs(rand(120, seed=74)).astype(np.float32)  # weights of another precision
    s32 = nps.array(w32, block_shape=(rows,))
    assert_eq(x.T @ (x * s32[:, None]), a.T @ (a * w32[:, None]), **TOL)
    x32 = nps.array(a.astype(np.float32), block_shape=(rows, 6))
    positive = np.abs(rand(120, seed=77))
    s = nps.array(positive, block_shape=(rows,))
    assert_eq(x32.T @ (x32 * s[:, None]),
              a.astype(np.float32).T @ (a.astype(np.float32) * positive[:, None]), rtol=1e-5)


def test_weighted_gram_takes_the_symmetric_kernel_for_nonnegative_weights(monkeypatch):
    import nums.kernels.linalg as linalg

    taken: list[bool] = []
    general = linalg._weighted_gram

    def recording(*args):
        result = general(*args)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(linalg, "_weighted_gram", recording)
    nums.shutdown()
    try:
        nums.init(backend="local", workers=2, testing=True)
        a = rand((200, 4), seed=75)
        x = nps.array(a, block_shape=(10, 4)).persist()
        p = 1 / (1 + nps.exp(-(x @ np.ones(4))))
        pn = 1 / (1 + np.exp(-(a @ np.ones(4))))
        assert_eq(x.T @ (x * (p * (1 - p))[:, None]), a.T @ (a * (pn * (1 - pn))[:, None]),
                  **TOL)
        assert taken == [True] * 20  # one per row block
        taken.clear()
        signed = rand(200, seed=76)
        s = nps.array(signed, block_shape=(10,))
        assert_eq(x.T @ (x * s[:, None]), a.T @ (a * signed[:, None]), **TOL)
        assert len(taken) == 20 and not all(taken)  # blocks with a negative weight
    finally:
        nums.shutdown()


def test_elementwise_operand_is_not_materialised(monkeypatch):
    nums.shutdown()
    try:
        session = nums.init(backend="local", workers=2, testing=True)
        a = rand((200, 4), seed=63)
        x = nps.array(a, block_shape=(10, 4)).persist()
        s = nps.array(rand(200, seed=64), block_shape=(10,)).persist()
        names = record_kernel_names(session, monkeypatch)
        assert_eq(x.T @ (x * s[:, None]), a.T @ (a * s.get()[:, None]), **TOL)
        assert "fused_map" not in names  # X * s is evaluated inside contract_sum
        names.clear()
        # A block read by several output blocks is computed once instead.
        b = rand((4, 30), seed=65)
        y = nps.array(b, block_shape=(4, 10))
        assert_eq((x + 1) @ y, (a + 1) @ b, **TOL)
        assert names.count("fused_map") == x.grid_shape[0]
        names.clear()
        # ... and so is a block cut into segments by the other operand's blocks.
        z = nps.array(rand((100, 3), seed=66), block_shape=(10, 3))
        w = nps.array(rand((4, 100), seed=67), block_shape=(4, 100))
        assert_eq((w * 2) @ z, (w.get() * 2) @ z.get(), **TOL)
        assert names.count("fused_map") == 1
    finally:
        monkeypatch.undo()
        nums.shutdown()


# -- dtypes --------------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("dtypes", [(np.int64, np.float64), (np.float32, np.float64),
                                    (np.int64, np.int64), (np.int32, np.int32),
                                    (np.float32, np.float32), (np.complex128, np.float64),
                                    (np.complex128, np.complex128), (np.int32, np.float32),
                                    (np.bool_, np.bool_)],
                         ids=lambda d: np.dtype(d[0]).name + "@" + np.dtype(d[1]).name)
def test_matmul_dtypes(backend, blocking, dtypes):
    a, b = rand((5, 7), dtypes[0], seed=26), rand((7, 4), dtypes[1], seed=27)
    x, y = blocked(a, blocking), blocked(b, blocking)
    expected = a @ b
    tol = dict(rtol=1e-5, atol=1e-5) if expected.dtype in (np.float32, np.complex64) else TOL
    assert_eq(x @ y, expected, **tol)


def test_matmul_numpy_operands(backend):
    a, b = rand((5, 6), seed=28), rand((6, 3), seed=29)
    x = nps.array(a, block_shape=(2, 2))
    assert_eq(x @ b, a @ b, **TOL)
    assert_eq(nps.matmul(a, nps.array(b, block_shape=(4, 2))), a @ b, **TOL)
    assert_eq(nps.matmul(a.tolist(), b.tolist()), a @ b, **TOL)


def test_matmul_numpy_left_operand_and_ufunc(backend):
    """``ndarray @ BlockArray`` and ``np.matmul(BlockArray, BlockArray)`` reach nums' matmul."""
    a, b = rand((5, 6), seed=30), rand((6, 3), seed=31)
    x = nps.array(a, block_shape=(2, 2))
    y = nps.array(b, block_shape=(4, 2))
    assert_eq(np.matmul(x, y), a @ b, **TOL)
    assert_eq(a @ y, a @ b, **TOL)


# -- in-place ------------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_imatmul_square(backend, blocking):
    a, b = rand((6, 6), seed=32), rand((6, 6), seed=33)
    x, y = blocked(a, blocking), blocked(b, blocking)
    alias = x
    before = x.copy()
    x @= y
    assert x is alias
    assert_eq(x, a @ b, **TOL)
    assert_eq(before, a)  # another handle to the old value keeps it
    x @= y
    assert_eq(x, a @ b @ b, **TOL)


def test_imatmul_shapes_like_numpy(backend):
    x = nps.array(rand((2, 3), seed=34), block_shape=(1, 2))
    x @= nps.array(rand((3, 3), seed=35), block_shape=(2, 2))
    assert x.shape == (2, 3)
    z = nps.ones((3, 2))
    with pytest.raises(ValueError):
        z @= nps.ones((2, 3))
    assert z.shape == (3, 2)


def test_imatmul_casting_like_numpy(backend):
    """NumPy refuses to cast a float product into an int array (same_kind casting)."""
    with pytest.raises(TypeError):
        i = np.ones((2, 2), dtype=np.int64)
        i @= np.ones((2, 2))
    xi = nps.ones((2, 2), dtype=np.int64)
    with pytest.raises(TypeError):
        xi @= nps.ones((2, 2))


# -- dot -----------------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("shapes", [((), ()), ((), (4, 3)), ((4, 3), ()), ((6,), (6,)),
                                    ((4, 6), (6, 5)), ((4, 6), (6,)), ((6,), (6, 5)),
                                    ((3, 4, 6), (6,)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
                                    ((2, 3, 4), (5, 4, 2))],
                         ids=["0d-0d", "0d-2d", "2d-0d", "1d-1d", "2d-2d", "2d-1d", "1d-2d",
                              "3d-1d", "3d-2d", "2d-3d", "3d-3d"])
def test_dot(backend, blocking, shapes):
    a, b = rand(shapes[0], seed=36), rand(shapes[1], seed=37)
    x, y = blocked(a, blocking), blocked(b, blocking)
    assert_eq(nps.dot(x, y), np.dot(a, b), **TOL)


def test_dot_python_scalars_and_method(backend):
    a, b = rand((5, 4), seed=38), rand((4, 3), seed=39)
    x = nps.array(a, block_shape=(2, 3))
    y = nps.array(b, block_shape=(3, 3))
    assert_eq(nps.dot(3, x), np.dot(3, a), **TOL)
    assert_eq(nps.dot(x, 2.5), np.dot(a, 2.5), **TOL)
    assert_eq(nps.dot(2, 3), np.dot(2, 3))
    assert_eq(x.dot(y), a.dot(b), **TOL)
    assert_eq(nps.dot(x, b), np.dot(a, b), **TOL)


@pytest.mark.parametrize("dtypes", [(np.int64, np.int64), (np.int32, np.float64),
                                    (np.complex128, np.float32)],
                         ids=["int-int", "int32-float", "complex-float32"])
def test_dot_dtypes(backend, dtypes):
    a, b = rand((4, 6), dtypes[0], seed=40), rand((6,), dtypes[1], seed=41)
    x = nps.array(a, block_shape=(3, 4))
    y = nps.array(b, block_shape=(5,))
    assert_eq(nps.dot(x, y), np.dot(a, b), **TOL)


# -- tensordot -----------------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("case", [
    ((3, 4), (5, 2), 0),
    ((3, 4, 5), (5, 6), 1),
    ((3, 4, 5), (4, 5, 2), 2),
    ((4, 5), (4, 5), 2),
    ((3, 4, 5), (4, 3, 2), ([1, 0], [0, 1])),
    ((3, 4, 5), (5, 2, 4), ([-1, -2], [0, -1])),
    ((3, 4, 5), (2, 4), (1, 1)),
    ((3, 4, 5), (5, 3), ((2, 0), (0, 1))),
    ((4, 3), (4, 2), ([0], [0])),
    ((6,), (6,), 1),
], ids=["int0", "int1", "int2", "int2-full", "seq", "neg", "scalar-pair", "tuple-pair",
        "lists-first", "vectors"])
def test_tensordot(backend, blocking, case):
    sa, sb, axes = case
    a, b = rand(sa, seed=42), rand(sb, seed=43)
    x, y = blocked(a, blocking), blocked(b, blocking)
    assert_eq(nps.tensordot(x, y, axes=axes), np.tensordot(a, b, axes=axes), **TOL)


def test_tensordot_default_axes_and_different_blocks(backend):
    a, b = rand((3, 8, 6), seed=44), rand((8, 6, 5), seed=45)
    x = nps.array(a, block_shape=(2, 3, 4))
    y = nps.array(b, block_shape=(5, 2, 2))
    assert_eq(nps.tensordot(x, y), np.tensordot(a, b), **TOL)
    assert_eq(nps.tensordot(x, y, axes=([1], [0])), np.tensordot(a, b, axes=([1], [0])), **TOL)


def test_tensordot_dtypes(backend):
    a, b = rand((3, 4), np.int64, seed=46), rand((4, 2), np.int64, seed=47)
    x, y = nps.array(a, block_shape=(2, 3)), nps.array(b, block_shape=(3, 1))
    assert_eq(nps.tensordot(x, y, 1), np.tensordot(a, b, 1))
    c = rand((4, 2), np.float32, seed=48)
    assert_eq(nps.tensordot(x, nps.array(c, block_shape=(2, 2)), 1), np.tensordot(a, c, 1),
              **TOL)


# -- inner, outer, vdot --------------------------------------------------------------------

@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("shapes", [((7,), (7,)), ((3, 7), (5, 7)), ((2, 3, 4), (5, 4)),
                                    ((), (3, 4)), ((4,), ())],
                         ids=["1d", "2d", "3d-2d", "scalar-left", "scalar-right"])
def test_inner(backend, blocking, shapes):
    a, b = rand(shapes[0], seed=49), rand(shapes[1], seed=50)
    x, y = blocked(a, blocking), blocked(b, blocking)
    assert_eq(nps.inner(x, y), np.inner(a, b), **TOL)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("shapes", [((5,), (7,)), ((2, 3), (4,)), ((3,), (2, 2)), ((), (3,))],
                         ids=["1d", "2d-1d", "1d-2d", "scalar"])
def test_outer(backend, blocking, shapes):
    a, b = rand(shapes[0], seed=51), rand(shapes[1], seed=52)
    x, y = blocked(a, blocking), blocked(b, blocking)
    assert_eq(nps.outer(x, y), np.outer(a, b), **TOL)


def test_outer_dtypes(backend):
    a, b = np.arange(4, dtype=np.int32), np.linspace(0, 1, 3, dtype=np.float32)
    assert_eq(nps.outer(nps.array(a, block_shape=(3,)), b), np.outer(a, b), rtol=1e-6)


@pytest.mark.parametrize("blocking", BLOCKINGS)
@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.complex128, np.complex128),
                                    (np.complex128, np.float64), (np.int64, np.int64)],
                         ids=["float", "complex", "complex-float", "int"])
def test_vdot(backend, blocking, dtypes):
    a, b = rand((9,), dtypes[0], seed=53), rand((9,), dtypes[1], seed=54)
    x, y = blocked(a, blocking), blocked(b, blocking)
    out = nps.vdot(x, y)
    assert out.shape == ()
    assert_eq(out, np.vdot(a, b), **TOL)


def test_vdot_conjugates_first_argument(backend):
    a, b = np.array([1 + 2j, 3j, -1 + 0.5j]), np.array([1j, 2, 1 - 1j])
    x = nps.array(a, block_shape=(2,))
    y = nps.array(b, block_shape=(2,))
    assert_eq(nps.vdot(x, y), np.vdot(a, b), **TOL)
    assert_eq(nps.vdot(y, x), np.vdot(b, a), **TOL)
    # Conjugation is what makes these differ.
    assert not np.isclose(np.vdot(a, b), np.dot(a, b))
    assert_eq(nps.vdot(x, x), np.vdot(a, a), **TOL)
    assert nps.vdot(x, x).get().imag == 0


def test_vdot_flattens_nd(backend):
    a, b = rand((3, 4), np.complex128, seed=55), rand((2, 6), np.complex128, seed=56)
    x = nps.array(a, block_shape=(2, 3))
    y = nps.array(b, block_shape=(1, 4))
    assert_eq(nps.vdot(x, y), np.vdot(a, b), **TOL)


# -- errors, raised at the call like NumPy ------------------------------------------------

def test_matmul_errors(backend):
    x = nps.ones((3, 4), block_shape=(2, 2))
    y = nps.ones((5, 2), block_shape=(2, 2))
    with pytest.raises(ValueError):
        np.ones((3, 4)) @ np.ones((5, 2))
    with pytest.raises(ValueError, match="mismatch in its core dimension"):
        x @ y
    with pytest.raises(ValueError):
        nps.matmul(x, y)
    with pytest.raises(ValueError):
        nps.matmul(nps.ones(4), nps.ones(5))
    with pytest.raises(ValueError):
        nps.ones((2, 3, 4)) @ nps.ones((3, 5, 2))  # batch axes do not broadcast
    with pytest.raises(ValueError):
        np.matmul(np.float64(2.0), np.ones((3, 3)))
    with pytest.raises(ValueError, match="enough dimensions"):
        nps.matmul(nps.array(2.0), x)
    with pytest.raises(ValueError):
        nps.matmul(x, nps.array(2.0))
    with pytest.raises(ValueError):
        x @ 2
    with pytest.raises(ValueError):
        2 @ x


def test_tensordot_and_friends_errors(backend):
    x = nps.ones((3, 4), block_shape=(2, 2))
    y = nps.ones((5, 2), block_shape=(2, 2))
    with pytest.raises(ValueError):
        np.tensordot(np.ones((3, 4)), np.ones((5, 2)), 1)
    with pytest.raises(ValueError, match="shape-mismatch"):
        nps.tensordot(x, y, 1)
    with pytest.raises(ValueError):
        nps.tensordot(x, y, axes=([0], [1]))
    with pytest.raises(ValueError):
        nps.tensordot(x, y, axes=([0, 1], [0]))
    with pytest.raises(IndexError):
        np.tensordot(np.ones((3, 4)), np.ones((4, 3)), axes=3)
    with pytest.raises(IndexError):
        nps.tensordot(x, nps.ones((4, 3)), axes=3)
    with pytest.raises(ValueError):
        nps.dot(x, y)
    with pytest.raises(ValueError):
        nps.inner(x, y)
    with pytest.raises(ValueError):
        nps.vdot(x, y)


# -- reduction_fanin -----------------------------------------------------------------------

@pytest.mark.parametrize("fanin", [2, 3, 16])
@pytest.mark.parametrize("workers", [1, 2])
def test_gram_with_reduction_fanin(monkeypatch, workers, fanin):
    nums.shutdown()
    try:
        session = nums.init(backend="local", workers=workers, testing=True,
                            reduction_fanin=fanin)
        assert session.settings.reduction_fanin == fanin
        a = rand((200, 4), seed=57)
        x = nps.array(a, block_shape=(5, 4))
        assert x.grid_shape == (40, 1)
        calls = {"contract_sum": [], "add_blocks": []}
        submit = session.executor.submit

        def counting_submit(kernel, args, device, num_returns=1, nbytes=None):
            if kernel.name in calls:  # count the blocks a task reads
                calls[kernel.name].append(
                    sum(isinstance(v, (np.ndarray, ThreadRef)) for v in args))
            return submit(kernel, args, device, num_returns, nbytes)

        monkeypatch.setattr(session.executor, "submit", counting_submit)
        gram = x.T @ x
        assert_eq(gram, a.T @ a, **TOL)
        # 40 block products in tasks of at most `fanin` products (grouped by the device that
        # holds the left block, 40 / workers each, and spread so every device gets work),
        # then a sum tree of at most `fanin` partial results per task: first the partials
        # of each device among themselves, then one partial per device.
        products = [n // 2 for n in calls["contract_sum"]]
        assert sum(products) == 40
        per_group = min(fanin, -(-40 // workers))
        assert max(products) == min(per_group, 40 // workers)
        assert len(products) == workers * -(-(40 // workers) // per_group)
        assert calls["add_blocks"] and max(calls["add_blocks"]) <= fanin

        def tree_adds(partials):
            adds = 0
            while partials > 1:
                partials = -(-partials // fanin)
                adds += partials
            return adds

        expected = workers * tree_adds(len(products) // workers) + tree_adds(workers)
        assert len(calls["add_blocks"]) == expected
        monkeypatch.undo()
        y = nps.array(rand((200, 3), seed=58), block_shape=(7, 2))
        assert_eq(x.T @ y, a.T @ y.get(), **TOL)
        assert_eq(nps.tensordot(x, y, ([0], [0])), a.T @ y.get(), **TOL)
    finally:
        nums.shutdown()
