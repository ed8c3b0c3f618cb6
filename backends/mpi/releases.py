"""Deterministic release of the placement's memory bookkeeping under SPMD.

The greedy placement counts the bytes resident per device and forgets an array's blocks when
its Leaf is garbage collected. Garbage collection is not in lockstep across ranks: an exception
object that keeps frames alive on the rank that raised it, or the cycle collector running after
a different number of allocations, frees a Leaf on one rank earlier than on another. Applied at
once, such a release would make the ranks place the next op differently and the programs
diverge. So under MPI a release is only *recorded* when the Leaf dies, and applied at the next
``get`` for the releases every rank has recorded, in the order of their keys, so the placement
state changes identically everywhere at the same point of the program.

A Leaf's key is computed from the ids of its blocks' refs, which agree on every rank; equal
keys (two Leaves of the same blocks) are counted, not merged.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["DeferredReleases", "leaf_key"]

Key = tuple[int, int, int]


def leaf_key(leaf: Any) -> Key:
    """A key naming ``leaf`` identically on every rank: (blocks, first ref id, CRC of ids)."""
    ids = np.fromiter((getattr(r, "id", -1) for r in leaf.refs.flat), dtype=np.int64,
                      count=leaf.refs.size)
    first = int(ids[0]) if ids.size else -1
    return (int(ids.size), first, zlib.crc32(ids.tobytes()))


class DeferredReleases:
    """Releases recorded by one rank, applied when every rank has recorded them."""

    def __init__(self) -> None:
        self._pending: list[tuple[Key, Callable[[], None]]] = []
        self._snapshot = 0

    def add(self, key: Key, apply: Callable[[], None]) -> None:
        """Record a release (called from a Leaf's finaliser: must not fail or block)."""
        self._pending.append((key, apply))

    def snapshot(self) -> int:
        """Freeze the releases to offer at this sync point; returns how many."""
        self._snapshot = len(self._pending)
        return self._snapshot

    def settle(self, comm: Any, counts: list[int]) -> int:
        """Apply the releases every rank offered (a collective when every count is > 0).

        Parameters
        ----------
        comm : mpi4py.MPI.Comm
            Every rank calls this at the same sync point.
        counts : list of int
            Every rank's :meth:`snapshot` (the same list on every rank).

        Returns
        -------
        int
            How many releases were applied.
        """
        if not counts or min(counts) == 0:
            return 0
        offered = [key for key, _ in self._pending[:self._snapshot]]
        gathered = comm.allgather(offered)
        common = Counter(gathered[0])
        for keys in gathered[1:]:
            common &= Counter(keys)
        if not common:
            return 0
        chosen, keep = [], []
        for item in self._pending:
            if common[item[0]] > 0:
                common[item[0]] -= 1
                chosen.append(item)
            else:
                keep.append(item)
        self._pending = keep
        chosen.sort(key=lambda item: item[0])
        for _, apply in chosen:
            apply()
        return len(chosen)
