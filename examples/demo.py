"""nums in one screen: NumPy code on blocked arrays with the embedded local backend."""

import time

import numpy as np

import nums
import nums.numpy as nps


def main() -> None:
    session = nums.init()  # local backend, one worker thread per core
    print(session)

    start = time.perf_counter()
    x = nps.random.default_rng(0).standard_normal((4_000_000, 16))  # blocked automatically
    y = nps.exp(x) * 2 + x  # deferred; fused into one kernel call per block
    column_sums = y.sum(axis=0).get()  # a NumPy array
    print(f"x: shape {x.shape}, {x.grid_shape[0]} blocks of {x.block_shape}")
    print("sum(exp(x) * 2 + x, axis=0)[:4] =", column_sums[:4],
          f"({time.perf_counter() - start:.2f} s)")

    xn = x.get()
    assert np.allclose(column_sums, (np.exp(xn) * 2 + xn).sum(axis=0))

    A = nps.array(np.arange(12.0).reshape(3, 4), block_shape=(2, 2))
    A[1:, ::2] = -1
    print("A @ A.T =")
    print(np.asarray(A @ A.T))

    X = nps.random.default_rng(1).standard_normal((200_000, 8))
    w = nps.linspace(-1, 1, 8)
    gram = X.T @ X  # tall-skinny: partial products per block, summed in a tree
    print("X.T @ X diagonal:", np.round(np.diag(gram.get()), 1))
    print("mean of X @ w:", float((X @ w).mean()))
    nums.shutdown()


if __name__ == "__main__":
    main()
