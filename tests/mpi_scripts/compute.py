"""The API on the MPI backend equals NumPy (and the local backend, for random numbers)."""

from __future__ import annotations

import numpy as np
from _common import close, same_everywhere, start

import nums
import nums.numpy as nps

ex = start()
a = np.arange(84.0).reshape(7, 12) / 7 - 3
b = np.linspace(-1, 2, 84).reshape(7, 12)
x = nps.array(a, block_shape=(3, 5))
y = nps.array(b, block_shape=(3, 5))

# elementwise chains and reductions
close(nps.exp(x) * 2 + nps.sin(y) - x / 3, np.exp(a) * 2 + np.sin(b) - a / 3, "chain")
close((x * y + 1).sum(), (a * b + 1).sum(), "sum")
close(x.sum(axis=0), a.sum(axis=0), "sum axis 0")
close(nps.mean(x, axis=1), a.mean(axis=1), "mean axis 1")
close(x.std(axis=0), a.std(axis=0), "std")
close(nps.max(x * y), np.max(a * b), "max")
close(nps.argmin(x, axis=1), np.argmin(a, axis=1), "argmin")
close((x > 0).any(axis=0), (a > 0).any(axis=0), "any")

# products
close(x @ y.T, a @ b.T, "matmul")
close(x.T @ x, a.T @ a, "X.T @ X")
close(nps.tensordot(x, y, axes=([0], [0])), np.tensordot(a, b, axes=([0], [0])), "tensordot")
tall = np.random.default_rng(5).standard_normal((200, 6))
t = nps.array(tall, block_shape=(23, 4))
close(t.T @ t, tall.T @ tall, "tall X.T @ X")

# slicing and assignment
close(x[1:6:2, ::3], a[1:6:2, ::3], "slice")
close(x[-1], a[-1], "row")
z = x.copy()
z[2:5, 1::4] = -7.0
za = a.copy()
za[2:5, 1::4] = -7.0
close(z, za, "assign scalar")
z[0, :] = y[6, :]
za[0, :] = b[6, :]
close(z, za, "assign row from other array")

# reshape and concatenate
close(nps.reshape(x, (12, 7)), a.reshape(12, 7), "reshape")
close(nps.ravel(x.T), np.ravel(a.T), "ravel of transpose")
close(nps.concatenate([x, y], axis=0), np.concatenate([a, b], axis=0), "concatenate 0")
close(nps.concatenate([x, y[:, :5]], axis=1), np.concatenate([a, b[:, :5]], axis=1),
      "concatenate 1")
close(nps.stack([x[0], y[1]]), np.stack([a[0], b[1]]), "stack")

# Python control flow on computed values: the same branch on every rank
branches = []
s = x.sum()
if s > 0:
    branches.append("positive")
else:
    branches.append("not positive")
for _ in range(3):
    x = x * 0.5 + 1
    if float(nps.max(x)) > 2:
        branches.append("big")
same_everywhere(branches, "branches taken")
same_everywhere(float(x.sum()), "a computed scalar")

# random numbers: the same values as the local backend for the same seed
rng = nps.random.default_rng(42)
r = rng.standard_normal((30, 9), block_shape=(7, 4)).get()
u = nps.random.default_rng(7).random((50,), block_shape=(9,)).get()
same_everywhere(r, "random array")
ex_digest = (ex.digest.count, ex.digest.value)
same_everywhere(ex_digest, "plan digest")
done_name = "compute"
executor_size = ex.size
nums.shutdown()
nums.init(backend="local", workers=1, testing=True)
close(r, nps.random.default_rng(42).standard_normal((30, 9), block_shape=(7, 4)).get(),
      "random vs local backend")
close(u, nps.random.default_rng(7).random((50,), block_shape=(9,)).get(),
      "uniform vs local backend")
nums.shutdown()
print(f"{done_name} OK size {executor_size}", flush=True)
