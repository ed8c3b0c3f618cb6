"""How one value travels between ranks: a small fixed-size header, then raw buffers.

A value is pickled with protocol 5 and its large buffers taken *out of band*
(``buffer_callback``), so a NumPy array travels as a ~150-byte description (dtype, shape,
order) plus its own memory, sent without a copy; tuples of arrays (reduction partials) work
the same way. Small values (at most ``inline_bytes`` of buffers) are pickled in band and,
with their description, ride in the header itself: one message. Non-contiguous arrays are made
contiguous first (one copy, on the sender only).

Wire layout of a header (at most :data:`HEADER_BYTES`, so receivers can post it in advance):

====================  ======================================================================
``<q`` ref id         checked by the receiver (tags wrap, ids do not)
``<i`` status         0: a value; 1: a pickled exception (the kernel failed)
``<q`` meta length    length of the pickle stream
``<i`` buffer count   out-of-band buffers that follow as payload messages
``<i`` meta inline    1 when the pickle stream is inside the header, else it is payload #0
``<q`` chunk bytes    the largest payload message; longer buffers are split (MPI counts are
                      32-bit; large blocks travel as several messages)
``<q`` * count        the length of every out-of-band buffer
bytes                 the pickle stream, when inline
====================  ======================================================================
"""

from __future__ import annotations

import pickle
import struct
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["HEADER_BYTES", "DEFAULT_CHUNK_BYTES", "Packed", "Header", "pack", "pack_error",
           "parse_header", "unpack", "chunk_ranges", "allocate"]

HEADER_BYTES = 2048
DEFAULT_CHUNK_BYTES = 1 << 30  # 1 GiB: well below the 2 GiB limit of 32-bit MPI counts
INLINE_BYTES = 1024
MAX_BUFFERS = 64
_FIXED = struct.Struct("<qiqiiq")
_LEN = struct.Struct("<q")


@dataclass
class Packed:
    """A serialized value: header bytes plus the payload messages to send after it."""

    header: bytes
    payload: list[memoryview]
    chunk_bytes: int

    def messages(self) -> Iterator[memoryview]:
        """Every payload message in order (buffers split into ``chunk_bytes`` pieces)."""
        for buf in self.payload:
            for lo, hi in chunk_ranges(len(buf), self.chunk_bytes):
                yield buf[lo:hi]


@dataclass
class Header:
    """A parsed header: what the payload messages will be."""

    ref_id: int
    status: int
    meta: bytes | None
    meta_len: int
    lengths: list[int]
    chunk_bytes: int


def chunk_ranges(total: int, chunk_bytes: int) -> list[tuple[int, int]]:
    """Split ``total`` bytes into ``[lo, hi)`` pieces of at most ``chunk_bytes`` (none if 0)."""
    return [(lo, min(total, lo + chunk_bytes)) for lo in range(0, total, chunk_bytes)]


def _contiguous(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.flags.c_contiguous or value.flags.f_contiguous or value.dtype.hasobject:
            return value
        return np.ascontiguousarray(value)
    if type(value) in (tuple, list):
        return type(value)(_contiguous(v) for v in value)
    return value


def _small(value: Any, inline_bytes: int) -> bool:
    if isinstance(value, np.ndarray):
        return value.nbytes <= inline_bytes
    if type(value) in (tuple, list):
        return all(_small(v, inline_bytes) for v in value)
    return True


def _pickle(value: Any, inline_bytes: int) -> tuple[bytes, list[memoryview]]:
    if _small(value, inline_bytes):
        return pickle.dumps(value, protocol=5), []
    buffers: list[pickle.PickleBuffer] = []
    meta = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    if len(raws) > MAX_BUFFERS or sum(len(r) for r in raws) <= inline_bytes:
        return pickle.dumps(value, protocol=5), []
    return meta, raws


def _header(ref_id: int, status: int, meta: bytes, raws: Sequence[memoryview],
            chunk_bytes: int) -> Packed:
    lengths = b"".join(_LEN.pack(len(r)) for r in raws)
    room = HEADER_BYTES - _FIXED.size - len(lengths)
    inline = len(meta) <= room
    fixed = _FIXED.pack(ref_id, status, len(meta), len(raws), int(inline), chunk_bytes)
    if inline:
        return Packed(fixed + lengths + meta, list(raws), chunk_bytes)
    return Packed(fixed + lengths, [memoryview(meta), *raws], chunk_bytes)


def pack(ref_id: int, value: Any, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
         inline_bytes: int = INLINE_BYTES) -> Packed:
    """Serialize ``value`` (the result of ref ``ref_id``) for sending.

    Parameters
    ----------
    ref_id : int
        The ref's sequence id, written into the header.
    value : object
        A NumPy array, a tuple of arrays, or any picklable object.
    chunk_bytes : int
        Largest payload message; longer buffers are split.
    inline_bytes : int
        Values whose buffers total at most this many bytes travel inside the header.

    Returns
    -------
    Packed
    """
    meta, raws = _pickle(_contiguous(value), inline_bytes)
    return _header(ref_id, 0, meta, raws, chunk_bytes)


def pack_error(ref_id: int, error: BaseException,
               chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Packed:
    """Serialize a kernel's exception in place of its value (receivers re-raise it)."""
    try:
        meta = pickle.dumps(error, protocol=5)
        pickle.loads(meta)
    except Exception:  # an exception that does not survive pickling: keep type and message
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        meta = pickle.dumps(RuntimeError(text), protocol=5)
    return _header(ref_id, 1, meta, [], chunk_bytes)


def parse_header(buf: np.ndarray | bytes) -> Header:
    """Read a header received into ``buf`` (a uint8 array or bytes)."""
    raw = memoryview(buf).cast("B") if not isinstance(buf, bytes) else memoryview(buf)
    ref_id, status, meta_len, count, inline, chunk = _FIXED.unpack_from(raw, 0)
    pos = _FIXED.size
    lengths = [_LEN.unpack_from(raw, pos + 8 * i)[0] for i in range(count)]
    pos += 8 * count
    meta = bytes(raw[pos:pos + meta_len]) if inline else None
    return Header(ref_id, status, meta, meta_len, lengths, chunk)


def allocate(header: Header) -> list[np.ndarray]:
    """Receive buffers for a header's payload, in message order."""
    bufs = [] if header.meta is not None else [np.empty(header.meta_len, dtype=np.uint8)]
    return bufs + [np.empty(n, dtype=np.uint8) for n in header.lengths]


def unpack(header: Header, bufs: Sequence[np.ndarray]) -> tuple[int, Any]:
    """Rebuild ``(status, value)`` from a header and its received payload buffers."""
    if header.meta is None:
        meta, data = bytes(bufs[0]), list(bufs[1:])
    else:
        meta, data = header.meta, list(bufs)
    return header.status, pickle.loads(meta, buffers=data)
