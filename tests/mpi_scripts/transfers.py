"""Blocks of every dtype cross ranks intact: contiguous or not, inline or out of band, in one
message or split into many (``chunk_bytes`` is forced small), by point-to-point transfer and by
the broadcast of ``get``; tuples (reduction partials) and Python objects too.

Run with ``CHUNK`` (argv[1], default 1000 bytes) to force splitting.
"""

from __future__ import annotations

import sys

import numpy as np
from _common import check, close, done, same_everywhere, start
from nums.kernels.registry import kernel

import nums.numpy as nps

chunk = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
ex = start(chunk_bytes=chunk)
rank, size = ex.rank, ex.size
devices = ex.devices()
take = kernel("take_slice")

DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]


def sample(dtype: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) > 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    values = rng.standard_normal(shape) * 100
    if dt.kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dt)


moved = 0
for seed, dtype in enumerate(DTYPES):
    for shape in [(3, 4), (40, 33)]:  # inline (a few bytes) and out of band (> 1 KiB)
        a = sample(dtype, shape, seed)
        owner, user = devices[seed % size], devices[(seed + 1) % size]
        ref = ex.put(a, owner)
        # A non-contiguous view made on the owner, read by a task on another rank.
        view = ex.submit(take, ((slice(None, None, 2), slice(1, None, 3)), ref), owner)
        copy = ex.submit(take, ((slice(None), slice(None)), view), user)
        flipped = ex.submit(take, ((slice(None, None, -1), slice(None)), copy), owner)
        got_view, got_copy, got_flipped = ex.get([view, copy, flipped])
        expected = a[::2, 1::3]
        for what, value, want in (("view", got_view, expected), ("copy", got_copy, expected),
                                  ("flipped", got_flipped, expected[::-1])):
            check(value.dtype == want.dtype and value.shape == want.shape,
                  f"{dtype}{shape} {what}: {value.dtype}{value.shape}")
            check(np.array_equal(value, want, equal_nan=dtype.startswith(("f", "c"))),
                  f"{dtype}{shape} {what} values")
        moved += 2

        # Through the API: a non-contiguous slice of a blocked array, gathered everywhere.
        x = nps.array(a, block_shape=(max(1, shape[0] // 3), max(1, shape[1] // 2)))
        close(x[1::2, ::-2], a[1::2, ::-2], f"{dtype}{shape} api slice")
        close(x.T, a.T, f"{dtype}{shape} api transpose")

# Reduction partials (tuples) and plain Python objects.
b = np.arange(1000.0).reshape(40, 25)
xb = nps.array(b, block_shape=(7, 6))
close(xb.var(axis=0), b.var(axis=0), "var partials")
close(nps.argmax(xb, axis=0), np.argmax(b, axis=0), "argmax partials")
obj = ex.put({"answer": 42, "list": [1, 2.5, "x"]}, devices[size - 1])
(value,) = ex.get([obj])
check(value == {"answer": 42, "list": [1, 2.5, "x"]}, "python object")

# Empty and 0-d blocks, NumPy scalars.
for value in (np.empty((0, 5)), np.array(3.5), np.float32(2.5), np.zeros((3, 0), np.int8)):
    ref = ex.put(value, devices[0])
    moved_ref = ex.submit(kernel("reshape_block"), (np.shape(value), ref), devices[size - 1])
    got, back = ex.get([ref, moved_ref])
    for what, v in (("get", got), ("moved", back)):
        check(np.asarray(v).dtype == np.asarray(value).dtype, f"{what} {value!r} dtype")
        check(np.shape(v) == np.shape(value) and np.array_equal(v, value), f"{what} {value!r}")

# A block larger than many chunks, both ways.
big = sample("float64", (300, 257), 99)
ref = ex.put(big, devices[0])
other = ex.submit(take, ((slice(None), slice(None)), ref), devices[size - 1])
(back,) = ex.get([other])
check(np.array_equal(back, big), "big block split into chunks")
same_everywhere(float(back.sum()), "big block checksum")
# free: tasks submitted before still get their inputs; a later use fails on every rank.
c = np.arange(40.0).reshape(8, 5)
xc = nps.array(c, block_shape=(2, 5))
yc = ((xc + 1) * 2).T.persist()
ex.free(list(xc._leaf().refs.ravel()))
close(yc, ((c + 1) * 2).T, "computed from freed blocks submitted before the free")
try:
    (xc + 1).get()
except ReferenceError:
    pass
else:
    check(False, "a freed block was used without ReferenceError")

stats = ex.transport.stats
if rank == 0:  # rank 0 owns "big" and sent it in pieces
    check(stats["messages"] >= big.nbytes // chunk, f"big block was not split: {stats}")
print(f"rank {rank}: {stats}; checked {moved} transfers with chunk_bytes={chunk}", flush=True)
done("transfers")
