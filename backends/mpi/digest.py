"""The plan digest: a running hash of what a rank asked its executor to do.

Every ``put``, ``submit`` and ``get`` mixes a few integers into a 64-bit FNV-1a style hash:
the kernel (by a CRC of its name: Python's ``hash`` of a string differs between processes),
the device's rank, the ids of the ref arguments and the number of results. Plain arguments
(programs, slices, scalars) are not hashed: the ids already change when a rank takes another
branch, and hashing arbitrary objects would cost more than the submit itself. At every sync
point (``get``, ``shutdown``) the ranks exchange ``(kind, sequence, count, digest)`` and a
difference is reported as a diverged program instead of a hang.
"""

from __future__ import annotations

import zlib

__all__ = ["PlanDigest", "SYNC_GET", "SYNC_SHUTDOWN", "describe_sync"]

_MASK = (1 << 64) - 1
_PRIME = 0x100000001B3
_OFFSET = 0xCBF29CE484222325
_PUT = 0x5055
_GET = 0x474554
SYNC_GET = 1
SYNC_SHUTDOWN = 2
_KIND_NAMES = {SYNC_GET: "get", SYNC_SHUTDOWN: "shutdown"}


class PlanDigest:
    """A running hash of the operations one rank submitted, and how many there were."""

    __slots__ = ("value", "count", "_codes")

    def __init__(self) -> None:
        self.value = _OFFSET
        self.count = 0
        self._codes: dict[str, int] = {}

    def _code(self, name: str) -> int:
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = zlib.crc32(name.encode()) | (1 << 32)
        return code

    def submit(self, kernel_name: str, rank: int, num_returns: int, ref_ids: list[int]) -> None:
        """Mix one ``submit`` call."""
        v = self.value
        for x in (self._code(kernel_name), rank, num_returns, *ref_ids):
            v = ((v ^ (x & _MASK)) * _PRIME) & _MASK
        self.value = v
        self.count += 1

    def put(self, rank: int, ref_id: int) -> None:
        """Mix one ``put`` call."""
        v = self.value
        for x in (_PUT, rank, ref_id):
            v = ((v ^ x) * _PRIME) & _MASK
        self.value = v
        self.count += 1

    def get(self, ref_ids: list[int]) -> None:
        """Mix one ``get`` call."""
        v = ((self.value ^ _GET) * _PRIME) & _MASK
        for x in ref_ids:
            v = ((v ^ (x & _MASK)) * _PRIME) & _MASK
        self.value = ((v ^ len(ref_ids)) * _PRIME) & _MASK


def describe_sync(rank: int, message: tuple[int, ...]) -> str:
    """One line saying where ``rank`` stood at a sync point (a control message)."""
    kind, seq, count, value = message[:4]
    return (f"rank {rank}: {_KIND_NAMES.get(kind, kind)} #{seq} after {count} "
            f"put/submit calls, plan digest {value:#018x}")
