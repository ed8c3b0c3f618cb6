"""A program that differs across ranks must be reported, not hang.

Modes (argv[1]):
  same      every rank runs the same program; the plan digests agree (exit 0)
  local     rank 1 computes an extra array before a get
  transfer  rank 1 computes a product that needs blocks rank 0 never sends
  exit      rank 1 skips a get and ends the script
  get       rank 1 fetches a different array
  program   over the same blocks, rank 0 computes ``x + 1`` and the others ``x * 2``
  constant  rank 0 computes ``x + 1`` and the others ``x + 2``
  reduce    rank 0 sums, the others take the maximum (same blocks, another reduction)
  slice     rank 0 takes rows 1:4, the others rows 2:5 (same pieces, other slices)

In the last four the ranks make the same calls on the same blocks: only what the kernels
compute differs, which the plan digest covers through the kernels' arguments.
"""

from __future__ import annotations

import sys

import numpy as np
from _common import close, done, same_everywhere, start

import nums.numpy as nps

mode = sys.argv[1]
ex = start()
rank = ex.rank
a = np.arange(120.0).reshape(10, 12)
x = nps.array(a, block_shape=(3, 4))
y = (x + 1) * 2
close(y, (a + 1) * 2, "warm up")

if mode == "same":  # every kind of argument, equal on every rank
    close(x @ x.T, a @ a.T, "matmul")
    close(nps.exp(x) * 2.5 - x / 3 + 1, np.exp(a) * 2.5 - a / 3 + 1, "chain")
    close(nps.where(x > 50, x, -x).sum(axis=0), np.where(a > 50, a, -a).sum(axis=0), "where")
    close(x.std(axis=1), a.std(axis=1), "std")
    close(x[1:8:2, ::3] + np.float32(2), a[1:8:2, ::3] + np.float32(2), "slice")
    close(x.astype(np.float32).reshape(12, 10), a.astype(np.float32).reshape(12, 10),
          "reshape")
    r = nps.random.default_rng(7).standard_normal((10, 12), block_shape=(3, 4))
    same_everywhere(r.get(), "random")
    # unseeded: every rank draws its own entropy, each block is drawn by its owner only
    same_everywhere((nps.random.default_rng().random(40, block_shape=(7,)) + 1).get(),
                    "unseeded random")
    same_everywhere((ex.digest.count, ex.digest.value), "plan digest")
    done("diverge-same")
    sys.exit(0)

if mode in ("program", "constant", "reduce", "slice"):
    z = (x - 3).persist()  # common calls first: the difference is not the job's first call
    if mode == "program":
        w = (x + 1 if rank == 0 else x * 2).persist()  # one fused_map call per block
    elif mode == "constant":
        w = (x + 1 if rank == 0 else x + 2).persist()
    elif mode == "reduce":
        w = x.sum() if rank == 0 else x.max()
    else:
        w = (x[1:4] if rank == 0 else x[2:5]).persist()  # assemble calls, other slices
    print(f"rank {rank}: got {float(w.sum().get())}: not detected", flush=True)
    sys.exit(0)

if mode == "local" and rank == 1:
    (x * 3).persist()
elif mode == "transfer":
    if rank == 1:
        (x @ x.T).persist()
    else:
        (x - 1).persist()
elif mode == "exit" and rank == 1:
    sys.exit(0)  # nums' exit hook reports the shutdown to the other ranks

if mode == "get" and rank == 1:
    y.get()
else:
    x.sum().get()
print(f"rank {rank}: not detected", flush=True)
