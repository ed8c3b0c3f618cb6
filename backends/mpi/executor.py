"""The MPI executor: the same script on every rank (SPMD), one CPU device per rank.

Every rank runs the user's script, so every rank builds the same IR, takes the same placement
decisions and makes the same sequence of ``put`` / ``submit`` / ``get`` calls on its executor.
Each call advances a ref counter identically everywhere, so a block is named by the same id on
every rank (:mod:`nums.backends.mpi.refs`). A rank

* runs only the tasks placed on its own device (``device.node == rank``);
* sends a block it owns to a rank whose task needs it, once per rank (the receiver keeps the
  copy while the block lives), with non-blocking, buffer-based messages
  (:mod:`nums.backends.mpi.transport`); the sends start as soon as the block is computed;
* receives the blocks its own tasks need, posted at ``submit`` time.

Tasks run in dependency order when the lowering calls :meth:`MPIExecutor.flush` (after each
node: tasks whose inputs have not arrived yet stay queued, so a rank plans the next node while
its peers compute) and when :meth:`MPIExecutor.get` drains the queue. Only ``get`` and
``shutdown`` ever block, and a rank blocks only for a message whose sender computes it without
waiting for anything later in the program, so a consistent program cannot deadlock.

``get`` is the sync point: each rank sends its plan digest (:mod:`nums.backends.mpi.digest`) to
the others *before* draining, so a rank stuck waiting for a block that a diverged peer will
never send learns about the divergence and aborts with a report of every rank's position
instead of hanging. The digest covers what every kernel computes (its name and its non-ref
arguments: the fused Program's ops and constants, reduction specs, slices, shapes, dtypes), so
ranks that built different programs over the same blocks are reported too, rather than
printing a value that neither program gives. Before aborting, the ranks that disagree
exchange their logs of the calls since the last sync point, and the report names the first
call where they part (its kernel, and what each rank passed to it). Then the owners broadcast
the requested blocks so the value is known on every rank (``if x.sum() > 0:`` takes the same
branch everywhere).

Errors: a kernel's exception fails the tasks that depend on it (on any rank: the exception
travels in place of the block) and is raised by ``get`` on every rank alike, as with the local
executors, so ``try`` / ``pytest.raises`` work under mpiexec. An exception that nobody catches
aborts the whole job (:mod:`nums.backends.mpi.failure`): the message is printed with the rank
and ``mpiexec`` exits non-zero at once. ``on_error="abort"`` aborts at the failing kernel
instead.

Placement: the greedy placement forgets an array's memory when its Leaf is garbage collected,
which does not happen at the same moment on every rank; those releases are deferred to the next
``get`` and applied only once every rank has made them (:mod:`nums.backends.mpi.releases`), so
every rank keeps placing ops alike.

Waiting (:class:`~nums.backends.mpi.transport.Backoff`) tests requests in a loop rather than
blocking inside MPI, so signals (Ctrl-C, test timeouts) are handled and a waiting rank does not
take a core from a computing one; while its own transfers are in flight it only yields the CPU,
because MPI moves their data only while they are tested.

Outside mpiexec, ``backend="mpi"`` is a single rank (MPI singleton init).
"""

from __future__ import annotations

import atexit
import os
import time
import traceback
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
from nums.backends.mpi import failure, wire
from nums.backends.mpi.digest import (
    SYNC_GET,
    SYNC_SHUTDOWN,
    PlanDigest,
    describe_sync,
    first_difference,
)
from nums.backends.mpi.refs import MPIRef, Task
from nums.backends.mpi.releases import DeferredReleases, leaf_key
from nums.backends.mpi.transport import Transport
from nums.kernels.registry import Kernel

from nums.runtime.device import Device
from nums.runtime.executor import Executor
from nums.runtime.memory import available_memory

__all__ = ["MPIExecutor", "MPIRef"]

_ON_ERROR = ("raise", "abort")
REPORT_SECONDS = 10.0  # how long a rank that found a divergence waits for its peer's log


