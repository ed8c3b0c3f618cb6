"""The Ray executor: one CPU device per Ray node, kernels sent in batches pinned to their node.

- **Devices.** ``Device(i, "cpu", 0)`` for the i-th alive node with CPUs, nodes sorted by node
  id (a fixed order for a given cluster). ``cluster_shape`` arranges them as on any backend.
- **Workers.** Kernels are staged by :meth:`RayExecutor.submit` and sent by
  :meth:`RayExecutor.flush` in batches (:mod:`nums.backends.ray.batching`). A batch is one
  method call on a worker actor (:mod:`nums.backends.ray.pool`: one actor per CPU of each
  node, created when the session starts and pinned with
  ``NodeAffinitySchedulingStrategy(node, soft=False)``), which runs several kernels of one node
  (:func:`nums.backends.ray.tasks.run_batch`), each output its own Ray object or, when small,
  in a pack of several (see :mod:`~nums.backends.ray.batching`). A node thus runs
  as many batches at once as it has CPUs, and block creation happens on the owning node. The
  :class:`~nums.kernels.registry.Kernel` pickles by name and is resolved in the worker's
  registry. A batch whose actor process died is retried ``max_retries`` times on the restarted
  actor (kernels are pure), as are the batches queued behind it there (see the pool's
  docstring), but a kernel's own exception is never retried. Batches are named
  ``nums.<first kernel>`` (with ``+N`` for N more), which is what ``ps``, the timeline and
  Ray's dashboard show for a busy worker.
- **Refs** are :class:`~nums.backends.ray.batching.BlockRef` (computed blocks: an ObjectRef
  once sent) or ObjectRefs (:meth:`put`); Ray resolves ObjectRefs at the top level of a task's
  arguments, and numpy blocks are read zero-copy from the node's object store. Blocks are freed
  by Ray's reference counting as soon as no BlockArray (or pending task) holds their ref.
  Ray queues batches whose inputs are not ready yet. ``np.errstate`` set in the driver
  applies to its kernels.
- **get** is one ``ray.get`` of all refs. A job still running after two seconds continues in
  :mod:`nums.backends.ray.progress` (a tqdm bar in interactive terminals, a watch on the nodes).
  A kernel's exception is re-raised with its original type and message; a system failure
  while one of the session's nodes is dead raises :class:`~nums.backends.ray.errors.NodeLostError`
  naming the node; a batch whose worker died on every try (its node alive) raises
  :class:`~nums.backends.ray.errors.WorkerLostError` naming the node and the worker. These
  errors chain Ray's error as ``__cause__``.
- **The connection.** A user's ``ray.shutdown()`` leaves nums' refs and actor handles dangling,
  and Ray's API calls then start a *new* Ray on their own (auto-init), or reconnect to a dead
  cluster and hang. So every place that calls Ray for a job checks first that Ray is still
  the one the session started on: a flush that sends kernels (once per flush, not per
  kernel: :meth:`submit` only stages), the one ``ray.get`` of a :meth:`get`, and :meth:`put`
  (itself a Ray call of 50 us and more). The check is ``ray.is_initialized()`` and
  :func:`~nums.backends.ray.cluster.connection_token`: local reads, about 1.5 us, so 3 us for
  a job's flush and get, where one GCS round trip for the node table takes about 0.4 ms here
  (and blocks for a minute when the cluster is gone). If not, it raises
  :class:`~nums.backends.ray.errors.RayConnectionLostError` before any Ray call, and so does
  every later call; ``nums.shutdown()`` then touches no Ray API (nor a Ray started again
  since), and ``nums.init(backend="ray")`` starts afresh. A cluster that dies under a running
  job (GCS gone: nothing answers, ``ray.get`` never returns) is seen by the watch of a long
  get: the node table is read with a deadline, and after :data:`CLUSTER_LOSS_GRACE_S` without
  an answer the get raises :class:`~nums.backends.ray.errors.RayConnectionLostError`; then
  ``nums.shutdown()`` disconnects that dead Ray (every Ray call in this process would block
  otherwise), even one that nums joined, and Ray's shutdown takes up to ~20 s in that state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from nums.backends.ray.batching import (
    NOT_HERE,
    BlockRef,
    StagedKernel,
    encode_batch,
    form_batches,
    mark_unsent,
    resolve,
    return_layout,
)
from nums.backends.ray.cluster import (
    RayNode,
    alive_nodes,
    connect,
    connection_token,
)
from nums.backends.ray.errors import (
    QuietUnhandledErrors,
    unwrap_task_error,
)
from nums.backends.ray.health import ClusterHealth
from nums.backends.ray.pool import WorkerPool
from nums.backends.ray.progress import PROGRESS_AFTER_S, progress_default, wait_all
from nums.backends.ray.tasks import BatchItem, run_kernel
from nums.kernels.registry import Kernel

from nums.runtime.device import Device
from nums.runtime.executor import Executor

__all__ = ["RayExecutor"]

DEFAULT_MAX_RETRIES = 3
START_TIMEOUT_S = 120.0  # for the first task on every node (workers import nums)
# get() merges partials in the driver up to this output size and these input bytes, and a
# flush keeps back so many such merges at most (their partials stay in the object store).
DRIVER_MERGE_BYTES = 2**20
DRIVER_MERGE_INPUT_BYTES = 4 * 2**20
MAX_HELD_MERGES = 16
_DEFAULT_ERRSTATE = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}


class RayExecutor(Executor):
    """Runs nums kernels in batches on worker actors pinned to Ray nodes.

    Use :meth:`start` (what ``nums.init(backend="ray")`` calls) rather than the constructor,
    which expects Ray to be running already.

    Parameters
    ----------
    nodes : sequence of RayNode
        The nodes to place blocks on, in device order.
    owns_ray : bool
        Whether :meth:`shutdown` stops Ray (True when nums started it).
    max_retries : int
        Retries of a task whose worker or node died.
    progress : bool or None
        Progress bar for long gets; None: on in interactive terminals.
    """

    name = "ray"

    def __init__(self, nodes: Sequence[RayNode], *, owns_ray: bool,
                 max_retries: int = DEFAULT_MAX_RETRIES, progress: bool | None = None) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if not nodes:
            raise RuntimeError("the Ray cluster has no alive node with CPUs to run nums on")
        self._ray = ray
        self.nodes = tuple(nodes)
        self.owns_ray = owns_ray
        self.max_retries = int(max_retries)
        self.progress = progress_default(progress)
        self._devices = tuple(Device(i, "cpu", 0) for i in range(len(self.nodes)))
        self._strategies = [NodeAffinitySchedulingStrategy(n.node_id, soft=False)
                            for n in self.nodes]
        self._slots = [max(1, int(n.cpus)) for n in self.nodes]
        self._pool = WorkerPool(self._strategies, self._slots, max_retries=self.max_retries)
        self._staged: list[StagedKernel] = []
        self._held: set[int] = set()  # ids of staged final merges kept back by flush
        # Guards _staged and _held: a thread's get() may send or take staged kernels while
        # another thread submits (the session lock serialises lowering, not waiting).
        self._stage_lock = threading.Lock()
        # kept-back merges that a thread's get() is running in the driver, and the event set
        # when it is done (another thread reading them waits for it instead of refetching)
        self._in_driver: dict[int, threading.Event] = {}
        self.batches_sent = 0  # actor calls sent for kernels, and the kernels in them
        self.kernels_sent = 0
        self.kernels_in_driver = 0  # final merges that get() ran in the driver
        self._closed = False
        self._quiet = QuietUnhandledErrors()
        self._quiet.install()
        self._job_start: float | None = None
        self.last_job: tuple[float, float] | None = None  # (start, end), seconds since epoch
        self._health = ClusterHealth(ray, self.nodes, self._devices, self._slots, self._pool,
                                     self.max_retries)

    # -- start ---------------------------------------------------------------------------
    @classmethod
    def start(cls, settings: Any, *, address: str | None = None, num_cpus: int | None = None,
              object_store_memory: int | None = None, max_retries: int = DEFAULT_MAX_RETRIES,
              progress: bool | None = None, **ray_options: Any) -> RayExecutor:
        """Start or join Ray and return an executor over its nodes.

        Parameters
        ----------
        settings : Settings
            The session's settings (``workers`` sizes a locally started Ray when ``num_cpus``
            is not given; ``testing`` keeps it small).
        address : str, optional
            Ray cluster to join (``"auto"``, ``"host:port"``, ``"ray://host:port"``); default:
            ``RAY_ADDRESS``, else a new local Ray that :meth:`shutdown` stops. When Ray is
            already initialised in this process, nums joins it.
        num_cpus, object_store_memory : int, optional
            Resources of a locally started Ray.
        max_retries : int
            Retries of a task whose worker or node died.
        progress : bool, optional
            Progress bar for long gets (default: on in interactive terminals).
        **ray_options
            Passed to ``ray.init`` (e.g. ``runtime_env``).

        Returns
        -------
        RayExecutor

        Raises
        ------
        ConnectionError
            If ``address`` cannot be reached (the message names it).
        RuntimeError
            If Ray workers cannot run nums (e.g. nums is not installed on a node).
        """
        import ray

        if progress is None:
            progress = getattr(settings, "progress", None)
        owns = connect(address, num_cpus=num_cpus, object_store_memory=object_store_memory,
                       testing=bool(getattr(settings, "testing", False)),
                       ray_options=ray_options, default_cpus=getattr(settings, "workers", None))
        executor = None
        try:
            executor = cls(alive_nodes(), owns_ray=owns, max_retries=max_retries,
                           progress=progress)
            executor._check_workers()
        except BaseException:
            if executor is not None:
                executor.shutdown()  # stops Ray too when nums started it
            elif owns:
                ray.shutdown()
            raise
        return executor

    def _check_workers(self) -> None:
        """Start the worker actors and probe each: they import nums and run where pinned."""
        ray = self._ray
        try:
            infos = self._pool.probe(START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise RuntimeError(f"Ray workers did not start within {START_TIMEOUT_S:.0f} s on "
                               f"{', '.join(n.describe() for n in self.nodes)}") from None
        except ray.exceptions.RayError as err:
            cause = unwrap_task_error(err)
            raise RuntimeError(f"Ray workers cannot run nums ({type(cause).__name__}: {cause}); "
                               "install nums on every node or pass runtime_env= to "
                               "nums.init") from cause
        for node, node_infos in zip(self.nodes, infos):
            for info in node_infos:
                if info["node_id"] != node.node_id:  # pragma: no cover - Ray guarantees this
                    raise RuntimeError(f"a worker pinned to {node.describe()} ran on node "
                                       f"{info['node_id']}")

    # -- the protocol --------------------------------------------------------------------
    def devices(self) -> Sequence[Device]:
        """One CPU device per node, in node order."""
        return self._devices

    def slots(self, device: Device) -> int:
        """How many tasks ``device``'s node runs at once: its CPUs."""
        return self._slots[device.node]

    def put(self, value: Any, device: Device) -> Any:
        """Store ``value`` in the object store (the driver's node; read where it is used)."""
        self._ensure_connected()
        if self._job_start is None:
            self._job_start = time.time()
        return self._ray.put(value)

    def submit(self, kernel: Kernel, args: Sequence[Any], device: Device,
               num_returns: int = 1, nbytes: float | None = None) -> Any:
        """Stage ``kernel(*args)`` for ``device``'s node; it is sent with the next
        :meth:`flush` (see :mod:`nums.backends.ray.batching`)."""
        if self._closed:
            raise RuntimeError("the Ray executor was shut down; call nums.init() again")
        if self._job_start is None:
            self._job_start = time.time()
        errstate = np.geterr()
        task = StagedKernel(BatchItem(kernel, device,
                                      None if errstate == _DEFAULT_ERRSTATE else errstate,
                                      tuple(args), num_returns), device.node, nbytes)
        with self._stage_lock:
            self._staged.append(task)
        return task.outputs[0] if num_returns == 1 else tuple(task.outputs)

    def flush(self) -> None:
        """Send the staged kernels to Ray in batches (see :mod:`nums.backends.ray.batching`).

        If sending fails (an argument Ray cannot pickle, Ctrl-C), the kernels not sent are
        dropped and reading their blocks raises RuntimeError naming the cause.
        """
        self._send(hold=True)

    def _ensure_connected(self) -> None:
        """Raise unless the executor runs and Ray is still the one this session started on
        (:meth:`ClusterHealth.ensure_connected`), before Ray is called for a job."""
        if self._closed:
            raise RuntimeError("the Ray executor was shut down; call nums.init() again")
        self._health.ensure_connected()

    def _send(self, hold: bool) -> None:
        """:meth:`_send_locked` under the staging lock."""
        with self._stage_lock:
            self._send_locked(hold)

    def _send_locked(self, hold: bool) -> None:
        """:meth:`flush`; with ``hold``, keep back final merges (see :meth:`_final_merges`).

        Merges kept back before and sent now go first, in batches of their own, so that the
        kernels reading them are batched as any others (not all into the merge's batch). If
        sending fails, the kernels not sent are marked so (reading them raises), and so are
        kept merges that read them; merges kept back before stay kept.
        """
        if self._staged:
            self._ensure_connected()  # before any Ray call (Ray would start a new Ray)
        staged, self._staged = self._staged, []
        before = self._held
        kept = self._final_merges(staged) if hold else []
        self._held = {id(task) for task in kept}
        self._staged = kept
        earlier = [t for t in staged if id(t) in before and id(t) not in self._held]
        rest = [t for t in staged if id(t) not in before and id(t) not in self._held]
        try:
            self._send_batches(earlier)
            self._send_batches(rest)
        except BaseException as exc:
            mark_unsent(earlier + rest, exc)
            lost = [t for t in kept if any(type(a) is BlockRef and a.unsent is not None
                                           for a in t.item.args)]
            mark_unsent(lost, exc)
            self._held -= {id(t) for t in lost}
            self._staged = [t for t in kept if id(t) in self._held]
            raise
        finally:
            for task in earlier + rest:  # the staging links matter only while batching
                for block in task.outputs:
                    block.task = None

    def _send_batches(self, staged: list[StagedKernel]) -> None:
        """Send ``staged`` to the worker actors in batches; set their outputs' refs."""
        if not staged:
            return
        ray = self._ray
        try:
            for node, tasks in form_batches(staged, self._slots.__getitem__):
                items, refs = encode_batch(tasks, ray.ObjectRef, ray.put)
                layout, places = return_layout(tasks)
                total = len(places) if layout is None else len(layout)
                out = self._batch_task(node, total, items[0].kernel.name,
                                       len(items)).remote(items, layout, *refs)
                self.batches_sent += 1
                self.kernels_sent += len(items)
                if total == 1:
                    out = [out]
                blocks = (block for task in tasks for block in task.outputs)
                for block, (at, member) in zip(blocks, places):
                    block.ref = out[at]
                    block.member = member
        finally:
            for task in staged:  # sent: later batches read their outputs by ref
                for block in task.outputs:
                    block.task = None

    def _batch_task(self, node: int, num_returns: int, first: str, count: int) -> Any:
        """The ``run`` method of the node's next worker actor, with these options."""
        name = f"nums.{first}" if count == 1 else f"nums.{first}+{count - 1}"
        return self._pool.run_method(node, num_returns, name)

    def get(self, refs: Sequence[Any], timeout: float | None = None) -> list[Any]:
        """Wait for ``refs`` (one ``ray.get``) and return their values.

        Parameters
        ----------
        refs : sequence of ObjectRef
            Refs from :meth:`submit` or :meth:`put` (other values are returned as they are).
        timeout : float, optional
            Seconds to wait before raising TimeoutError.

        Returns
        -------
        list
            The values, in order (numpy blocks may be read-only views of the object store).

        Raises
        ------
        Exception
            A kernel's exception, with its original type and message.
        NodeLostError
            If a node of the session died and its blocks could not be computed.
        WorkerLostError
            If a worker process died on every try of a batch (its node alive).
        RayConnectionLostError
            If Ray was shut down under the session, or its cluster no longer answers.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._stage_lock:  # waiting happens outside it
                if self._staged:
                    self._send_locked(hold=True)
                wanted = {id(r.task) for r in refs if type(r) is BlockRef and r.task is not None}
                busy = {self._in_driver[i] for i in wanted if i in self._in_driver}
                if not busy:
                    here = [t for t in self._staged if id(t) in wanted]  # kept back: run here
                    if here:
                        taken = {id(t) for t in here}
                        self._staged = [t for t in self._staged if id(t) not in taken]
                        self._held -= taken
                        done = threading.Event()
                        self._in_driver.update((i, done) for i in taken)
                    break
            # another thread is running some of these merges in the driver: wait for it
            for event in busy:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not event.wait(left):
                    raise TimeoutError(f"nums blocks were not computed within {timeout} s")
        if not here:
            return self._fetch(refs, timeout)
        try:
            return self._get_merging_here(refs, here, timeout)
        finally:
            with self._stage_lock:
                for task in here:
                    self._in_driver.pop(id(task), None)
            done.set()

    def _fetch(self, refs: Sequence[Any], timeout: float | None) -> list[Any]:
        """The values of ``refs``, all sent or computed (see :meth:`get`)."""
        members = [r.member if type(r) is BlockRef else None for r in refs]
        refs = [r.value if type(r) is BlockRef and r.ref is None and r.value is not NOT_HERE
                else resolve(r) for r in refs]
        if not refs:
            return []
        ray = self._ray
        ref_type = ray.ObjectRef
        if any(m is not None for m in members) or \
                not all(isinstance(r, ref_type) for r in refs):
            index: dict[Any, int] = {}  # each object once, also a pack of several blocks
            for r in refs:
                if isinstance(r, ref_type):
                    index.setdefault(r, len(index))
            values = self._fetch(list(index), timeout)
            return [(values[index[r]] if m is None else values[index[r]][m])
                    if isinstance(r, ref_type) else r for r, m in zip(refs, members)]
        self._ensure_connected()  # before any Ray call (Ray would start a new Ray)
        started = time.monotonic()
        try:
            first = PROGRESS_AFTER_S if timeout is None else min(PROGRESS_AFTER_S, timeout)
            try:
                return ray.get(refs, timeout=first)
            except ray.exceptions.GetTimeoutError:
                if timeout is not None and timeout <= PROGRESS_AFTER_S:
                    raise TimeoutError(f"nums blocks were not ready within {timeout} s") \
                        from None
            deadline = None if timeout is None else started + timeout
            wait_all(refs, deadline=deadline, show=self.progress, check=self._health.node_watch())
            remaining = None if deadline is None else max(0.1, deadline - time.monotonic())
            return ray.get(refs, timeout=remaining)
        except ray.exceptions.RayError as err:
            error = self._health.translate(err, None if timeout is None else started + timeout)
            raise error from error.__cause__  # a nums error chains Ray's; a kernel's: its own
        finally:
            if self._job_start is not None:  # a get that submitted nothing is no new job
                self.last_job = (self._job_start, time.time())
                self._job_start = None

    def _final_merges(self, staged: list[StagedKernel]) -> list[StagedKernel]:
        """The kernels of ``staged`` that :meth:`flush` keeps back for :meth:`get` to run in
        the driver: each merges the small outputs of two or more staged kernels, and no
        staged kernel reads its output (the root of a reduction's merge tree); at most the
        last :data:`MAX_HELD_MERGES` of them (a kept merge holds its partials in the object
        store until it is fetched or read).

        On Ray such a merge is one more actor call, which Ray sends only once the partials
        exist: a round trip after them (3-5 ms here, a third of a small reduction), where the
        driver, which fetches the result anyway, merges a few KiB in microseconds. The
        lowering flushes before every ``get()``, so the merge of what ``get()`` asks for is
        kept back by that flush (and by those of the other arrays of a ``nums.get(a, b)``);
        a flush that stages a kernel reading it sends it as a kernel like the others. The
        driver keeps the merged block (:attr:`BlockRef.value`) and puts it in the object store
        only when a kernel reads it (a put costs a millisecond here). So ``persist()`` of a
        reduction computes its partials and leaves the merge for the first read; a merge in
        the driver raises its NumPy warnings there, as NumPy would.
        """
        read = {id(t) for task in staged for t in task.reads}
        kept = [task for task in staged if id(task) not in read and
                (id(task) in self._held or self._is_small_merge(task))][-MAX_HELD_MERGES:]
        for task in kept:  # its partials are sent now: holding them would keep their inputs
            task.reads = []
        return kept

    def _is_small_merge(self, task: StagedKernel) -> bool:
        """Whether ``task`` is a CPU kernel with a small output that reads only the small
        outputs of two or more staged kernels (see :meth:`_final_merges`)."""
        item = task.item
        if item.device.kind != "cpu" or item.num_returns != 1 or len(task.reads) < 2 or \
                task.nbytes is None or task.nbytes > DRIVER_MERGE_BYTES:
            return False
        if any(isinstance(a, (self._ray.ObjectRef, np.ndarray)) for a in item.args) or \
                sum(type(a) is BlockRef for a in item.args) != len(task.reads):
            return False  # it reads blocks sent before (of unknown size) or NumPy arrays
        sizes = [t.nbytes for t in task.reads]
        return None not in sizes and sum(sizes) <= DRIVER_MERGE_INPUT_BYTES

    def _is_ref(self, value: Any) -> bool:
        return type(value) is BlockRef or isinstance(value, self._ray.ObjectRef)

    def _get_merging_here(self, refs: Sequence[Any], here: list[StagedKernel],
                          timeout: float | None) -> list[Any]:
        """:meth:`get` of ``refs`` where the kernels ``here`` (see :meth:`_final_merges`)
        run in the driver on their inputs, fetched in the same ``ray.get`` as the other refs.
        A kernel that raises is sent to Ray as any other (which raises it with its type)."""
        started = time.monotonic()
        outputs = {id(task.outputs[0]): task for task in here}
        inputs = [a for task in here for a in task.item.args if self._is_ref(a)]
        others = [r for r in refs if id(r) not in outputs]
        try:
            values = self._fetch(others + inputs, timeout)
        except BaseException:  # a timeout, a partial's error: keep them for the next get
            with self._stage_lock:
                self._staged.extend(here)
                self._held.update(id(task) for task in here)
            raise
        fetched = dict(zip(map(id, others + inputs), values))
        computed: dict[int, Any] = {}
        for at, task in enumerate(here):
            item = task.item
            args = [fetched[id(a)] if self._is_ref(a) else a for a in item.args]
            try:
                value = run_kernel(item.kernel, item.device, item.errstate or _DEFAULT_ERRSTATE,
                                   *args)
            except BaseException as exc:
                with self._stage_lock:
                    self._staged.extend(here[at:])
                    self._held.update(id(t) for t in here[at:])
                if not isinstance(exc, Exception):  # Ctrl-C: they stay kept for a later get
                    raise
                self._send(hold=False)  # their errors come from Ray, as any kernel's
                left = None if timeout is None else \
                    max(0.1, timeout - (time.monotonic() - started))
                return self._fetch(refs, left)
            block = task.outputs[0]
            block.value, block.task = value, None  # put in the object store if a kernel reads it
            computed[id(block)] = value
            self.kernels_in_driver += 1
        return [computed[id(r)] if id(r) in computed else fetched[id(r)] for r in refs]

    def free(self, refs: Sequence[Any]) -> None:
        """A no-op: Ray frees an object when its last ref is dropped (lineage stays valid)."""
        return None

    def memory_budget(self) -> float | None:
        """The cluster's memory for tasks plus its object stores (Ray's resource totals: one
        call to the cluster, made only before computing a large array)."""
        self._ensure_connected()
        totals = self._ray.cluster_resources()
        budget = float(totals.get("memory", 0.0)) + float(totals.get("object_store_memory", 0.0))
        return budget or None

    def shutdown(self) -> None:
        """Forget the tasks; stop Ray if nums started it (a joined cluster keeps running).

        Ray calls are made only on the connection the session started on: after a user's
        ``ray.shutdown()`` (and a new ``ray.init()``), nothing of Ray is touched. A connection
        whose cluster no longer answers is shut down even when nums joined it.
        """
        if self._closed:
            return
        self._closed = True
        with self._stage_lock:
            mark_unsent(self._staged, RuntimeError("the nums session was shut down first"))
            self._staged.clear()
            self._held.clear()
        try:
            ours = self._ray.is_initialized() and connection_token() == self._health.token
            if ours and not self._health.cluster_gone:
                self._pool.shutdown()
                if self.owns_ray:
                    self._ray.shutdown()
            else:
                self._pool.forget()
                if ours:  # its cluster is gone: every Ray call here would block
                    self._ray.shutdown()
        finally:
            self._quiet.remove()

    # -- nodes ---------------------------------------------------------------------------
    def lost_nodes(self) -> list[str]:
        """Descriptions of this session's nodes that Ray no longer reports alive (see
        :meth:`ClusterHealth.lost_nodes`)."""
        return self._health.lost_nodes()

    # -- diagnostics ---------------------------------------------------------------------
    def timeline(self, filename: str | None = None) -> list[dict[str, Any]]:
        """Chrome-trace events of the last job (see :mod:`nums.backends.ray.timeline`)."""
        from nums.backends.ray.timeline import job_timeline

        return job_timeline(self.last_job, filename)

    def __repr__(self) -> str:
        return f"RayExecutor(nodes={len(self.nodes)}, owns_ray={self.owns_ray})"
