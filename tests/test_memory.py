"""Blocks are freed as soon as nothing references them: computing creates no cyclic garbage
(which would keep blocks alive until Python's cycle collector happens to run)."""

import gc

import numpy as np

import nums.numpy as nps


def test_compute_leaves_no_cyclic_garbage(backend):
    a = np.arange(200.0).reshape(20, 10)
    x = nps.array(a, block_shape=(6, 4)).persist()
    (x + 1).get()
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            np.testing.assert_allclose((nps.exp(x) * 2 + x).sum(axis=0).get(),
                                       (np.exp(a) * 2 + a).sum(axis=0))
            np.testing.assert_allclose((x.T @ x).get(), a.T @ a)
            y = x[2:15:2, ::3]
            y[0] = 7
            np.testing.assert_allclose(y.reshape(-1).get()[:4], [7, 7, 7, 7])
            np.testing.assert_allclose(nps.concatenate([x, x]).mean(axis=1).get(),
                                       np.concatenate([a, a]).mean(axis=1))
        assert gc.collect() == 0
    finally:
        gc.enable()
