"""Point-to-point transfers and control messages of the MPI executor.

Every transfer is one block sent by its owner to one rank that needs it: a header
(:mod:`nums.backends.mpi.wire`) then the payload messages, all non-blocking (``Isend`` /
``Irecv``) and buffer-based. The receiver posts the header receive as soon as it learns that
it will need the block (at ``submit``), so the owner's ``Isend`` always finds it; payload
receives are posted when the header has arrived, straight into freshly allocated buffers.

Tags: the header of ref ``i`` uses tag ``1 + 2 * (i mod M)`` and its payload the next tag,
with ``M = (TAG_UB - 1) // 2`` (tag 0 is for control messages, tag ``2 * M + 1`` for the
reports that ranks whose programs diverged exchange before aborting). Tags wrap after ``M``
refs, so the receiver never trusts a tag: the header carries the full ref id and the transfer
is looked up by ``(source, id)``. Two in-flight transfers with the same tag from the same
source would still match correctly, because MPI keeps messages of one (source, tag) in order
and payload receives are posted in the order their headers arrive.

All of this runs on a private duplicate of the user's communicator, so user MPI code and a
later nums session cannot see these messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from nums.backends.mpi import wire

__all__ = ["Transport", "Backoff", "CONTROL_TAG", "CONTROL_WORDS"]

CONTROL_TAG = 0
CONTROL_WORDS = 5


class Backoff:
    """Waiting without blocking inside MPI: spin, then yield the CPU, then sleep.

    A blocking ``MPI_Wait*`` never returns to Python, so Ctrl-C, ``pytest-timeout`` and
    signal handlers could not run while a rank waits, and MPICH's busy-wait would take a core
    from the ranks still computing when ranks outnumber cores. So a wait tests in a loop:
    64 times back to back, then yielding the CPU (``sleep(0)``) for up to 2 ms, then sleeping
    50 us, doubling up to 0.5 ms: quick replies cost little latency, long waits little CPU.
    MPI moves a large message only while it is tested, so while this rank receives a payload
    it keeps spinning, and while its own sends are in flight it keeps yielding, never sleeps.
    """

    IDLE, SENDING, RECEIVING = 0, 1, 2
    __slots__ = ("spins", "since", "delay")

    def __init__(self) -> None:
        self.spins = 0
        self.since = 0.0
        self.delay = 50e-6

    @property
    def spinning(self) -> bool:
        """Still in the first, back-to-back phase (no need to ask what is in flight)."""
        return self.spins < 64

    def pause(self, moving: int = IDLE) -> None:
        """Wait a little before the next test; ``moving`` says what this rank has in flight
        (:attr:`IDLE`, :attr:`SENDING` or :attr:`RECEIVING`)."""
        self.spins += 1
        if self.spins <= 64 or moving == Backoff.RECEIVING:
            return
        now = time.perf_counter()
        if self.spins == 65:
            self.since = now
        if moving == Backoff.SENDING or now - self.since < 2e-3:
            time.sleep(0)
            return
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, 0.5e-3)


class _Incoming:
    __slots__ = ("on_done", "header", "bufs", "remaining")

    def __init__(self, on_done: Callable[[int, Any], None]) -> None:
        self.on_done = on_done
        self.header: wire.Header | None = None
        self.bufs: list[np.ndarray] = []
        self.remaining = 0


class Transport:
    """Non-blocking transfers and control messages over a duplicated communicator.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The communicator to duplicate.
    chunk_bytes : int
        Largest single message; longer buffers are split.
    inline_bytes : int
        Values with at most this many bytes of buffers travel inside the header.
    """

    def __init__(self, comm: Any, chunk_bytes: int = wire.DEFAULT_CHUNK_BYTES,
                 inline_bytes: int = wire.INLINE_BYTES) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.chunk_bytes = int(chunk_bytes)
        self.inline_bytes = int(inline_bytes)
        tag_ub = self.comm.Get_attr(MPI.TAG_UB) or 32767
        self._tag_mod = max(1, (int(tag_ub) - 1) // 2)
        self._report_tag = 2 * self._tag_mod + 1  # above every block's tags, <= TAG_UB
        self._reqs: list[Any] = []
        self._done: list[Callable[[], None]] = []
        self._sends: list[Any] = []
        self._keep: list[Any] = []
        self._incoming: dict[tuple[int, int], _Incoming] = {}
        self._receiving = 0  # incoming transfers whose header has arrived
        self._control_reqs: dict[int, Any] = {}
        self.stats = {"transfers": 0, "messages": 0, "bytes": 0}
        self.on_control: Callable[[int, tuple[int, ...]], None] | None = None
        for peer in range(self.size):
            if peer != self.rank:
                self._post_control(peer)

    # -- bookkeeping -------------------------------------------------------------------
    @property
    def incoming(self) -> int:
        """Transfers this rank still waits for."""
        return len(self._incoming)

    @property
    def busy(self) -> bool:
        """Whether transfers are in flight (receives awaited or sends not yet seen done)."""
        return bool(self._incoming or self._sends)

    def moving(self) -> int:
        """What data is flowing: :attr:`Backoff.RECEIVING` (a payload is arriving),
        :attr:`Backoff.SENDING` (a send is not done yet) or :attr:`Backoff.IDLE`."""
        if self._receiving:
            return Backoff.RECEIVING
        self.prune_sends()
        return Backoff.SENDING if self._sends else Backoff.IDLE

    def _tag(self, ref_id: int) -> int:
        return 1 + 2 * (ref_id % self._tag_mod)

    def _add(self, req: Any, done: Callable[[], None]) -> None:
        self._reqs.append(req)
        self._done.append(done)

    def poll(self, block: bool) -> bool:
        """Handle completed receives; with ``block``, wait until at least one completes.

        Returns
        -------
        bool
            Whether any receive completed.
        """
        reqs = self._reqs
        if not reqs:
            return False
        testsome = self.MPI.Request.Testsome
        index = testsome(reqs)
        if not index:
            if not block:
                return False
            backoff = Backoff()
            while not index:
                backoff.pause(Backoff.IDLE if backoff.spinning else self.moving())
                index = testsome(reqs)
        index = sorted(index)  # posting order: headers of one source in arrival order
        handlers = [self._done[i] for i in index]
        done = set(index)
        self._reqs = [r for i, r in enumerate(reqs) if i not in done]
        self._done = [h for i, h in enumerate(self._done) if i not in done]
        for handler in handlers:
            handler()
        if len(self._sends) > 256:
            self.prune_sends()
        return True

    def prune_sends(self) -> None:
        """Forget completed sends (releasing their buffers)."""
        if not self._sends:
            return
        self.MPI.Request.Testsome(self._sends)
        null = self.MPI.REQUEST_NULL
        keep = [i for i, r in enumerate(self._sends) if r != null]
        self._sends = [self._sends[i] for i in keep]
        self._keep = [self._keep[i] for i in keep]

    def wait_sends(self) -> None:
        """Wait for every send to complete (their receivers must be posted or coming)."""
        if self._sends:
            testall, backoff = self.MPI.Request.Testall, Backoff()
            while not testall(self._sends):
                backoff.pause(Backoff.SENDING)
        self._sends, self._keep = [], []

    # -- block transfers ---------------------------------------------------------------
    def pack(self, ref_id: int, value: Any, error: BaseException | None) -> wire.Packed:
        """Serialize a block (or its kernel's exception)."""
        if error is not None:
            return wire.pack_error(ref_id, error, self.chunk_bytes)
        return wire.pack(ref_id, value, self.chunk_bytes, self.inline_bytes)

    def send(self, ref_id: int, packed: wire.Packed, dests: Sequence[int]) -> None:
        """Start sending a packed block to every rank in ``dests`` (counted in ``stats``:
        point-to-point transfers, messages and bytes sent by this rank)."""
        MPI, comm = self.MPI, self.comm
        tag = self._tag(ref_id)
        messages = list(packed.messages())
        stats = self.stats
        stats["transfers"] += len(dests)
        stats["messages"] += len(dests) * (1 + len(messages))
        stats["bytes"] += len(dests) * (len(packed.header) + sum(len(m) for m in messages))
        for dest in dests:
            self._sends.append(comm.Isend([packed.header, MPI.BYTE], dest, tag))
            self._keep.append(packed)
            for m in messages:
                self._sends.append(comm.Isend([m, MPI.BYTE], dest, tag + 1))
                self._keep.append(packed)

    def expect(self, ref_id: int, source: int, on_done: Callable[[int, Any], None]) -> None:
        """Post the header receive for block ``ref_id`` from ``source``.

        ``on_done(status, value)`` is called when the whole block has arrived (status 1: the
        value is the exception of the kernel that failed to compute it).
        """
        self._incoming[(source, ref_id)] = _Incoming(on_done)
        buf = np.empty(wire.HEADER_BYTES, dtype=np.uint8)
        req = self.comm.Irecv([buf, self.MPI.BYTE], source, self._tag(ref_id))
        self._add(req, lambda: self._on_header(source, buf))

    def _on_header(self, source: int, buf: np.ndarray) -> None:
        header = wire.parse_header(buf)
        inc = self._incoming.get((source, header.ref_id))
        if inc is None:
            raise RuntimeError(f"nums-mpi: rank {self.rank} received block {header.ref_id} "
                               f"from rank {source} that it did not expect (the ranks' "
                               "programs differ)")
        inc.header = header
        inc.bufs = wire.allocate(header)
        self._receiving += 1
        tag = self._tag(header.ref_id) + 1
        MPI, comm = self.MPI, self.comm
        for b in inc.bufs:
            for lo, hi in wire.chunk_ranges(len(b), header.chunk_bytes):
                inc.remaining += 1
                self._add(comm.Irecv([b[lo:hi], MPI.BYTE], source, tag),
                          lambda inc=inc, source=source: self._on_payload(source, inc))
        if inc.remaining == 0:
            self._finish(source, inc)

    def _on_payload(self, source: int, inc: _Incoming) -> None:
        inc.remaining -= 1
        if inc.remaining == 0:
            self._finish(source, inc)

    def _finish(self, source: int, inc: _Incoming) -> None:
        header = inc.header
        assert header is not None
        del self._incoming[(source, header.ref_id)]
        self._receiving -= 1
        status, value = wire.unpack(header, inc.bufs)
        inc.on_done(status, value)

    # -- control messages --------------------------------------------------------------
    def _post_control(self, peer: int) -> None:
        buf = np.empty(CONTROL_WORDS, dtype=np.uint64)
        req = self.comm.Irecv([buf, self.MPI.UINT64_T], peer, CONTROL_TAG)
        self._control_reqs[peer] = req
        self._add(req, lambda: self._on_control(peer, buf))

    def _on_control(self, peer: int, buf: np.ndarray) -> None:
        message = tuple(int(x) for x in buf)
        self._post_control(peer)
        if self.on_control is not None:
            self.on_control(peer, message)

    def send_control(self, message: Sequence[int]) -> None:
        """Send a control message (``CONTROL_WORDS`` unsigned 64-bit words) to every peer."""
        buf = np.array(message, dtype=np.uint64)
        for peer in range(self.size):
            if peer != self.rank:
                self._sends.append(self.comm.Isend([buf, self.MPI.UINT64_T], peer,
                                                   CONTROL_TAG))
                self._keep.append(buf)

    # -- reports: a diverged program's details, exchanged before aborting -------------------
    def send_report(self, payload: Any, dests: Sequence[int]) -> list[Any]:
        """Start sending a picklable ``payload`` to ``dests``; returns the requests."""
        return [self.comm.isend(payload, dest, self._report_tag) for dest in dests]

    def receive_report(self, source: int, timeout: float, sending: Sequence[Any] = ()
                       ) -> Any:
        """The report ``source`` sent, or None if none arrived within ``timeout`` seconds.

        Only MPI calls here (never :meth:`poll`), so it may run inside a message handler.
        The requests of ``sending`` are tested meanwhile, so this rank's own large reports
        move too.
        """
        comm, tag, status = self.comm, self._report_tag, self.MPI.Status()
        deadline, backoff = time.perf_counter() + timeout, Backoff()
        while not comm.iprobe(source=source, tag=tag, status=status):
            if sending:
                self.MPI.Request.Testall(list(sending))
            if time.perf_counter() > deadline:
                return None
            backoff.pause(Backoff.SENDING)
        return comm.recv(source=source, tag=tag)

    def finish_reports(self, sending: Sequence[Any], timeout: float) -> None:
        """Give this rank's reports up to ``timeout`` seconds to reach their receivers."""
        if not sending:
            return
        requests = list(sending)
        deadline, backoff = time.perf_counter() + timeout, Backoff()
        while not self.MPI.Request.Testall(requests) and time.perf_counter() < deadline:
            backoff.pause(Backoff.SENDING)

    # -- get: every rank learns the values ---------------------------------------------
    def broadcast(self, owners: Sequence[int], packed: dict[int, wire.Packed]
                  ) -> list[tuple[int, Any] | None]:
        """Make blocks known on every rank (a collective: every rank calls it alike).

        Parameters
        ----------
        owners : sequence of int
            The owning rank of each block, in the same order on every rank.
        packed : dict
            Position -> packed block, for the positions this rank owns.

        Returns
        -------
        list
            ``(status, value)`` per position for blocks owned by other ranks; None for this
            rank's own.
        """
        MPI, comm = self.MPI, self.comm
        mine = [(i, p.header) for i, p in packed.items()]
        headers: dict[int, bytes] = {}
        for part in comm.allgather(mine):
            headers.update(part)
        reqs, received = [], []
        for i, owner in enumerate(owners):
            if owner == self.rank:
                p = packed[i]
                reqs += [comm.Ibcast([m, MPI.BYTE], root=owner) for m in p.messages()]
                received.append(None)
                continue
            header = wire.parse_header(headers[i])
            bufs = wire.allocate(header)
            for b in bufs:
                for lo, hi in wire.chunk_ranges(len(b), header.chunk_bytes):
                    reqs.append(comm.Ibcast([b[lo:hi], MPI.BYTE], root=owner))
            received.append((header, bufs))
        if reqs:
            testall, backoff = MPI.Request.Testall, Backoff()
            while not testall(reqs):
                backoff.pause(Backoff.RECEIVING)
        return [None if r is None else wire.unpack(*r) for r in received]

    # -- shutdown ----------------------------------------------------------------------
    def close(self) -> None:
        """Cancel the control receives, finish the sends and free the communicator."""
        for req in self._control_reqs.values():
            req.Cancel()
            req.Wait()
        self._control_reqs = {}
        self._reqs, self._done = [], []
        self.wait_sends()
        self.comm.Free()
