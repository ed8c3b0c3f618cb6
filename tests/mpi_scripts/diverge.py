"""A program that differs across ranks must be reported, not hang.

Modes (argv[1]):
  same      every rank runs the same program; the plan digests agree (exit 0)
  local     rank 1 computes an extra array before a get
  transfer  rank 1 computes a product that needs blocks rank 0 never sends
  exit      rank 1 skips a get and ends the script
  get       rank 1 fetches a different array
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

if mode == "same":
    close(x @ x.T, a @ a.T, "matmul")
    same_everywhere((ex.digest.count, ex.digest.value), "plan digest")
    done("diverge-same")
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