class MPIExecutor(Executor):
    """SPMD executor: one CPU device per rank of ``comm``.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The ranks to run on (duplicated: nums' messages never mix with the user's).
    on_error : {"raise", "abort"}
        "raise": a kernel's exception is raised by ``get`` on every rank (uncaught, it aborts
        the job); "abort": print it and abort the job at once.
    chunk_bytes : int, optional
        Largest single message; larger blocks are split (default 1 GiB).
    inline_bytes : int, optional
        Blocks with at most this many bytes travel inside their header message.
    blas_threads : int, optional
        BLAS threads per rank; default: this node's cores divided by its ranks.
    """

    name = "mpi"

    def __init__(self, comm: Any, *, on_error: str = "raise", chunk_bytes: int | None = None,
                 inline_bytes: int | None = None, blas_threads: int | None = None) -> None:
        if on_error not in _ON_ERROR:
            raise ValueError(f"on_error must be one of {_ON_ERROR}, not {on_error!r}")
        if chunk_bytes is not None and int(chunk_bytes) < 1:
            raise ValueError(f"chunk_bytes must be positive, not {chunk_bytes!r}")
        self.on_error = on_error
        self.transport = Transport(comm, chunk_bytes or wire.DEFAULT_CHUNK_BYTES,
                                   wire.INLINE_BYTES if inline_bytes is None else inline_bytes)
        self.transport.on_control = self._on_control
        self.rank = self.transport.rank
        self._ranks_on_node: int | None = None  # ranks sharing this rank's node (memory)
        self.size = self.transport.size
        self._everyone = (1 << self.size) - 1
        self._devices = tuple(Device(r, "cpu", 0) for r in range(self.size))
        self.digest = PlanDigest()
        self._next_id = 0
        self._sync_seq = 0
        self._sync_message: tuple[int, ...] | None = None
        self._control: dict[int, deque[tuple[int, ...]]] = {
            p: deque() for p in range(self.size) if p != self.rank}
        self._staged: list[Task] = []
        self._ready: deque[Task] = deque()
        self._pending = 0
        self._closed = False
        self.releases = DeferredReleases()
        self._blas = _limit_blas(self.transport, blas_threads)
        if self.size > 1:
            failure.install_excepthook()
        atexit.register(self.shutdown)

    @classmethod
    def start(cls, settings: Any, comm: Any = None, on_error: str | None = None,
              chunk_bytes: int | None = None, inline_bytes: int | None = None
              ) -> MPIExecutor:
        """Start the executor of this rank (the MPI backend's factory).

        Parameters
        ----------
        settings : Settings
            The session's settings (``blas_threads`` is used).
        comm : mpi4py.MPI.Comm, optional
            Default ``MPI.COMM_WORLD``.
        on_error : {"raise", "abort"}, optional
            Default: ``NUMS_MPI_ON_ERROR``, else "raise".
        chunk_bytes : int, optional
            Default: ``NUMS_MPI_CHUNK_BYTES``, else 1 GiB.
        inline_bytes : int, optional
            Default 1024.

        Returns
        -------
        MPIExecutor
        """
        from mpi4py import MPI

        env_chunk = os.environ.get("NUMS_MPI_CHUNK_BYTES")
        return cls(MPI.COMM_WORLD if comm is None else comm,
                   on_error=on_error or os.environ.get("NUMS_MPI_ON_ERROR", "raise"),
                   chunk_bytes=chunk_bytes or (int(env_chunk) if env_chunk else None),
                   inline_bytes=inline_bytes,
                   blas_threads=getattr(settings, "blas_threads", None))

    # -- the protocol ------------------------------------------------------------------
    def devices(self) -> Sequence[Device]:
        """One CPU device per rank, in rank order."""
        return self._devices

    def is_root(self) -> bool:
        """Whether this is rank 0."""
        return self.rank == 0

    def is_local(self, device: Device) -> bool:
        """Whether ``device`` is this rank's (only then does ``put`` keep its value)."""
        return device[0] == self.rank

    def put(self, value: Any, device: Device) -> MPIRef:
        """Store ``value`` on ``device``: its rank keeps it, the others only name it."""
        node = device[0]
        ref = MPIRef(self._next_id, node, 1 << node)
        self._next_id += 1
        self.digest.put(node, ref.id)
        if node == self.rank:
            ref.value = value
            ref.ready = True
        return ref

    def submit(self, kernel: Kernel, args: Sequence[Any], device: Device,
               num_returns: int = 1, nbytes: float | None = None) -> Any:
        """Name the results of ``kernel(*args)`` on ``device``; run it if it is this rank's.

        Ref arguments owned elsewhere are sent to the device's rank (once per rank).
        """
        node = device[0]
        me = self.rank
        local = node == me
        bit = 1 << node
        first = self._next_id
        self._next_id = first + num_returns
        for a in args:
            if type(a) is MPIRef and not a.holders & bit:
                a.holders |= bit
                if a.owner == me:
                    self._send_when_ready(a, node)
                elif local:
                    self._expect(a)
        self.digest.submit(kernel.name, node, num_returns, args)
        outs = [MPIRef(first + i, node, bit) for i in range(num_returns)]
        if local:
            try:
                fn = kernel.for_device(device)
            except NotImplementedError:
                fn = None  # raised when the task runs, like any kernel's error
            task = Task(fn, kernel.name, device.kind, args, outs)
            pending = 0
            for a in args:
                if type(a) is MPIRef and not a.ready:
                    if a.waiters is None:
                        a.waiters = []
                    a.waiters.append(task)
                    pending += 1
            task.pending = pending
            self._staged.append(task)
            self._pending += 1
        return outs[0] if num_returns == 1 else tuple(outs)

    def flush(self) -> None:
        """Run every task of this rank whose inputs are here; never waits for a message."""
        if self._staged:
            errstate = np.geterr()  # the caller's np.errstate applies to its tasks
            for task in self._staged:
                task.errstate = errstate
                if task.pending == 0:
                    self._ready.append(task)
            self._staged = []
        self._progress()

    def get(self, refs: Sequence[Any]) -> list[Any]:
        """Wait for ``refs`` and return their values on every rank.

        Raises
        ------
        Exception
            The exception of a kernel that failed computing one of ``refs`` (on every rank).
        """
        refs = list(refs)
        self.digest.get([r.id for r in refs if type(r) is MPIRef])
        self.flush()
        if self.size > 1:
            self._sync(SYNC_GET)
        else:
            self._drain()
        return self._exchange(refs)

    def defer_release(self, leaf: Any, apply: Any) -> None:
        """Record that ``leaf`` was freed; ``apply()`` updates the placement's bookkeeping.

        With several ranks it runs at the next ``get`` once every rank has freed the same
        Leaf (:mod:`nums.backends.mpi.releases`), so placement stays identical everywhere.
        """
        if self.size == 1 or self._closed:
            apply()
            return
        try:
            self.releases.add(leaf_key(leaf), apply)
        except Exception:  # noqa: S110 - called from a finaliser: never raise
            pass

    def memory_budget(self) -> float | None:
        """The available memory of every rank's node, each node counted once: the sum over
        ranks of their node's available memory divided by the ranks on that node. A
        collective (every rank asks at the same point of the program: the guard's decision
        depends only on sizes) that returns the same number everywhere."""
        comm = self.transport.comm
        if self._ranks_on_node is None:
            shared = comm.Split_type(self.transport.MPI.COMM_TYPE_SHARED)
            self._ranks_on_node = shared.Get_size()
            shared.Free()
        here = available_memory()
        share = -1.0 if here is None else here / self._ranks_on_node
        shares = comm.allgather(share)
        return None if min(shares) < 0 else float(sum(shares))

    def free(self, refs: Sequence[Any]) -> None:
        """Drop this rank's copies of ``refs`` that nothing here still needs (a hint).

        Tasks submitted earlier still get their inputs; which ranks hold a block is left
        as is, so every rank keeps taking the same transfer decisions. A later use of a
        freed block fails with ReferenceError (raised by ``get`` on every rank).
        """
        for r in refs:
            if type(r) is MPIRef and r.ready and not r.waiters and not r.sends \
                    and r.error is None:
                r.value = None
                r.error = ReferenceError(f"block {r.id} was freed")

    def shutdown(self) -> None:
        """Finish this rank's tasks, check every rank got here alike, release MPI resources."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.shutdown)
        try:
            self.flush()
            if self.size > 1:
                self._sync(SYNC_SHUTDOWN)
            else:
                self._drain()
        finally:
            self.transport.close()
            if self._blas is not None:
                self._blas.restore_original_limits()
            failure.uninstall_excepthook()

    # -- running tasks -----------------------------------------------------------------
    def _progress(self) -> None:
        """Run ready tasks and handle arrived messages until neither makes progress."""
        transport, ready, run = self.transport, self._ready, self._run
        poll, clock = transport.poll, time.perf_counter
        last = clock()
        while True:
            while ready:
                run(ready.popleft())
                # Between tasks, let MPI move data (at most every 1 ms: a test costs time
                # proportional to the receives in flight).
                if transport.busy and clock() - last > 1e-3:
                    poll(False)
                    last = clock()
            if not poll(False):
                return
            last = clock()

    def _drain(self) -> None:
        """Run every task of this rank, waiting for the blocks they need."""
        self._progress()
        while self._pending:
            if not self._ready and not self.transport.incoming:
                raise RuntimeError(f"nums-mpi: rank {self.rank} has {self._pending} tasks "
                                   "whose inputs will never arrive (internal error)")
            self.transport.poll(True)
            self._progress()

    def _run(self, task: Task) -> None:
        values: list[Any] = []
        error: BaseException | None = None
        result: Any = None
        for a in task.args:
            if type(a) is MPIRef:
                if a.error is not None:
                    error = a.error
                    break
                values.append(a.value)
            else:
                values.append(a)
        if error is None:
            try:
                if task.fn is None:
                    raise NotImplementedError(f"kernel {task.name!r} has no implementation "
                                              f"for {task.kind!r} devices")
                with np.errstate(**task.errstate):
                    result = task.fn(*values)
            except Exception as exc:
                error = self._kernel_failed(task, exc)
        task.args = ()
        self._pending -= 1
        outs = task.outs
        if error is not None:
            for ref in outs:
                self._complete(ref, None, error)
        elif len(outs) == 1:
            self._complete(outs[0], result, None)
        else:
            for ref, value in zip(outs, result):
                self._complete(ref, value, None)

    def _kernel_failed(self, task: Task, exc: Exception) -> Exception:
        where = f"kernel {task.name!r} failed on MPI rank {self.rank}"
        if self.on_error == "abort" and self.size > 1:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            failure.abort(self.transport.comm, f"{where}, aborting every rank:\n{text}")
        if hasattr(exc, "add_note"):  # Python >= 3.11
            exc.add_note(f"nums-mpi: {where}")
        return exc

    def _complete(self, ref: MPIRef, value: Any, error: BaseException | None) -> None:
        ref.value = value
        ref.error = error
        ref.ready = True
        waiters = ref.waiters
        if waiters:
            ready = self._ready
            for task in waiters:
                task.pending -= 1
                if task.pending == 0:
                    ready.append(task)
        ref.waiters = None
        if ref.sends:
            dests, ref.sends = ref.sends, None
            self.transport.send(ref.id, self.transport.pack(ref.id, value, error), dests)

    # -- transfers ---------------------------------------------------------------------
    def _send_when_ready(self, ref: MPIRef, dest: int) -> None:
        if ref.ready:
            transport = self.transport
            transport.send(ref.id, transport.pack(ref.id, ref.value, ref.error), [dest])
        elif ref.sends is None:
            ref.sends = [dest]
        else:
            ref.sends.append(dest)

    def _expect(self, ref: MPIRef) -> None:
        def arrived(status: int, value: Any) -> None:
            if status:
                self._complete(ref, None, value)
            else:
                self._complete(ref, value, None)

        self.transport.expect(ref.id, ref.owner, arrived)

    def _exchange(self, refs: list[Any]) -> list[Any]:
        """Every rank gets every value of ``refs`` (owners broadcast what others lack)."""
        me, everyone = self.rank, self._everyone
        out: list[Any] = [None] * len(refs)
        positions, owners = [], []
        errors: list[BaseException | None] = [None] * len(refs)
        for i, r in enumerate(refs):
            if type(r) is not MPIRef:
                out[i] = r
            elif r.holders == everyone or self.size == 1:
                out[i], errors[i] = r.value, r.error
            else:
                positions.append(i)
                owners.append(r.owner)
                if r.owner == me:
                    out[i], errors[i] = r.value, r.error
        if positions:
            transport = self.transport
            packed = {k: transport.pack(refs[i].id, refs[i].value, refs[i].error)
                      for k, i in enumerate(positions) if owners[k] == me}
            for i, got in zip(positions, transport.broadcast(owners, packed)):
                if got is not None:
                    status, value = got
                    if status:
                        errors[i] = value
                    else:
                        out[i] = value
        for error in errors:
            if error is not None:
                raise error
        return out

    # -- sync points -------------------------------------------------------------------
    def _sync(self, kind: int) -> None:
        """Tell every peer where this rank is, drain, then check that every peer agrees."""
        seq = self._sync_seq
        self._sync_seq += 1
        message = (kind, seq, self.digest.count, self.digest.value,
                   self.releases.snapshot())
        self._sync_message = message
        self.transport.send_control(message)
        for peer, queue in self._control.items():  # peers that got here first
            if queue:
                self._check(peer, queue[0])
        self._drain()
        poll = self.transport.poll
        while any(not q for q in self._control.values()):
            poll(True)
        counts = [message[4]] * self.size
        for peer, queue in self._control.items():
            theirs = queue.popleft()
            self._check(peer, theirs)
            counts[peer] = theirs[4]
        self._sync_message = None
        self.digest.new_job()
        self.releases.settle(self.transport.comm, counts)
        self.transport.prune_sends()

    def _on_control(self, peer: int, message: tuple[int, ...]) -> None:
        self._control[peer].append(message)
        if self._sync_message is not None and len(self._control[peer]) == 1:
            self._check(peer, message)

    def _check(self, peer: int, theirs: tuple[int, ...]) -> None:
        mine = self._sync_message
        assert mine is not None
        if theirs[:4] != mine[:4]:
            lines = [
                "the ranks ran different programs (did a rank take another branch, skip a "
                "nums call, or build other operations or constants?); every rank must make "
                "the same nums calls, with the same arguments, in the same order:",
                describe_sync(self.rank, mine),
                describe_sync(peer, theirs),
            ]
            failure.abort(self.transport.comm, "\n".join(lines + self._difference(peer)))

    def _difference(self, peer: int) -> list[str]:
        """Exchange this job's call logs with the ranks and name the first call where this
        rank and ``peer`` part (every rank that disagrees does the same, so the exchange
        completes unless ``peer`` is busy elsewhere for ``REPORT_SECONDS``)."""
        transport = self.transport
        try:
            log = self.digest.job_log()
            sending = transport.send_report(
                log, [p for p in range(self.size) if p != self.rank])
            theirs = transport.receive_report(peer, REPORT_SECONDS, sending)
            if theirs is None:
                return [f"(rank {peer} sent no log of its calls within {REPORT_SECONDS} s)"]
            lines = first_difference(log, self.rank, theirs, peer)
            transport.finish_reports(sending, 1.0)
            return lines
        except Exception as exc:  # noqa: BLE001 - the report must still abort every rank
            return [f"(no comparison of the calls: {type(exc).__name__}: {exc})"]


def _limit_blas(transport: Transport, threads: int | None) -> Any:
    """Limit BLAS threads so the ranks of one node do not oversubscribe its cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    if threads is None:
        MPI = transport.MPI
        local = transport.comm.Split_type(MPI.COMM_TYPE_SHARED)
        local_size = local.Get_size()
        local.Free()
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        threads = max(1, cores // local_size)
    return threadpool_limits(limits=threads, user_api="blas")
