"""Moving whole arrays between the driver and the executor: :func:`fetch` waits for an
array's blocks and assembles them; :func:`put_blocks` cuts a NumPy array into blocks and puts
each on its block-cyclic device. They speak to the executor only (no IR)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nums.runtime import session as _session_module
from nums.runtime.session import Session, current, stale_array_error

__all__ = ["fetch", "put_blocks"]


def fetch(leaf: Any, session: Session | None = None) -> np.ndarray:
    """Wait for the blocks of ``leaf`` (a computed array: ``refs``, ``grid``, ``shape``,
    ``dtype``, ``session``) and assemble them into one NumPy array.

    Raises RuntimeError (:func:`~nums.runtime.session.stale_array_error`) if the session that
    made ``leaf`` was shut down (no session is started for that)."""
    if leaf.session != (session.id if session is not None else _session_module.running_id):
        raise stale_array_error(leaf.session)
    session = session or current()
    refs = leaf.refs
    if refs.size == 1:  # a copy: the caller may write to it, blocks stay immutable
        (value,) = session.executor.get([refs.flat[0]])
        if type(value) is np.ndarray and value.dtype == leaf.dtype \
                and value.shape == leaf.shape:
            return value.copy()
        return np.array(value, dtype=leaf.dtype, copy=True).reshape(leaf.shape)
    values = session.executor.get(list(refs.ravel()))
    out = np.empty(leaf.shape, dtype=leaf.dtype)
    for index, value in zip(leaf.grid.indices(), values):
        out[leaf.grid.block_slices(index)] = value
    return out


def put_blocks(grid: Any, dtype: np.dtype, array: np.ndarray, copy: bool,
               session: Session | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Put the blocks of a NumPy ``array``, cut along ``grid`` (an
    :class:`~nums.array.grid.ArrayGrid`), on their block-cyclic devices.

    Returns the refs and the device indices, as object and int arrays of the grid's shape.
    Blocks are copied when ``copy`` is true or they are not C-contiguous (the executor may
    keep a view otherwise); an SPMD rank keeps only the blocks of its own devices.
    """
    session = session or current()
    placement = session.placement
    devices = placement.output_devices(grid.grid_shape)
    sizes = grid.block_nbytes(np.dtype(dtype).itemsize)
    executor = session.executor
    put, is_local = executor.put, executor.is_local
    refs = np.empty(grid.grid_shape, dtype=object)
    for index in grid.indices():
        block = array[grid.block_slices(index)]
        d = placement.fixed(int(devices[index]), float(sizes[index]))
        device = session.devices[d]
        if (copy or not block.flags.c_contiguous) and is_local(device):
            block = np.array(block, dtype=dtype, order="C", copy=True)
        refs[index] = put(block, device)
    return refs, devices.copy()
