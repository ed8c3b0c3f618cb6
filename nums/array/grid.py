"""ArrayGrid: the arithmetic between an array's shape and its blocks.

An array of shape ``S`` is cut along every axis into consecutive blocks; ``chunks[a]`` lists
the block lengths along axis ``a`` (ragged edge blocks, and fully irregular blocks after slicing
or concatenation, are normal). The grid of blocks has shape ``tuple(len(c) for c in chunks)``.
An axis of length 0 has one block of length 0, so every array has at least one block.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["ArrayGrid", "chunks_from_block_shape", "default_block_shape"]


def chunks_from_block_shape(shape: Sequence[int],
                            block_shape: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """Split each axis of ``shape`` into blocks of ``block_shape`` (the last one ragged)."""
    if len(block_shape) != len(shape):
        raise ValueError(f"block_shape {tuple(block_shape)} does not have the {len(shape)} "
                         f"dimensions of shape {tuple(shape)}")
    chunks = []
    for n, b in zip(shape, block_shape):
        b = int(b)
        if b <= 0 and n > 0:
            raise ValueError(f"block_shape entries must be positive, got {tuple(block_shape)}")
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
