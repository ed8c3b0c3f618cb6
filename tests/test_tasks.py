"""The general block-task node (multi-output kernels) and value-dependent sizes.

Runs on every backend the ``backend`` fixture selects (local serial and threads by default;
the Ray and MPI suites rerun this module with ``NUMS_TEST_BACKENDS``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nums.kernels.registry import all_kernels

import nums
import nums.numpy as nps
from nums.array.blockarray import BlockArray
from nums.array.grid import ArrayGrid
from nums.ir.tasks import BlockTask, block_tasks
from tests.utils import BLOCKINGS, ByValueKernel, assert_eq, block_shape_for


def _double_and_row_sums(scale, block):
    """Test kernel with two outputs of different shapes: the block scaled, and the row sums
    of the block as it is."""
    return block * scale, block.sum(axis=1, keepdims=True)


def _explode(block):
    raise ZeroDivisionError("test kernel failed on purpose")


@pytest.fixture
def probe_kernels(monkeypatch):
    kernels = all_kernels()
    monkeypatch.setitem(kernels, "test_double_and_row_sums",
                        ByValueKernel("test_double_and_row_sums", {"cpu": _double_and_row_sums}))
    monkeypatch.setitem(kernels, "test_explode", ByValueKernel("test_explode", {"cpu": _explode}))


def two_outputs(x: BlockArray, scale: float, device=None):
    """``(x * scale, x.sum(axis=1))`` through one two-output task per block of ``x`` (the
    row sums of a block are a partial: those of one block row are added afterwards)."""
    node = x._node
    grid = node.grid
    sums = ArrayGrid((grid.chunks[0], (1,) * grid.grid_shape[1]))

    def plan(leaves):
        for index in grid.indices():
            yield BlockTask("test_double_and_row_sums", reads=((0, index),),
                            writes=((0, index), (1, index)), consts=(scale,), device=device)

    scaled, partial = block_tasks((node,), [(grid, node.dtype), (sums, node.dtype)], plan)
    return BlockArray(scaled), BlockArray(partial)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_two_output_kernel(backend, probe_kernels, blocking):
    a = np.arange(63.0).reshape(9, 7) - 20
    x = nps.array(a, block_shape=block_shape_for(a.shape, blocking))
    scaled, partial = two_outputs(nps.sin(x) + 1, 3.0)
    expected = np.sin(a) + 1
    assert_eq(scaled, expected * 3.0, rtol=1e-12)
    assert partial.grid_shape == (x.grid_shape[0], x.grid_shape[1])
    assert_eq(partial.sum(axis=1), expected.sum(axis=1), rtol=1e-12)
    # each output can be computed alone, in either order, and used again
    scaled, partial = two_outputs(x, -1.0)
    assert_eq(partial.sum(axis=1) + scaled[:, 0], a.sum(axis=1) - a[:, 0], rtol=1e-12)
    assert_eq(scaled, -a)


def test_two_output_tasks_are_placed_and_planned(backend, probe_kernels):
    a = np.arange(40.0).reshape(8, 5)
    x = nps.array(a, block_shape=(2, 5)).persist()
    devices = nums.session().devices
    pinned = len(devices) - 1
    scaled, partial = two_outputs(x, 2.0, device=pinned)
    plan = nums.explain(scaled)
    assert plan.num_ops == x.grid.num_blocks  # one task per block, both outputs
    assert_eq(scaled, a * 2)
    assert set(scaled._leaf().devices.ravel().tolist()) == {pinned}
    assert set(partial._leaf().devices.ravel().tolist()) == {pinned}
    # default rule: the block-cyclic device of the first block written, as creation does
    scaled, _ = two_outputs(x, 2.0)
    assert_eq(scaled, a * 2)
    assert scaled._leaf().devices.tolist() == x._leaf().devices.tolist()


def test_kernel_error_in_a_multi_output_task(backend, probe_kernels):
    x = nps.array(np.ones((4, 4)), block_shape=(2, 2))
    node = x._node

    def plan(leaves):
        for index in node.grid.indices():
            yield BlockTask("test_explode", reads=((0, index),), writes=((0, index),))

    (bad,) = block_tasks((node,), [(node.grid, node.dtype)], plan)
    with pytest.raises(ZeroDivisionError, match="on purpose"):
        BlockArray(bad).get()
    assert_eq(x + 1, np.full((4, 4), 2.0))  # the session keeps working


def test_every_output_block_written_once(serial, probe_kernels):
    x = nps.array(np.ones((4, 4)), block_shape=(2, 2))
    node = x._node

    def missing(leaves):
        yield BlockTask("test_double_and_row_sums", reads=((0, (0, 0)),),
                        writes=((0, (0, 0)), (1, (0, 0))), consts=(1.0,))

    outs = block_tasks((node,), [(node.grid, node.dtype), (node.grid, node.dtype)], missing)
    with pytest.raises(AssertionError, match="no task writes block"):
        BlockArray(outs[0]).get()

    def twice(leaves):
        for _ in range(2):
            yield BlockTask("test_double_and_row_sums", reads=((0, (0, 0)),),
                            writes=((0, (0, 0)), (1, (0, 0))), consts=(1.0,))

    outs = block_tasks((node,), [(node.grid, node.dtype), (node.grid, node.dtype)], twice)
    with pytest.raises(AssertionError, match="written by two tasks"):
        BlockArray(outs[1]).get()


# -- value-dependent sizes ---------------------------------------------------------------

SHAPES = [(13,), (9, 7), (4, 5, 6), (1, 8), (0,), (6, 0)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_mask_and_nonzero(backend, shape, blocking):
    a = np.random.default_rng(len(shape)).standard_normal(shape)
    x = nps.array(a, block_shape=block_shape_for(shape, blocking))
    for threshold in (0.4, -10.0, 10.0):  # some, all and nothing selected
        mask = a > threshold
        assert_eq(x[x > threshold], a[mask])
        assert_eq(x[mask], a[mask])
        assert_eq(nps.flatnonzero(x > threshold), np.flatnonzero(mask))
        for got, want in zip(nps.nonzero(x > threshold), np.nonzero(mask), strict=True):
            assert_eq(got, want)
        if len(shape) > 1:
            rows = a.reshape(shape[0], -1).sum(axis=1) > threshold if a.size else \
                np.ones(shape[0], bool)
            assert_eq(x[nps.array(rows, block_shape=(2,))], a[rows])


def test_ragged_results_feed_every_op(backend):
    a = np.random.default_rng(3).standard_normal((40, 3))
    x = nps.array(a, block_shape=(7, 3))
    picked = x[x[:, 0] > 0]
    want = a[a[:, 0] > 0]
    assert len(set(picked.grid.chunks[0])) > 1  # ragged along the selected axis
    n = want.shape[0]
    other = np.arange(n * 3.0).reshape(n, 3)
    assert_eq(picked + nps.array(other), want + other)  # re-blocked explicitly to align
    assert_eq(picked.sum(axis=0), want.sum(axis=0), rtol=1e-12)
    assert_eq(picked.T @ picked, want.T @ want, rtol=1e-12)
    assert_eq(picked[1::2, 1:], want[1::2, 1:])
    assert_eq(nps.reshape(picked, (-1,)), want.reshape(-1))
    assert_eq(nps.concatenate([picked, x]), np.concatenate([want, a]))
    assert_eq(picked.reshape(block_shape=(4, 2)), want)
    picked[0] = -1.0
    want[0] = -1.0
    assert_eq(picked, want)


def test_selection_errors(serial):
    x = nps.array(np.arange(12.0).reshape(3, 4))
    with pytest.raises(IndexError, match="did not match indexed array along axis 1"):
        x[np.ones((3, 3), bool)]
    with pytest.raises(IndexError, match="too many indices"):
        x[np.ones((3, 4, 1), bool)]
    with pytest.raises(ValueError, match="nonzero on 0d arrays"):
        nps.nonzero(nps.array(np.float64(1.0)))
    assert_eq(nps.flatnonzero(nps.array(np.float64(2.0))), np.flatnonzero(np.float64(2.0)))


def test_counting_is_one_small_job(serial):
    """The size is known when the call returns; only the counts were computed."""
    x = nps.array(np.arange(20.0), block_shape=(6,))
    y = nps.exp(x) - 3
    picked = y[y > 10]
    assert picked.shape == (int((np.exp(np.arange(20.0)) - 3 > 10).sum()),)
    assert picked._node.leaf is None  # the selection itself is deferred


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=40), st.integers(1, 9))
def test_mask_property(values, block):
    from tests.conftest import start

    start("serial")
    mask = np.array(values, dtype=bool)
    a = np.arange(mask.size, dtype=np.int64) * 3
    x = nps.array(a, block_shape=(block,))
    assert_eq(x[nps.array(mask, block_shape=(max(1, block - 1),))], a[mask])
    assert_eq(nps.nonzero(nps.array(mask, block_shape=(block,)))[0], np.nonzero(mask)[0])


def test_dry_run_plans_tasks_and_refuses_to_count():
    """On the dry-run backend block tasks are planned like any op; a value-dependent size
    cannot be known, and says so."""
    from nums.runtime.dryrun import DryRunError

    nums.shutdown()
    try:
        nums.init(backend="dryrun", cluster_shape=(4,))
        x = nps.zeros((4000, 10), block_shape=(500, 10))
        node = x._node

        def plan(leaves):
            for index in node.grid.indices():
                yield BlockTask("fused_map", reads=((0, index),), writes=((0, index),),
                                consts=(None, None), device=index[0] % 4)

        (y,) = block_tasks((node,), [(node.grid, node.dtype)], plan)
        report = nums.explain(BlockArray(y))
        assert report.num_ops == 2 * node.grid.num_blocks  # creation + one task per block
        with pytest.raises(DryRunError, match="dry run"):
            x[x > 0]
    finally:
        nums.shutdown()
