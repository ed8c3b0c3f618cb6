"""An error on one rank ends the whole job quickly, with its message; or is caught alike.

Modes (argv[1]):
  kernel   a kernel fails on the last rank only; nobody catches it: every rank's get raises,
           the job aborts with the message and a non-zero status
  abort    the same with on_error="abort": the failing rank aborts the job at once
  caught   every rank catches the kernel's error and goes on computing (exit 0)
  user     the user's script raises on the last rank only while the others wait in a get
"""

from __future__ import annotations

import sys

import numpy as np
from _common import check, close, done, start
from nums.kernels.registry import kernel

import nums.numpy as nps

mode = sys.argv[1]
ex = start(on_error="abort" if mode == "abort" else "raise")
rank, size = ex.rank, ex.size
last = ex.devices()[-1]
full = kernel("full")
a = np.arange(12.0).reshape(3, 4)
x = nps.array(a, block_shape=(2, 2))
close(x @ x.T, a @ a.T, "before the failure")

if mode == "user":
    if rank == size - 1:
        raise RuntimeError("the user's script failed on the last rank")
    (x + 1).get()
    sys.exit(0)

bad = ex.submit(full, ((4,), "not a number", np.dtype("float64")), last)
good = ex.submit(full, ((4,), 1.5, np.dtype("float64")), ex.devices()[0])
if mode == "caught":
    try:
        ex.get([good, bad])
    except ValueError as exc:
        message = str(exc)
    else:
        message = ""
    check("could not convert" in message, f"the kernel's error reached rank {rank}: "
          f"{message!r}")
    close(x.T @ x, a.T @ a, "after the failure")
    done("failure-caught")
    sys.exit(0)

ex.get([good, bad])
print(f"rank {rank}: not aborted", flush=True)
