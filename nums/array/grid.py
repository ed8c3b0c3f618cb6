"""ArrayGrid: the arithmetic between an array's shape and its blocks.

An array of shape ``S`` is cut along every axis into consecutive blocks; ``chunks[a]`` lists
the block lengths along axis ``a`` (ragged edge blocks, and fully irregular blocks after slicing
or concatenation, are normal). The grid of blocks has shape ``tuple(len(c) for c in chunks)``.
An axis of length 0 has one block of length 0, so every array has at least one block.

Default blocks (no ``block_shape=``) come from two functions:

- :func:`default_block_shape` is pure: shape, itemsize, target bytes and device count in,
  block shape out (about ``block_size`` bytes per block, trailing axes kept whole, the leading
  axis split first).
- :func:`aligned_block_shape` adds the **alignment rule**: arrays that share the length of a
  split leading axis get the same partition along it, whatever their other dimensions, so
  ``X`` (n, d), ``y`` (n,), ``w`` (n,) and ``X @ beta`` line up and elementwise work between
  them moves nothing. The session keeps a small table, *length of a split leading axis ->
  rows per block*, of partitions the default rule chose (``Session.default_partitions``;
  None turns the rule off):

  1. Compute the pure default. If it does not split axis 0 (the array fits in one block
     along it), return it unchanged and record nothing: small arrays are not affected.
  2. If ``shape[0]`` is in the table with ``rows`` per block, and blocks of ``rows`` rows
     (trailing axes whole) are at most ``ALIGN_SLACK`` (2) times ``block_size`` bytes, use
     them. Blocks may come out much smaller than the target (a vector following a wide
     matrix): alignment is worth more than block size there, since misaligned operands are
     re-blocked across devices (a Newton step of logistic regression on 10^9 x 256 moved
     20.6 GiB that way, 7.9 MB aligned).
  3. Otherwise (the new array's rows are wider, so reusing would make blocks too large) use
     the pure default and, when that default splits axis 0 with the trailing axes whole,
     record its rows for ``shape[0]``, replacing the entry: arrays created later follow the
     finer partition. Arrays made earlier keep theirs (blocks never change behind a user's
     back); create the widest array first, or pass ``block_shape=``, to align those too.

  The first array of a given length therefore gets exactly the pure default. The rule only
  depends on the order of creation calls, so every MPI rank (same program) picks the same
  blocks. The table holds one int per length and keeps at most ``ALIGN_TABLE_SIZE`` entries
  (oldest dropped first, deterministically).

  Why a remembered table rather than a rule of the length alone: no function of ``n`` gives
  blocks near the target both for an (n,) vector and an (n, 256) matrix, and a coarser
  vector partition that nests the matrix's (k matrix blocks per vector block) still moves
  the vector's pieces to the matrix's devices under the block-cyclic layout; only the
  identical partition makes the operands' blocks meet on one device.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from nums.runtime.settings import integer_tuple

__all__ = ["ArrayGrid", "chunks_from_block_shape", "check_block_shape", "default_block_shape",
           "aligned_block_shape", "ALIGN_SLACK", "ALIGN_TABLE_SIZE"]

MAX_BLOCKS = 2**26
"""Most blocks one array may have (its refs and devices are kept per block in the driver)."""
ALIGN_SLACK = 2
"""A remembered partition is reused while its blocks are at most this many times the target."""
ALIGN_TABLE_SIZE = 4096
"""Most lengths a session remembers a partition for (the oldest is dropped first)."""


def check_block_shape(block_shape: Any, shape: Sequence[int]) -> tuple[int, ...]:
    """``block_shape`` checked for an array of ``shape``, as a tuple of ints.

    An int (for a 1-d array) or a sequence of ints, one per axis: Python ints, NumPy integers
    or anything with ``__index__``. Floats, booleans and other types raise TypeError (as NumPy
    does for a float size), entries below 1 ValueError (0 is allowed on an axis of length 0,
    where every block is empty), and so does a wrong number of entries; every message names
    ``block_shape``.
    """
    result = integer_tuple(block_shape, "block_shape")
    if len(result) != len(shape):
        raise ValueError(f"block_shape {result} does not have the {len(shape)} "
                         f"dimensions of shape {tuple(shape)}")
    if any(b < 0 or (b == 0 and n != 0) for b, n in zip(result, shape)):
        raise ValueError(f"block_shape entries must be positive, got {result}")
    return result


def chunks_from_block_shape(shape: Sequence[int],
                            block_shape: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """Split each axis of ``shape`` into blocks of ``block_shape`` (the last one ragged;
    ``block_shape`` is checked by :func:`check_block_shape`).

    Raises
    ------
    MemoryError
        If that makes more than :data:`MAX_BLOCKS` blocks (the driver keeps a ref and a
        device per block), naming the shape and the count.
    """
    shape = tuple(int(n) for n in shape)
    block_shape = check_block_shape(block_shape, shape)
    count = math.prod(-(-n // b) if n > 0 else 1 for n, b in zip(shape, block_shape))
    if count > MAX_BLOCKS:
        raise MemoryError(f"an array of shape {shape} cut into blocks of {block_shape} would "
                          f"have {count:,} blocks; nums keeps a ref and a device per block in "
                          f"the driver and allows at most {MAX_BLOCKS:,}: pass a larger "
                          "block_shape (or block_size), or make the array smaller")
    chunks = []
    for n, b in zip(shape, block_shape):
        if n == 0:
            chunks.append((0,))
            continue
        full, rest = divmod(n, b)
        chunks.append((b,) * full + ((rest,) if rest else ()))
    return tuple(chunks)


def default_block_shape(shape: Sequence[int], itemsize: int, target_bytes: int,
                        num_devices: int = 1) -> tuple[int, ...]:
    """Pick a block shape for ``shape``: about ``target_bytes`` per block, split row-major.

    Trailing axes are kept whole as long as possible (blocks stay contiguous in C order), the
    leading axis is split first. Arrays larger than ``num_devices`` minimum-size blocks are cut
    into at least ``num_devices`` blocks so every device gets work, and the number of blocks
    along the split axis is rounded up to a multiple of ``num_devices`` where that is possible.

    A pure function of its arguments. Creation calls and elementwise results do not call it
    directly but :func:`aligned_block_shape` (through the session's table, see
    :func:`nums.array.conversion.default_grid_block_shape`), which returns this block shape
    for the first array of a given length and lines later arrays of that length up with it.
    """
    shape = tuple(int(n) for n in shape)
    if not shape:
        return ()
    total = math.prod(shape) * max(itemsize, 1)
    target = max(int(target_bytes), itemsize, 1)
    if num_devices > 1 and total > num_devices * 64 * 1024:
        target = min(target, -(-total // num_devices))
    block = list(shape)
    inner = max(itemsize, 1)
    # Walk from the last axis to the first, keeping axes whole while they fit.
    for axis in range(len(shape) - 1, -1, -1):
        n = max(shape[axis], 1)
        if inner * n <= target:
            inner *= n
            continue
        block[axis] = max(1, target // inner)
        for earlier in range(axis):
            block[earlier] = 1
        leading = math.prod(shape[:axis])
        count = -(-shape[axis] // block[axis])
        if num_devices > 1 and leading == 1 and count % num_devices:
            # A few blocks that do not divide evenly over the devices leave some idle in the
            # last round; a few more, slightly smaller blocks balance the rounds.
            rounds = -(-count // num_devices)
            block[axis] = max(1, -(-shape[axis] // (rounds * num_devices)))
        break
    return tuple(max(1, b) if n > 0 else 0 for b, n in zip(block, shape))


def aligned_block_shape(shape: Sequence[int], itemsize: int, target_bytes: int,
                        num_devices: int = 1, partitions: dict[int, int] | None = None,
                        record: bool = True) -> tuple[int, ...]:
    """The default block shape under the alignment rule (see the module docstring).

    Arrays sharing the length of a split leading axis get one partition along it: if
    ``partitions`` (length -> rows per block, the session's table) holds ``shape[0]`` and
    blocks of that many rows, trailing axes whole, are at most ``ALIGN_SLACK * target_bytes``,
    they are used. Otherwise the result is :func:`default_block_shape`, and when that splits
    axis 0 (trailing axes whole) its rows are recorded in ``partitions`` for ``shape[0]``
    (if ``record``), so later arrays of that length follow. Arrays whose default does not
    split axis 0 are returned unchanged and not recorded, and with ``partitions=None`` this
    is exactly :func:`default_block_shape`.

    Parameters
    ----------
    shape, itemsize, target_bytes, num_devices
        As for :func:`default_block_shape`.
    partitions : dict of int to int, optional
        The remembered partitions; updated in place when ``record``.
    record : bool
        Whether a new partition may be recorded (False where the caller does not use the
        default along axis 0).

    Returns
    -------
    tuple of int
    """
    shape = tuple(int(n) for n in shape)
    block = default_block_shape(shape, itemsize, target_bytes, num_devices)
    if partitions is None or not shape or shape[0] <= 0 or block[0] >= shape[0]:
        return block
    n = shape[0]
    rows = partitions.get(n)
    if rows is not None:
        if rows == block[0] and block[1:] == shape[1:]:
            return block
        row_bytes = math.prod(shape[1:]) * max(itemsize, 1)
        if rows * row_bytes <= ALIGN_SLACK * max(int(target_bytes), itemsize, 1):
            return (rows, *shape[1:])
    if record and block[1:] == shape[1:]:
        partitions.pop(n, None)
        while len(partitions) >= ALIGN_TABLE_SIZE:
            del partitions[next(iter(partitions))]
        partitions[n] = block[0]
    return block


class ArrayGrid:
    """Block boundaries of one array.

    Parameters
    ----------
    chunks : tuple of tuple of int
        Block lengths along each axis.
    """

    __slots__ = ("chunks", "shape", "grid_shape", "offsets", "_block_shape", "_nbytes",
                 "num_blocks", "size", "_shape_list")

    def __init__(self, chunks: Sequence[Sequence[int]]) -> None:
        self.chunks = tuple(tuple(int(c) for c in axis) for axis in chunks)
        self.shape = tuple(sum(axis) for axis in self.chunks)
        self.grid_shape = tuple(len(axis) for axis in self.chunks)
        self.offsets = tuple(tuple(itertools.accumulate(axis, initial=0))
                             for axis in self.chunks)
        self._block_shape = tuple(max(axis) for axis in self.chunks)
        self._nbytes: dict[int, np.ndarray] = {}
        self.num_blocks = math.prod(self.grid_shape)
        self.size = math.prod(self.shape)
        self._shape_list: list[tuple[int, ...]] | None = None

    @classmethod
    def regular(cls, shape: Sequence[int], block_shape: Sequence[int]) -> ArrayGrid:
        """Grid of ``shape`` cut into blocks of ``block_shape``."""
        return cls(chunks_from_block_shape(shape, block_shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def block_shape(self) -> tuple[int, ...]:
        """Shape of the largest (first) block."""
        return self._block_shape

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArrayGrid) and self.chunks == other.chunks

    def __hash__(self) -> int:
        return hash(self.chunks)

    def __repr__(self) -> str:
        return f"ArrayGrid(shape={self.shape}, block_shape={self.block_shape}, " \
               f"grid_shape={self.grid_shape})"

    def indices(self) -> Iterator[tuple[int, ...]]:
        """Every block index, in row-major order."""
        return itertools.product(*(range(g) for g in self.grid_shape))

    def block_shape_at(self, index: Sequence[int]) -> tuple[int, ...]:
        """Shape of block ``index``."""
        return tuple(c[i] for c, i in zip(self.chunks, index))

    def block_slices(self, index: Sequence[int]) -> tuple[slice, ...]:
        """Slices of the whole array that block ``index`` covers."""
        return tuple(slice(o[i], o[i + 1]) for o, i in zip(self.offsets, index))

    def block_offset(self, index: Sequence[int]) -> tuple[int, ...]:
        """Position of the first element of block ``index``."""
        return tuple(o[i] for o, i in zip(self.offsets, index))

    def locate(self, axis: int, position: int) -> int:
        """Index of the block along ``axis`` that holds element ``position``."""
        return bisect.bisect_right(self.offsets[axis], position) - 1

    def block_nbytes(self, itemsize: int) -> np.ndarray:
        """Bytes of every block for elements of ``itemsize`` bytes (float array of
        ``grid_shape``; cached, read-only)."""
        found = self._nbytes.get(itemsize)
        if found is None:
            found = np.full(self.grid_shape, float(itemsize))
            for axis, chunks in enumerate(self.chunks):
                view = [1] * self.ndim
                view[axis] = len(chunks)
                found = found * np.asarray(chunks, dtype=np.float64).reshape(view)
            found.setflags(write=False)
            self._nbytes[itemsize] = found
        return found

    def block_shape_list(self) -> list[tuple[int, ...]]:
        """Every block's shape, in row-major block order (cached; do not modify)."""
        if self._shape_list is None:
            self._shape_list = list(itertools.product(*self.chunks))
        return self._shape_list

    def block_shapes(self) -> np.ndarray:
        """Object array of ``grid_shape`` holding every block's shape."""
        out = np.empty(self.grid_shape, dtype=object)
        for index in self.indices():
            out[index] = self.block_shape_at(index)
        return out
