"""Random arrays: ``default_rng(seed)`` and the legacy ``RandomState`` functions.

Availability: every backend; blocks are generated on the device that owns them. A seed gives
the same array on every backend, worker count and block shape (counter-based Philox streams
keyed by the seed, the draw number and a canonical chunk of the array; see
:mod:`nums.kernels.random`). The values differ from NumPy's own generator for the same seed.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from nums.array.blockarray import BlockArray
from nums.array.conversion import check_dtype, grid_for
from nums.ir.creation import Create
from nums.kernels.random import RandomSpec

__all__ = ["Generator", "default_rng", "RandomState", "seed", "rand", "randn", "randint",
           "random_sample", "random", "standard_normal", "normal", "uniform"]


def _size(size: Any) -> tuple[int, ...]:
    if size is None:
        return ()
    if isinstance(size, (int, np.integer)):
        return (operator.index(size),)
    return tuple(operator.index(n) for n in size)


class Generator:
    """A seeded source of random BlockArrays (the counterpart of ``numpy.random.Generator``).

    Parameters
    ----------
    seed : int, sequence of int, or None
        None draws fresh entropy from the operating system.
    """

    def __init__(self, seed: Any = None) -> None:
        self._entropy = np.random.SeedSequence(seed).entropy
        self._stream = 0

    def __repr__(self) -> str:
        return f"nums.numpy.random.Generator(entropy={self._entropy}, draws={self._stream})"

    def _create(self, method: str, size: Any, dtype: Any, args: tuple[Any, ...],
                block_shape: Sequence[int] | None) -> BlockArray:
        shape = _size(size)
        dtype = check_dtype(dtype)
        grid = grid_for(shape, dtype, block_shape)  # checked before the draw counts
        spec = RandomSpec(method, self._entropy, self._stream, args, dtype, shape)
        self._stream += 1
        return BlockArray(Create(grid, dtype, "random_block",
                                 lambda index, offset, bshape: (spec, offset, bshape)))

    def random(self, size: Any = None, dtype: Any = np.float64, *,
               block_shape: Sequence[int] | None = None) -> BlockArray:
        """Floats uniform in [0, 1).

        Parameters
        ----------
        size : int or tuple of int, optional
        dtype : float32 or float64
        block_shape : tuple of int, optional

        Returns
        -------
        BlockArray
        """
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise TypeError(f"Unsupported dtype {np.dtype(dtype)} for random")
        return self._create("random", size, dtype, (), block_shape)

    def standard_normal(self, size: Any = None, dtype: Any = np.float64, *,
                        block_shape: Sequence[int] | None = None) -> BlockArray:
        """Samples of the standard normal distribution.

        Parameters
        ----------
        size : int or tuple of int, optional
        dtype : float32 or float64
        block_shape : tuple of int, optional

        Returns
        -------
        BlockArray
        """
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise TypeError(f"Unsupported dtype {np.dtype(dtype)} for standard_normal")
        return self._create("standard_normal", size, dtype, (), block_shape)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None, *,
               block_shape: Sequence[int] | None = None) -> BlockArray:
        """Samples of a normal distribution, ``loc + scale * standard_normal``.

        Parameters
        ----------
        loc, scale : float or array_like
        size : int or tuple of int, optional
        block_shape : tuple of int, optional

        Returns
        -------
        BlockArray
        """
        if np.any(np.asarray(scale) < 0):
            raise ValueError("scale < 0")
        if size is None:
            size = np.broadcast_shapes(np.shape(loc), np.shape(scale))
        return self.standard_normal(size, block_shape=block_shape) * scale + loc

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None, *,
                block_shape: Sequence[int] | None = None) -> BlockArray:
        """Samples uniform in [low, high), ``low + (high - low) * random``.

        Parameters
        ----------
        low, high : float or array_like
        size : int or tuple of int, optional
        block_shape : tuple of int, optional

        Returns
        -------
        BlockArray
        """
        if size is None:
            size = np.broadcast_shapes(np.shape(low), np.shape(high))
        return self.random(size, block_shape=block_shape) * (np.subtract(high, low)) + low

    def integers(self, low: int, high: int | None = None, size: Any = None,
                 dtype: Any = np.int64, endpoint: bool = False, *,
                 block_shape: Sequence[int] | None = None) -> BlockArray:
        """Random integers in [low, high) (or [low, high] with ``endpoint``).

        Parameters
        ----------
        low, high : int
            With one bound, draws from [0, low).
        size : int or tuple of int, optional
        dtype : integer dtype
        endpoint : bool
        block_shape : tuple of int, optional

        Returns
        -------
        BlockArray
        """
        if high is None:
            low, high = 0, low
        dt = check_dtype(dtype)
        if dt.kind not in "iub":
            raise TypeError(f"Unsupported dtype {dt} for integers")
        if (high < low) or (high == low and not endpoint):
            raise ValueError("low >= high" if not endpoint else "low > high")
        np.random.default_rng(0).integers(low, high, size=1, dtype=dt, endpoint=endpoint)
        return self._create("integers", size, dt, (int(low), int(high), bool(endpoint)),
                            block_shape)


def default_rng(seed: Any = None) -> Generator:
    """A new :class:`Generator`.

    Parameters
    ----------
    seed : int, sequence of int, Generator or None

    Returns
    -------
    Generator
    """
    if isinstance(seed, Generator):
        return seed
    return Generator(seed)


class RandomState:
    """The legacy interface (``rand``, ``randn``, ``randint``, ...), on a :class:`Generator`.

    Parameters
    ----------
    seed : int or None
    """

    def __init__(self, seed: Any = None) -> None:
        self._generator = Generator(seed)

    def seed(self, seed: Any = None) -> None:
        """Restart the stream from ``seed``."""
        self._generator = Generator(seed)

    def rand(self, *shape: int) -> BlockArray:
        """Uniform [0, 1) samples of the given shape."""
        return self._generator.random(shape)

    def randn(self, *shape: int) -> BlockArray:
        """Standard normal samples of the given shape."""
        return self._generator.standard_normal(shape)

    def randint(self, low: int, high: int | None = None, size: Any = None,
                dtype: Any = int) -> BlockArray:
        """Random integers in [low, high) ([0, low) with one bound)."""
        return self._generator.integers(low, high, size, dtype=dtype)

    def random_sample(self, size: Any = None) -> BlockArray:
        """Uniform [0, 1) samples."""
        return self._generator.random(size)

    random = random_sample

    def standard_normal(self, size: Any = None) -> BlockArray:
        """Standard normal samples."""
        return self._generator.standard_normal(size)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> BlockArray:
        """Normal samples."""
        return self._generator.normal(loc, scale, size)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> BlockArray:
        """Uniform [low, high) samples."""
        return self._generator.uniform(low, high, size)


_global_state: RandomState | None = None


def _state() -> RandomState:
    global _global_state
    if _global_state is None:
        _global_state = RandomState()
    return _global_state


def seed(seed: Any = None) -> None:
    """Seed the legacy global random state.

    Parameters
    ----------
    seed : int or None
    """
    _state().seed(seed)


def rand(*shape: int) -> BlockArray:
    """Uniform [0, 1) samples of the given shape (legacy global state).

    Parameters
    ----------
    *shape : int

    Returns
    -------
    BlockArray
    """
    return _state().rand(*shape)


def randn(*shape: int) -> BlockArray:
    """Standard normal samples of the given shape (legacy global state).

    Parameters
    ----------
    *shape : int

    Returns
    -------
    BlockArray
    """
    return _state().randn(*shape)


def randint(low: int, high: int | None = None, size: Any = None, dtype: Any = int) -> BlockArray:
    """Random integers (legacy global state).

    Parameters
    ----------
    low, high : int
    size : int or tuple of int, optional
    dtype : integer dtype

    Returns
    -------
    BlockArray
    """
    return _state().randint(low, high, size, dtype)


def random_sample(size: Any = None) -> BlockArray:
    """Uniform [0, 1) samples (legacy global state).

    Parameters
    ----------
    size : int or tuple of int, optional

    Returns
    -------
    BlockArray
    """
    return _state().random_sample(size)


random = random_sample


def standard_normal(size: Any = None) -> BlockArray:
    """Standard normal samples (legacy global state).

    Parameters
    ----------
    size : int or tuple of int, optional

    Returns
    -------
    BlockArray
    """
    return _state().standard_normal(size)


def normal(loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> BlockArray:
    """Normal samples (legacy global state).

    Parameters
    ----------
    loc, scale : float
    size : int or tuple of int, optional

    Returns
    -------
    BlockArray
    """
    return _state().normal(loc, scale, size)


def uniform(low: Any = 0.0, high: Any = 1.0, size: Any = None) -> BlockArray:
    """Uniform [low, high) samples (legacy global state).

    Parameters
    ----------
    low, high : float
    size : int or tuple of int, optional

    Returns
    -------
    BlockArray
    """
    return _state().uniform(low, high, size)
