"""The testing oracle: compare a BlockArray with NumPy's answer, blocks included."""

from __future__ import annotations

from typing import Any

import numpy as np
from nums.kernels.registry import Kernel

import nums
from nums.array.conversion import is_blockarray

# One block, even blocks, ragged edge blocks: each test shape is cut these ways.
BLOCKINGS = ("one", "even", "ragged")


def block_shape_for(shape: tuple[int, ...], kind: str) -> tuple[int, ...]:
    """A block shape of the given kind for ``shape``."""
    if kind == "one":
        return tuple(max(n, 1) for n in shape)
    if kind == "even":
        return tuple(max(1, n // 2) if n % 2 == 0 else max(1, n) for n in shape)
    if kind == "ragged":
        return tuple(max(1, (n + 2) // 3) if n > 2 else max(n, 1) for n in shape)
    raise ValueError(kind)


def check_blocks(x: Any) -> None:
    """Every computed block has the shape and dtype the grid says."""
    leaf = x._leaf()
    grid = leaf.grid
    for axis, chunks in enumerate(grid.chunks):
        assert sum(chunks) == x.shape[axis], (grid.chunks, x.shape)
    values = nums.session().executor.get(list(leaf.refs.ravel()))
    for index, value in zip(grid.indices(), values):
        value = np.asarray(value)
        assert value.shape == grid.block_shape_at(index), \
            f"block {index} has shape {value.shape}, grid says {grid.block_shape_at(index)}"
        assert value.dtype == x.dtype, f"block {index} has dtype {value.dtype}, not {x.dtype}"


def assert_eq(actual: Any, expected: Any, *, rtol: float = 1e-7, atol: float = 0.0,
              check_dtype: bool = True, equal_nan: bool = True) -> None:
    """Assert a BlockArray equals NumPy's result: shape, dtype, values and block metadata."""
    expected = np.asarray(expected)
    if is_blockarray(actual):
        assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
        if check_dtype:
            assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
        check_blocks(actual)
        value = actual.get()
    else:
        value = np.asarray(actual)
    assert value.shape == expected.shape, f"shape {value.shape} != {expected.shape}"
    if check_dtype:
        assert value.dtype == expected.dtype, f"dtype {value.dtype} != {expected.dtype}"
    if expected.dtype.kind in "fc" or value.dtype.kind in "fc":
        np.testing.assert_allclose(value, expected, rtol=rtol, atol=atol, equal_nan=equal_nan)
    else:
        np.testing.assert_array_equal(value, expected)


def record_kernel_names(session: Any, monkeypatch: Any) -> list[str]:
    """The names of the kernels ``session``'s executor is given from now on (a list that
    grows as tasks are submitted; ``monkeypatch`` undoes the recording)."""
    names: list[str] = []
    submit = session.executor.submit

    def recording_submit(kernel, args, device, num_returns=1, nbytes=None):
        names.append(kernel.name)
        return submit(kernel, args, device, num_returns, nbytes)

    monkeypatch.setattr(session.executor, "submit", recording_submit)
    return names


class ByValueKernel(Kernel):
    """A test kernel that pickles by value (the registries of Ray workers and MPI ranks do
    not know it); register it with ``monkeypatch.setitem(all_kernels(), name, kernel)``."""

    __slots__ = ()

    def __reduce__(self):
        return ByValueKernel, (self.name, self.impls, self.num_returns)
