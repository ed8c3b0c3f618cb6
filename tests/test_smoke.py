"""The issue's own example, end to end, on every local executor."""

import numpy as np
import pytest

import nums.numpy as nps
from tests.utils import BLOCKINGS, assert_eq, block_shape_for


def test_readme_example(backend):
    x = nps.random.default_rng(0).standard_normal((4000, 16))
    y = nps.exp(x) * 2 + x
    xn = x.get()
    assert_eq(y.sum(axis=0), (np.exp(xn) * 2 + xn).sum(axis=0))
    A = nps.array(np.arange(12.0).reshape(3, 4), block_shape=(2, 2))
    A[1:, ::2] = -1
    B = np.arange(12.0).reshape(3, 4)
    B[1:, ::2] = -1
    assert_eq(A @ A.T, B @ B.T)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_chain_over_blockings(backend, blocking):
    a = np.arange(60.0).reshape(6, 10)
    x = nps.array(a, block_shape=block_shape_for(a.shape, blocking))
    assert_eq(nps.sin(x) * x + 1, np.sin(a) * a + 1)
    assert_eq((x - 3).mean(axis=1), (a - 3).mean(axis=1))
