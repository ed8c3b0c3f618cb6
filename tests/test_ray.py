"""The Ray backend on a real Ray: results against NumPy, placement on several nodes, errors,
freeing, fault tolerance, start / join / shutdown.

One local Ray (2 CPUs, a small object store) serves the single-node tests; nums *joins* it, so
``nums.shutdown()`` leaves it running and tests can switch to the local backend and back
cheaply. The multi-node tests run last, on a ``ray.cluster_utils.Cluster`` of 3 nodes with
1 CPU each (one Ray per process, so the harness swaps one for the other once).

The API suite runs on Ray with ``NUMS_TEST_BACKENDS=ray python -m pytest tests/...``.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from nums.backends.ray.batching import (  # noqa: E402
    BATCH_BYTES,
    KERNELS_PER_BATCH,
    PACK_BYTES,
    PACK_MEMBER_BYTES,
    StagedKernel,
    encode_batch,
    form_batches,
    resolve,
    return_layout,
)
from nums.backends.ray.errors import RayConnectionLostError, WorkerLostError  # noqa: E402
from nums.backends.ray.progress import PROGRESS_AFTER_S  # noqa: E402
from nums.backends.ray.tasks import BatchArg, BatchOutput  # noqa: E402
from nums.kernels.registry import all_kernels  # noqa: E402

import nums  # noqa: E402
import nums.numpy as nps  # noqa: E402
from nums.array.blockarray import BlockArray  # noqa: E402
from nums.array.grid import ArrayGrid  # noqa: E402
from nums.ir.creation import Create  # noqa: E402
from nums.ir.lower import materialize  # noqa: E402
from nums.runtime.device import Device  # noqa: E402
from tests.test_session import FAILURES, _numpy_error, failing_array  # noqa: E402
from tests.test_tasks import probe_kernels  # noqa: E402, F401 - a fixture used here
from tests.utils import ByValueKernel, assert_eq  # noqa: E402

pytestmark = [pytest.mark.ray]

MIB = 2**20
OBJECT_STORE = 600 * MIB


# -- the Ray harness -----------------------------------------------------------------------

class RayHarness:
    """Owns this module's Ray: a single local node, or a 3-node test cluster."""

    def __init__(self) -> None:
        self.mode: str | None = None
        self.cluster = None

    def stop(self) -> None:
        nums.shutdown()
        if ray.is_initialized():
            ray.shutdown()
        if self.cluster is not None:
            self.cluster.shutdown()
            self.cluster = None
        self.mode = None

    def single(self, **options) -> nums.Session:
        """nums joined to a local one-node Ray with 2 CPUs."""
        if self.mode != "single":
            self.stop()
            ray.init(address="local", num_cpus=2, object_store_memory=OBJECT_STORE,
                     include_dashboard=False, logging_level="WARNING")
            self.mode = "single"
        return self._nums(**options)

    def three_nodes(self, **options) -> nums.Session:
        """nums joined to a test cluster of 3 nodes with 1 CPU each."""
        if self.mode != "cluster":
            self.stop()
            from ray.cluster_utils import Cluster

            node = dict(num_cpus=1, object_store_memory=100 * MIB)
            self.cluster = Cluster(initialize_head=True,
                                   head_node_args=dict(node, include_dashboard=False))
            for _ in range(2):
                self.cluster.add_node(**node)
            self.cluster.wait_for_nodes()
            ray.init(address=self.cluster.address, logging_level="WARNING")
            self.mode = "cluster"
        return self._nums(**options)

    @staticmethod
    def _nums(**options) -> nums.Session:
        if nums.is_initialized():
            running = nums.session()
            if running.backend == "ray" and not options:
                return running
            nums.shutdown()
        return nums.init(backend="ray", testing=True, **options)


@pytest.fixture(scope="module")
def harness():
    h = RayHarness()
    yield h
    h.stop()


@pytest.fixture
def session(harness) -> nums.Session:
    """nums on the single-node Ray."""
    return harness.single()


def ray_workers_of(pid: int) -> list:
    """Ray worker processes started by this test process (never another process's Ray)."""
    import psutil

    found = []
    for proc in psutil.Process(pid).children(recursive=True):
        try:
            title = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if title and title[0].startswith("ray::"):
            found.append((proc, title[0]))
    return found


def plasma_used_mib() -> float:
    """Object store bytes in use on every node, from Ray's own memory summary."""
    from ray._private.internal_api import memory_summary

    # the session's own address: ray's default reads /tmp/ray/ray_current_cluster, which
    # another Ray started by a test (and stopped since) may have overwritten
    text = memory_summary(address=ray.get_runtime_context().gcs_address, stats_only=True)
    match = re.search(r"Plasma memory usage (\d+(?:\.\d+)?) MiB", text)
    assert match, text
    return float(match.group(1))


def settled_plasma_used_mib(timeout: float = 15.0) -> float:
    """:func:`plasma_used_mib` once it reads the same three times 0.3 s apart (Ray frees the
    objects of earlier tests in batches, and its summary lags)."""
    readings = [plasma_used_mib()]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (len(readings) < 3 or len(set(readings[-3:])) > 1):
        time.sleep(0.3)
        readings.append(plasma_used_mib())
    return readings[-1]


# -- the executor --------------------------------------------------------------------------

def test_devices_and_protocol(session):
    from nums.backends.ray.executor import RayExecutor

    executor = session.executor
    assert isinstance(executor, RayExecutor)
    assert isinstance(executor, nums.runtime.Executor)
    assert session.backend == "ray"
    assert session.devices == (Device(0, "cpu", 0),)
    assert len(executor.nodes) == 1
    assert executor.nodes[0].node_id == ray.get_runtime_context().get_node_id()
    assert executor.owns_ray is False  # joined the harness's Ray
    ref = executor.put(np.arange(3.0), session.devices[0])
    assert isinstance(ref, ray.ObjectRef)
    np.testing.assert_array_equal(executor.get([ref, ref, 5])[0], np.arange(3.0))
    assert executor.get([ref, ref, 5])[2] == 5
    assert executor.get([]) == []


@pytest.mark.timeout(120)
def test_worker_actors_leave_the_cpus_to_other_ray_work(session):
    @ray.remote(num_cpus=2)
    def needs_every_cpu() -> str:
        return ray.get_runtime_context().get_node_id()

    actors = session.executor._pool.actors
    assert [len(a) for a in actors] == [2]  # one worker actor per CPU of the node
    x = nps.arange(1000.0, block_shape=(100,))
    total = x.sum()
    # the actors hold no CPU in Ray's books: a task needing both CPUs runs beside nums
    node = ray.get(needs_every_cpu.remote(), timeout=60)
    assert node == session.executor.nodes[0].node_id
    assert float(total) == 499500.0


@pytest.mark.timeout(120)
def test_shutdown_stops_the_worker_actors_of_a_joined_ray(session):
    actors = [a for node in session.executor._pool.actors for a in node]
    assert all(ray.get([a.probe.remote() for a in actors], timeout=60))
    nums.shutdown()  # Ray itself keeps running (the harness started it)
    assert ray.is_initialized()
    deadline = time.monotonic() + 30  # ray.kill is asynchronous: a call right after may run
    for actor in actors:
        with pytest.raises(ray.exceptions.RayActorError):
            while time.monotonic() < deadline:
                ray.get(actor.probe.remote(), timeout=60)
                time.sleep(0.2)


OPERATIONS = {
    "chain+sum": lambda np_, a, b: (np_.exp(a) * 2 + np_.sin(b) - a / 3).sum(axis=0),
    "chain+mean": lambda np_, a, b: (a * b + 1).mean(axis=1),
    "matmul": lambda np_, a, b: a @ b.T,
    "gram": lambda np_, a, b: a.T @ a,
    "slice": lambda np_, a, b: a[3:17:2, ::3] + b[1:8, 2::3],
    "reshape": lambda np_, a, b: (a + b).reshape(10, 36).T.reshape(-1)[5:300],
    "concatenate": lambda np_, a, b: np_.concatenate([a, b], axis=1).max(axis=1),
    # value-dependent sizes and multi-output block tasks (nums.ir.sizes, nums.ir.tasks)
    "mask": lambda np_, a, b: a[a > b] * 2 + 1,
    "row mask": lambda np_, a, b: (a[a[:, 0] > 0] @ b.T).sum(axis=0),
    "nonzero": lambda np_, a, b: np_.nonzero(a > b)[1] + np_.nonzero(a > b)[0],
}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_results_equal_numpy(session, name):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((20, 18)), rng.standard_normal((20, 18))
    x, y = nps.array(a, block_shape=(6, 5)), nps.array(b, block_shape=(7, 4))
    fn = OPERATIONS[name]
    assert_eq(fn(nps, x, y), fn(np, a, b), rtol=1e-10, atol=1e-12)


def test_assignment(session):
    a = np.arange(120.0).reshape(10, 12)
    x = nps.array(a, block_shape=(3, 5))
    x[2:9:3, 1:] = -1
    x[0] = nps.arange(12.0) * 10
    a[2:9:3, 1:] = -1
    a[0] = np.arange(12.0) * 10
    assert_eq(x, a)
    x += 1
    assert_eq(x, a + 1)


def test_random_matches_local_backend(session):
    def draw():
        rng = nps.random.default_rng(42)
        return nums.get(rng.standard_normal((300, 7), block_shape=(64, 3)),
                        rng.integers(0, 100, size=(50,), block_shape=(8,)))

    on_ray = draw()
    nums.shutdown()  # leaves the harness's Ray running
    assert ray.is_initialized()
    nums.init(backend="local", workers=2, testing=True)
    on_local = draw()
    nums.shutdown()
    for r, l in zip(on_ray, on_local):
        np.testing.assert_array_equal(r, l)


def test_errstate_reaches_tasks(session):
    x = nps.array(np.array([1.0, 0.0, -1.0]), block_shape=(1,))
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            (x / 0).get()
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal((x / 0).get()[[0, 2]], [np.inf, -np.inf])


def _staged(node: int, args=(), nbytes=None) -> StagedKernel:
    from nums.backends.ray.tasks import BatchItem

    item = BatchItem(None, Device(node, "cpu", 0), None, tuple(args), 1)
    return StagedKernel(item, node, nbytes)


def test_batches_follow_levels():
    """Kernels of one node and level form a group; a read across nodes starts a new level,
    so a batch never waits for a later one (here: 0 -> 1 -> 0 -> 0 across two nodes)."""
    a = _staged(0)
    b = _staged(0, [a.outputs[0]])  # same node: same level, joins a's batch
    c = _staged(1, [b.outputs[0], 5])  # other node: level 1
    d = _staged(0, [c.outputs[0], a.outputs[0]])  # back on node 0: level 2
    e = _staged(1)
    assert [t.level for t in (a, b, c, d, e)] == [0, 0, 1, 2, 0]
    batches = list(form_batches([a, b, c, d, e], lambda node: 1))
    assert [(node, [id(t) for t in tasks]) for node, tasks in batches] == [
        (0, [id(a), id(b)]), (1, [id(e)]), (1, [id(c)]), (0, [id(d)])]
    # a batch per CPU, more when one would exceed KERNELS_PER_BATCH kernels
    many = [_staged(0) for _ in range(2 * KERNELS_PER_BATCH + 1)]
    assert [len(t) for _, t in form_batches(many, lambda node: 2)] == [6, 6, 5]
    # ... or BATCH_BYTES of outputs: a worker holds a batch's outputs until the batch ends
    big = [_staged(0, nbytes=BATCH_BYTES / 2) for _ in range(6)]
    assert [len(t) for _, t in form_batches(big, lambda node: 2)] == [2, 2, 2]
    # batches of near-equal bytes: two full blocks apart, the ragged edge block with one
    full, full2, edge = _staged(0, nbytes=3e7), _staged(0, nbytes=3e7), _staged(0, nbytes=5e6)
    assert [[id(t) for t in tasks] for _, tasks in form_batches(
        [full, full2, edge], lambda node: 2)] == [[id(full), id(edge)], [id(full2)]]


class _FakeRef:
    def __init__(self, name):
        self.name = name


def test_a_merge_of_several_batches_goes_to_the_tail_batch():
    """A node's reduction: one batch per CPU, the merge in a tail batch sent after them,
    which gets their partials as top-level ObjectRefs (no batch waits inside an actor for
    another); a kernel reading the tail joins the tail."""
    p0, p1 = _staged(0), _staged(0)
    merge = _staged(0, [p0.outputs[0], p1.outputs[0]])
    after = _staged(0, [merge.outputs[0]])
    batches = list(form_batches([p0, p1, merge, after], lambda node: 2))
    assert [[id(t) for t in tasks] for _, tasks in batches] == [
        [id(p0)], [id(p1)], [id(merge), id(after)]]
    p0.outputs[0].ref, p1.outputs[0].ref = _FakeRef("p0"), _FakeRef("p1")  # sent
    items, refs = encode_batch(batches[2][1], _FakeRef, None)
    assert refs == [p0.outputs[0].ref, p1.outputs[0].ref]
    assert items[0].args == (BatchArg(0), BatchArg(1))
    assert items[1].args == (BatchOutput(0, None),)


def test_small_outputs_of_a_batch_share_a_pack():
    """Outputs up to PACK_MEMBER_BYTES share one Ray object, up to PACK_BYTES a pack; larger
    ones, those of unknown size and a pack's lone member are objects of their own."""
    small, big = PACK_MEMBER_BYTES / 4, PACK_MEMBER_BYTES * 2
    tasks = [_staged(0, nbytes=small), _staged(0, nbytes=big), _staged(0),
             _staged(0, nbytes=small), _staged(0, nbytes=PACK_MEMBER_BYTES)]
    layout, places = return_layout(tasks)
    assert layout == (1, 2, (0, 3, 4))
    assert places == [(2, 0), (0, None), (1, None), (2, 1), (2, 2)]
    # every output alone: no layout (the worker returns them in order)
    assert return_layout([_staged(0, nbytes=big), _staged(0)]) == (None, [(0, None), (1, None)])
    # ... also when one small output would be a pack of one (review: blocks were swapped)
    for sizes in ((small, big, big), (big, small, big), (big, big, small)):
        assert return_layout([_staged(0, nbytes=n) for n in sizes]) == \
            (None, [(0, None), (1, None), (2, None)])
    layout, places = return_layout([_staged(0, nbytes=n) for n in (small, big, small, big)])
    assert layout == (1, 3, (0, 2)) and places == [(2, 0), (0, None), (2, 1), (1, None)]
    # a pack holds PACK_BYTES at most; a pack of one would be an object of its own
    full = int(PACK_BYTES // PACK_MEMBER_BYTES)
    layout, places = return_layout([_staged(0, nbytes=PACK_MEMBER_BYTES)
                                    for _ in range(full + 1)])
    assert layout == (full, tuple(range(full)))
    assert places == [(1, i) for i in range(full)] + [(0, None)]


def test_a_job_is_sent_in_few_ray_tasks(session):
    executor = session.executor
    a = np.arange(4000.0)
    x = nps.array(a, block_shape=(250,)).persist()  # 16 blocks
    before = executor.batches_sent, executor.kernels_sent, executor.kernels_in_driver
    assert_eq(nps.sqrt(x * 2 + 1).sum(), np.sqrt(a * 2 + 1).sum())
    # one node with 2 CPUs: a kernel per CPU reduces 8 blocks, get() merges the two partials
    assert (executor.batches_sent - before[0], executor.kernels_sent - before[1],
            executor.kernels_in_driver - before[2]) == (2, 2, 1)
    b = np.arange(16 * 32768.0)
    z = nps.array(b, block_shape=(32768,)).persist()  # 16 blocks of 256 KiB
    before = executor.batches_sent
    y = (z + 1).persist()  # 4 MiB of outputs: a batch of 8 kernels per CPU
    assert executor.batches_sent - before == 2
    assert_eq(y, b + 1)
    # ... each returning its 8 small outputs as one Ray object (a pack)
    assert len({resolve(r) for r in y._leaf().refs.ravel()}) == 2


def test_get_merges_a_reductions_partials_in_the_driver(session):
    """The final merge of what get() fetches runs in the driver (one actor round trip less);
    the merged block is put in the object store once a kernel reads it; a merge kept back by
    a flush and not fetched is sent with the next flush."""
    executor = session.executor
    a = np.random.default_rng(6).standard_normal((40, 30))
    x = nps.array(a, block_shape=(5, 30)).persist()
    before = executor.kernels_in_driver
    s = x.sum(axis=0)
    assert_eq(s, a.sum(axis=0), rtol=1e-12)
    assert executor.kernels_in_driver == before + 1
    assert_eq(x - s, a - a.sum(axis=0), rtol=1e-12)  # workers read the driver's block
    assert_eq(s * 2, a.sum(axis=0) * 2, rtol=1e-12)
    m = x.mean(axis=0).persist()  # its merge is kept back, then sent with the next flush
    t = (m + 1).persist()
    assert_eq(t, a.mean(axis=0) + 1, rtol=1e-12)
    assert_eq(m, a.mean(axis=0), rtol=1e-12)
    assert executor.kernels_in_driver == before + 1
    values = nums.get(x.max(axis=0), x.min(axis=0), x)  # several merges in one get
    for got, want in zip(values, (a.max(axis=0), a.min(axis=0), a)):
        np.testing.assert_array_equal(got, want)
    assert executor.kernels_in_driver == before + 3


def test_kernels_reading_a_kept_merge_are_batched_as_any(session):
    """A flush sends the merges kept back before in batches of their own first, so the
    kernels reading one are dealt into batches per CPU (not all into the merge's batch)."""
    executor = session.executor
    a = np.random.default_rng(7).standard_normal((64, 3))
    x = nps.array(a, block_shape=(4, 3)).persist()  # 16 blocks
    m = x.mean(axis=0)
    before = executor.batches_sent, executor.kernels_sent
    y = (x - m).persist()  # m's partials, its merge kept back; then the merge and y's blocks
    sent = executor.batches_sent - before[0], executor.kernels_sent - before[1]
    assert sent[1] == 2 + 1 + 16 and sent[0] >= 2 + 1 + 2, sent
    np.testing.assert_allclose(y.get(), a - a.mean(axis=0), rtol=1e-12, atol=1e-15)


def test_a_kept_merge_survives_a_failed_send_of_a_later_flush(session):
    executor, device = session.executor, session.devices[0]
    add = all_kernels()["add_blocks"]
    a = np.arange(40.0).reshape(8, 5)
    s = nps.array(a, block_shape=(2, 5)).sum(axis=0).persist()  # its merge is kept back
    (block,) = s._leaf().refs.ravel()
    executor.submit(add, (block, _Unpicklable()), device, nbytes=40.0)
    with pytest.raises(TypeError, match="serialize"):
        executor.flush()
    np.testing.assert_array_equal(s.get(), a.sum(axis=0))


def test_a_kept_merge_of_blocks_never_sent_raises_on_reads(session):
    executor, device = session.executor, session.devices[0]
    add = all_kernels()["add_blocks"]
    first, second = nps.arange(10.0, block_shape=(5,)).persist()._leaf().refs.ravel()
    p1 = executor.submit(add, (first, second), device, nbytes=40.0)
    p2 = executor.submit(add, (first, _Unpicklable()), device, nbytes=40.0)
    merge = executor.submit(add, (p1, p2), device, nbytes=40.0)  # would be kept back
    with pytest.raises(TypeError, match="serialize"):
        executor.flush()
    with pytest.raises(RuntimeError, match="never computed.*TypeError"):
        executor.get([merge], timeout=60)
    with pytest.raises(RuntimeError, match="never computed"):
        executor.submit(add, (merge, first), device)


def test_a_kept_merge_interrupted_in_the_driver_stays_kept(session, monkeypatch):
    import nums.backends.ray.executor as ray_executor

    s = nps.array(np.arange(8.0), block_shape=(2,)).sum()
    merge = ray_executor.run_kernel

    def interrupted(*args):
        monkeypatch.setattr(ray_executor, "run_kernel", merge)
        raise KeyboardInterrupt

    monkeypatch.setattr(ray_executor, "run_kernel", interrupted)
    with pytest.raises(KeyboardInterrupt):
        s.get()
    assert s.get() == 28.0
    assert float(s + 1) == 29.0


def test_a_kept_merge_dropped_by_shutdown_raises_on_reads(harness):
    harness.single()
    s = nps.array(np.arange(8.0), block_shape=(2,)).sum().persist()
    nums.shutdown()
    harness.single()
    # nums refuses arrays of a shut-down session (before the executor's "never computed")
    with pytest.raises(RuntimeError, match="shut down"):
        s.get()


def test_a_merge_failing_in_the_driver_raises_as_on_ray(session):
    x = nps.array(np.array([1e308, 1e308]), block_shape=(1,))  # a partial per CPU
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError, match="overflow"):
            x.sum().get()
    with np.errstate(over="ignore"):
        assert x.sum().get() == np.inf
    assert float(nps.array(np.arange(5.0), block_shape=(2,)).sum()) == 10.0


def test_packed_and_lone_outputs_mix_in_batches(session, monkeypatch):
    """With a pack limit between a ragged array's full and edge blocks, a batch returns the
    full blocks alone and the edge blocks in a pack; later batches and get() read both."""
    import nums.backends.ray.batching as batching

    monkeypatch.setattr(batching, "PACK_MEMBER_BYTES", 300_000)  # full 720 KB, edges <= 240 KB
    a = np.random.default_rng(4).standard_normal((1000, 1000))
    x = nps.array(a, block_shape=(300, 300))
    y = (x * 2 + 1).persist()
    blocks = y._leaf().refs.ravel()
    assert {b.member is None for b in blocks} == {True, False}
    assert len({resolve(b) for b in blocks}) < len(blocks)
    assert_eq(y, a * 2 + 1)
    assert_eq((y @ y.T).sum(axis=0), ((a * 2 + 1) @ (a * 2 + 1).T).sum(axis=0), rtol=1e-10)
    assert_eq(nps.sin(y)[::7, 250:], np.sin(a * 2 + 1)[::7, 250:])
    values = nums.get(y[999, 999], y[:300, :300], y[900:, :])  # a pack's member, lone blocks
    for got, want in zip(values, ((a * 2 + 1)[999, 999], (a * 2 + 1)[:300, :300],
                                  (a * 2 + 1)[900:, :])):
        np.testing.assert_array_equal(got, want)
    # batches with a single small output among large ones (each alone, in item order)
    for shape in ((600, 610), (610, 600), (900, 310), (310, 900)):
        b = np.random.default_rng(5).standard_normal(shape)
        z = (nps.array(b, block_shape=(300, 300)) - 1).persist()
        np.testing.assert_array_equal(z.get(), b - 1)
        assert_eq(z.sum(axis=1), (b - 1).sum(axis=1), rtol=1e-12)


class _Unpicklable:
    def __reduce__(self):
        raise TypeError("cannot pickle this")


def test_a_batch_that_cannot_be_sent_fails_only_its_blocks(session):
    executor, device = session.executor, session.devices[0]
    x = nps.arange(10.0, block_shape=(5,)).persist()
    first, second = x._leaf().refs.ravel()
    add = all_kernels()["add_blocks"]
    good = executor.submit(add, (first, second), device, nbytes=40.0)
    bad = executor.submit(add, (first, _Unpicklable()), device, nbytes=40.0)  # other batch
    with pytest.raises(TypeError, match="serialize"):
        executor.flush()
    np.testing.assert_array_equal(executor.get([good], timeout=60)[0], [5.0, 7, 9, 11, 13])
    with pytest.raises(RuntimeError, match="never computed.*TypeError"):
        executor.get([bad])
    with pytest.raises(RuntimeError, match="never computed"):
        executor.submit(add, (bad, first), device)
    assert float((x + 1).sum()) == 55.0  # the session keeps working


# -- errors --------------------------------------------------------------------------------

class _ExitsWhenUnpickled:
    """Kills the worker process that unpickles it (a crash on every retry of its batch)."""

    def __reduce__(self):
        return (os._exit, (3,))


class _KillsItsWorkerOnce:
    """Unpickled in a worker: the first time (no marker file yet), kills that worker."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"test -e {self.marker} && exit 0; touch {self.marker}; "
                            "sleep 1; kill -9 $PPID",))


@pytest.mark.timeout(120)
def test_batches_retried_after_a_worker_restart_cannot_wait_on_each_other(session, tmp_path):
    """Ray runs the calls it retries on a restarted actor out of order: a batch that waited
    inside the actor for an earlier batch queued on the same actor hung there (review)."""
    executor, device = session.executor, session.devices[0]
    add = all_kernels()["add_blocks"]
    one = np.ones(4)
    crash = _KillsItsWorkerOnce(tmp_path / "killed")
    outs = [executor.submit(add, (one, crash if i == 0 else 0.0), device, nbytes=32.0)
            for i in range(5 * KERNELS_PER_BATCH + 1)]  # 6 batches on the node's 2 actors
    # merges of batch 0 with batches 2, 4 (on batch 0's actor), 3 and 5 (on the other)
    merges = [executor.submit(add, (outs[0], outs[k]), device, nbytes=32.0)
              for k in (2, 3, 4, 5)]
    values = executor.get(merges, timeout=60)
    np.testing.assert_array_equal(values, np.full((4, 4), 2.0))
    assert (tmp_path / "killed").exists()  # the worker really was killed once


@pytest.mark.timeout(60)
def test_a_batch_that_crashes_its_worker_fails_and_the_session_goes_on(session):
    executor, device = session.executor, session.devices[0]
    x = nps.arange(10.0, block_shape=(5,)).persist()
    first, _ = x._leaf().refs.ravel()
    crash = executor.submit(all_kernels()["add_blocks"], (first, _ExitsWhenUnpickled()),
                            device, nbytes=40.0)
    start = time.monotonic()
    with pytest.raises(WorkerLostError, match="died on each of the 4 tries") as info:
        executor.get([crash], timeout=50)
    # the actor answered again after its restarts: no wait for a lost node (30 s)
    assert time.monotonic() - start < 25
    assert isinstance(info.value.__cause__, ray.exceptions.RayActorError)
    assert session.executor.nodes[0].node_id in str(info.value)
    assert "session goes on" in str(info.value)
    assert float((x + 1).sum()) == 55.0


@pytest.mark.timeout(240)
def test_a_worker_killed_again_and_again_ends_in_a_nums_error(session):
    """Killing the busy worker processes over and over (os.kill of each actor process that
    runs a batch, as soon as Ray restarted it) uses up a batch's tries: the get raises
    WorkerLostError naming the node and the worker, Ray's error as its cause (it was Ray's
    raw ``ActorUnavailableError ... Socket closed``), and the session goes on."""
    executor = session.executor
    x, total = _slow_sum(n_blocks=6, block=200_000, rounds=20)
    materialize([total._node])  # submitted, running now
    outcome: dict = {}

    def read() -> None:
        try:
            outcome["value"] = float(total)
        except BaseException as exc:  # checked below
            outcome["error"] = exc

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    killed = 0
    start = time.monotonic()
    while reader.is_alive() and time.monotonic() - start < 150:
        for proc, title in ray_workers_of(os.getpid()):
            if title.startswith("ray::nums.") and \
                    not title.startswith(("ray::nums.probe", "ray::nums.start")):
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
        time.sleep(0.02)
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert killed > executor.max_retries, killed
    error = outcome.get("error")
    assert isinstance(error, WorkerLostError), outcome
    message = str(error)
    assert executor.nodes[0].node_id in message and "nums worker" in message, message
    assert f"died on each of the {executor.max_retries + 1} tries" in message
    assert isinstance(error.__cause__, ray.exceptions.RayActorError), repr(error.__cause__)
    assert "session goes on" in message and "lost" in message
    with pytest.raises(WorkerLostError):  # the blocks of that batch stay lost
        float(total)
    # Ray restarted the workers: the session still works
    a = np.random.default_rng(2).standard_normal((60, 7))
    assert_eq(nps.array(a, block_shape=(8, 7)).sum(axis=0), a.sum(axis=0), rtol=1e-12)
    x, total = _slow_sum(n_blocks=4, block=10_000, rounds=2)
    assert np.isclose(float(total), _expected_slow_sum(x.get(), 2), rtol=1e-12)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", list(FAILURES))
def test_kernel_exception_reaches_caller(session, kind):
    error_type, message = _numpy_error(*FAILURES[kind])
    with pytest.raises(error_type) as info:
        failing_array(kind).get()
    assert type(info.value) is error_type  # not Ray's RayTaskError(...) wrapper
    assert str(info.value) == message
    assert any("Ray task" in note for note in getattr(info.value, "__notes__", []))
    with pytest.raises(error_type) as info:  # through dependent tasks
        (failing_array(kind) * 2 + 1).sum().get()
    assert type(info.value) is error_type and str(info.value) == message
    a = np.arange(12.0).reshape(3, 4)  # the session keeps working
    assert_eq(nps.array(a, block_shape=(2, 2)) @ nps.array(a.T, block_shape=(2, 2)), a @ a.T)


def test_init_twice_with_other_backend(session):
    with pytest.raises(RuntimeError, match="already running with backend 'ray'") as info:
        nums.init(backend="local", workers=1)
    assert "nums.shutdown()" in str(info.value)
    assert nums.session() is session
    assert int(nps.arange(5).sum()) == 10


def test_get_timeout(session):
    executor = session.executor
    x = nps.random.default_rng(0).random((2_000_000,), block_shape=(1_000_000,))
    y = x
    for _ in range(12):
        y = nps.sin(y) + 0.5
    (leaf,) = materialize([y.sum()._node])
    with pytest.raises(TimeoutError):
        executor.get(list(leaf.refs.ravel()), timeout=0.05)
    assert np.isfinite(executor.get(list(leaf.refs.ravel()), timeout=120)[0])


# -- freeing -------------------------------------------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize("block", [3_125_000, 250_000], ids=["alone", "packed"])
def test_object_store_usage_returns_to_baseline(session, block):
    """200 MB in 8 blocks of 25 MB (a Ray object each) or 100 blocks of 2 MB (in packs)."""
    gc.collect()
    baseline = settled_plasma_used_mib()
    x = nps.ones((25_000_000,), block_shape=(block,)).persist()
    y = (x * 2).persist()
    assert float(y[-1]) == 2.0
    deadline = time.monotonic() + 30  # Ray's memory summary can lag the last put
    while (used := plasma_used_mib()) < baseline + 350 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert used >= baseline + 350, (baseline, used)
    del x, y
    gc.collect()
    deadline = time.monotonic() + 30
    while plasma_used_mib() > baseline + 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert plasma_used_mib() <= baseline + 10, (baseline, used, plasma_used_mib())


# -- fault tolerance -----------------------------------------------------------------------

def _slow_sum(n_blocks: int, block: int, rounds: int):
    x = nps.random.default_rng(3).random((n_blocks * block,), block_shape=(block,)).persist()
    y = x
    for _ in range(rounds):
        y = nps.sin(y) * 0.9 + 0.1
    return x, y.sum()


def _expected_slow_sum(v: np.ndarray, rounds: int) -> float:
    for _ in range(rounds):
        v = np.sin(v) * 0.9 + 0.1
    return float(v.sum())


@pytest.mark.timeout(120)
def test_killed_worker_is_retried(session, capfd):
    session.executor.progress = True  # also shows the bar of a long get (on stderr)
    try:
        x, total = _slow_sum(n_blocks=6, block=200_000, rounds=12)
        materialize([total._node])  # submitted, running now
        victim = None
        deadline = time.monotonic() + 30
        while victim is None and time.monotonic() < deadline:
            busy = [p for p, title in ray_workers_of(os.getpid())
                    if title.startswith("ray::nums.fused_reduce")]
            victim = busy[0] if busy else None
            time.sleep(0.02)
        assert victim is not None, "no worker was running a nums task"
        os.kill(victim.pid, signal.SIGKILL)
        start = time.monotonic()
        value = float(total)
        waited = time.monotonic() - start
        assert not victim.is_running() or victim.status() == "zombie"
    finally:
        session.executor.progress = False
    assert np.isclose(value, _expected_slow_sum(x.get(), 12), rtol=1e-12)
    if waited > PROGRESS_AFTER_S + 1:  # the get was long enough for the bar to show
        assert "block" in capfd.readouterr().err  # tqdm's bar: "nums: ...block/s"


def test_timeline_of_last_job(session, tmp_path):
    from nums.backends.ray.timeline import export_timeline

    a = np.arange(400.0).reshape(20, 20)
    x = nps.array(a, block_shape=(5, 20))
    assert_eq(x.T @ x, a.T @ a)
    path = tmp_path / "timeline.json"
    events = export_timeline(str(path))
    names = {e["name"] for e in events}
    # a batch task is named after its first kernel, "+N" for N more kernels
    assert any(n.startswith("nums.contract_sum") for n in names), names
    assert path.stat().st_size > 0


# -- start / join / shutdown ---------------------------------------------------------------

def run_python(code: str, timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMS_", "RAY_ADDRESS"))}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=os.getcwd())


def test_unreachable_address_fails_fast():
    from nums.backends.ray.cluster import check_reachable

    with pytest.raises(ConnectionError, match="127.0.0.1:9"):
        check_reachable("127.0.0.1:9")
    with pytest.raises(ConnectionError, match="ray://127.0.0.1:9"):
        check_reachable("ray://127.0.0.1:9")
    start = time.monotonic()
    result = run_python("""
        import nums
        try:
            nums.init(backend="ray", address="127.0.0.1:9")
        except ConnectionError as exc:
            print("ConnectionError:", exc)
        print("initialized:", nums.is_initialized())
    """, timeout=60)
    assert time.monotonic() - start < 30
    assert "ConnectionError:" in result.stdout and "127.0.0.1:9" in result.stdout, result
    assert "initialized: False" in result.stdout


@pytest.mark.timeout(120)
def test_local_ray_started_and_stopped_by_nums():
    result = run_python("""
        import numpy as np, ray, nums, nums.numpy as nps
        session = nums.init(backend="ray", testing=True, num_cpus=1)
        print("owns:", session.executor.owns_ray, "devices:", len(session.devices))
        print("value:", float((nps.arange(100.0) * 2).sum()))
        print("cpus:", ray.cluster_resources()["CPU"])
        nums.shutdown()
        print("ray after shutdown:", ray.is_initialized())
    """, timeout=110)
    out = result.stdout
    assert "owns: True devices: 1" in out, result
    assert "value: 9900.0" in out
    assert "cpus: 1.0" in out
    assert "ray after shutdown: False" in out


@pytest.mark.timeout(150)
def test_joins_through_a_ray_client_address(session):
    """``ray://`` (Ray Client): a client server on the harness's Ray; nums runs in another
    process that joins through it and leaves Ray running at shutdown."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Ray's own clusters use token authentication by default; its client reads the token
    # only when told to
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMS_", "RAY_ADDRESS"))}
    env.setdefault("RAY_AUTH_MODE", "token")
    server = subprocess.Popen(
        [sys.executable, "-m", "ray.util.client.server", "--mode", "legacy", "--host",
         "127.0.0.1", "--port", str(port), "--address",
         ray.get_runtime_context().gcs_address],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            import numpy as np, nums, nums.numpy as nps
            session = nums.init(backend="ray", address="ray://127.0.0.1:{port}")
            print("owns:", session.executor.owns_ray, "devices:", len(session.devices))
            a = np.arange(4000.0).reshape(40, 100)
            x = nps.array(a, block_shape=(10, 100))
            print("sum ok:", float((x * 2).sum()) == (a * 2).sum())
            print("gram ok:", np.allclose((x.T @ x).get(), a.T @ a))
            nums.shutdown()
        """)], capture_output=True, text=True, timeout=120, env=env, cwd=os.getcwd())
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = result.stdout
    assert "owns: False devices: 1" in out, result
    assert "sum ok: True" in out and "gram ok: True" in out, result
    assert float(nps.arange(10.0).sum()) == 45.0  # the harness's own session is intact


@pytest.mark.timeout(240)
def test_ray_shut_down_under_a_session_raises_and_nums_restarts(harness):
    """A user's ``ray.shutdown()`` under a running session: the next nums calls raise
    RayConnectionLostError (a RuntimeError) at once, saying how to restart, and start no Ray
    behind the user's back (Ray's API calls would); ``nums.shutdown()`` and ``nums.init`` then
    work. The same for Ray shut down and started again: nums leaves the new Ray running."""
    restart = r"nums\.shutdown\(\) and nums\.init\(backend='ray'"
    try:
        harness.single()
        x = nps.arange(100.0, block_shape=(10,)).persist()
        assert float(x.sum()) == 4950.0
        ray.shutdown()  # the harness's Ray, under the session
        start = time.monotonic()
        calls = (lambda: float((x * 2).sum()), x.get, lambda: nps.ones(4).get(),
                 lambda: nps.array(np.arange(3.0)))
        for call in calls:
            with pytest.raises(RayConnectionLostError,
                               match=r"ray\.shutdown\(\).*" + restart) as info:
                call()
            assert isinstance(info.value, RuntimeError)
        assert time.monotonic() - start < 30
        assert not ray.is_initialized()  # Ray's auto-init did not start a new one
        nums.shutdown()
        assert not ray.is_initialized()
        session = nums.init(backend="ray", testing=True)  # a local Ray of nums' own
        assert session.executor.owns_ray
        y = nps.arange(10.0, block_shape=(3,))
        assert float(y.sum()) == 45.0
        ray.shutdown()  # the user stops that Ray and starts another one
        ray.init(address="local", num_cpus=1, include_dashboard=False, logging_level="WARNING")
        start = time.monotonic()
        with pytest.raises(RayConnectionLostError, match="started again.*" + restart):
            float((y + 1).sum())
        assert time.monotonic() - start < 30
        nums.shutdown()
        assert ray.is_initialized()  # the user's new Ray keeps running
        session = nums.init(backend="ray", testing=True)  # ... and nums joins it
        assert not session.executor.owns_ray
        assert float(nps.arange(10.0, block_shape=(3,)).sum()) == 45.0
    finally:
        harness.stop()  # the next test's fixture starts the harness's Ray again


@pytest.mark.timeout(240)
def test_ray_cluster_gone_under_a_job_raises_within_seconds():
    """The cluster dies (its GCS and raylet killed) under a nums session: a job that needs
    it raises RayConnectionLostError within seconds (Ray's own calls would block for a
    minute, then Ray ends the process); nums.shutdown() disconnects the dead Ray and a new
    session starts. In a process of its own: it kills that process's Ray."""
    result = run_python("""
        import os, time
        import psutil, ray, nums, nums.numpy as nps
        from nums.backends.ray.errors import RayConnectionLostError

        nums.init(backend="ray", testing=True, num_cpus=1)
        print("before:", float(nps.arange(100.0, block_shape=(10,)).sum()), flush=True)
        for proc in psutil.Process().children(recursive=True):
            if os.path.basename(proc.cmdline()[0]) in ("gcs_server", "raylet"):
                proc.kill()
        start = time.monotonic()
        try:  # blocks of 4 MB: the object store, inside the dead raylet
            y = nps.random.default_rng(0).random((4_000_000,), block_shape=(500_000,))
            print("value:", float((y * 2).sum()))
        except RayConnectionLostError as exc:
            print("error:", type(exc.__cause__).__name__, exc, flush=True)
        print("seconds:", time.monotonic() - start, flush=True)
        try:
            nps.arange(5.0).get()
        except RayConnectionLostError:
            print("later calls raise too", flush=True)
        nums.shutdown()
        print("ray after shutdown:", ray.is_initialized(), flush=True)
        nums.init(backend="ray", testing=True, num_cpus=1)
        print("again:", float(nps.arange(10.0, block_shape=(3,)).sum()), flush=True)
        nums.shutdown()
    """, timeout=220)
    out = result.stdout
    assert "before: 4950.0" in out, result
    assert "error:" in out and "has not answered" in out and "nums.shutdown()" in out, result
    seconds = float(re.search(r"seconds: ([\d.]+)", out).group(1))
    assert seconds < 30, out
    assert "later calls raise too" in out
    assert "ray after shutdown: False" in out
    assert "again: 45.0" in out, result


# -- several nodes (last: the harness swaps the single node for a cluster) -----------------

def _node_id_block(shape):
    """Kernel: a block whose rows are the id of the node the task runs on."""
    node = np.frombuffer(bytes.fromhex(ray.get_runtime_context().get_node_id()), np.uint8)
    return np.broadcast_to(node, shape).copy()


ROWS = 4096  # blocks over Ray's 100 KiB inline limit live in their node's object store


def node_id_array(grid_shape: tuple[int, int], monkeypatch) -> BlockArray:
    """A BlockArray whose blocks of ``ROWS`` rows are created by :func:`_node_id_block` (a
    Create node, like ``nps.zeros``): every row holds the id of the node that made it."""
    width = len(bytes.fromhex(ray.get_runtime_context().get_node_id()))
    monkeypatch.setitem(all_kernels(), "test_node_id", ByValueKernel("test_node_id",
                                                              {"cpu": _node_id_block}))
    grid = ArrayGrid.regular((grid_shape[0] * ROWS, grid_shape[1] * width), (ROWS, width))
    return BlockArray(Create(grid, np.dtype(np.uint8), "test_node_id",
                             lambda index, offset, block_shape: (block_shape,)))


def nodes_of_blocks(x: BlockArray) -> dict[tuple[int, int], str]:
    """Block index -> id of the node whose task created it, read from the values."""
    value = x.get()
    width = value.shape[1] // x.grid_shape[1]
    return {(i, j): value[i * ROWS, j * width:(j + 1) * width].tobytes().hex()
            for i in range(x.grid_shape[0]) for j in range(x.grid_shape[1])}


@pytest.mark.timeout(180)
def test_block_cyclic_placement_on_three_nodes(harness, monkeypatch):
    from ray.experimental import get_object_locations

    session = harness.three_nodes()
    assert len(session.devices) == 3
    node_ids = [n.node_id for n in session.executor.nodes]
    assert sorted(node_ids) == sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    x = node_id_array((7, 1), monkeypatch)
    assert x.block_shape[0] == ROWS and x.grid_shape == (7, 1)
    for (i, _), ran_on in nodes_of_blocks(x).items():
        assert ran_on == node_ids[i % 3], f"block {i}"
    # ... and the block stays in that node's object store (Ray's bookkeeping, not nums')
    refs = [resolve(r) for r in x._leaf().refs.ravel()]  # the ObjectRefs
    locations = get_object_locations(refs)
    for i, ref in enumerate(refs):
        assert node_ids[i % 3] in locations[ref]["node_ids"], (i, locations[ref])
    # a 2-d grid of devices: block (i, j) on device (i mod 3, j mod 1)
    nums.shutdown()  # the cluster keeps running (nums joined it)
    session = harness.three_nodes(cluster_shape=(3, 1))
    assert session.device_grid.shape == (3, 1)
    node_ids = [n.node_id for n in session.executor.nodes]
    for (i, j), ran_on in nodes_of_blocks(node_id_array((4, 2), monkeypatch)).items():
        assert ran_on == node_ids[i % 3], f"block {(i, j)}"
    nums.shutdown()
    harness.three_nodes()


@pytest.mark.timeout(180)
def test_results_on_three_nodes(harness):
    harness.three_nodes()
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((30, 20)), rng.standard_normal((20, 25))
    x, y = nps.array(a, block_shape=(4, 6)), nps.array(b, block_shape=(6, 5))
    assert_eq(x @ y, a @ b, rtol=1e-10, atol=1e-12)
    assert_eq((nps.exp(x) - x.T.T).sum(axis=0), (np.exp(a) - a).sum(axis=0), rtol=1e-10)
    z = nps.random.default_rng(9).standard_normal((40, 3), block_shape=(5, 3))
    zn = z.get()
    assert_eq(z.T @ z, zn.T @ zn, rtol=1e-10)
    # every operation of the single-node test, with reads across nodes in each batch level
    a, b = rng.standard_normal((20, 18)), rng.standard_normal((20, 18))
    for blocks in (((6, 5), (7, 4)), ((3, 18), (20, 2))):
        x, y = nps.array(a, block_shape=blocks[0]), nps.array(b, block_shape=blocks[1])
        for fn in OPERATIONS.values():
            assert_eq(fn(nps, x, y), fn(np, a, b), rtol=1e-10, atol=1e-12)


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("probe_kernels")
def test_multi_output_tasks_on_three_nodes(harness):
    """A two-output kernel (one task, two result arrays) with reads across nodes, and a
    task pinned to each node."""
    from tests.test_tasks import two_outputs

    session = harness.three_nodes()
    a = np.random.default_rng(8).standard_normal((30, 12))
    x = nps.array(a, block_shape=(4, 5))
    scaled, partial = two_outputs(nps.exp(x) - x, 0.5)
    want = np.exp(a) - a
    assert_eq(scaled, want * 0.5, rtol=1e-12)
    assert_eq(partial.sum(axis=1), want.sum(axis=1), rtol=1e-12)
    for device in range(len(session.devices)):
        scaled, partial = two_outputs(x, 2.0, device=device)
        assert_eq(partial.sum(axis=1) + scaled.sum(axis=1), a.sum(axis=1) * 3, rtol=1e-12)
        assert set(scaled._leaf().devices.ravel().tolist()) == {device}


@pytest.mark.timeout(180)
def test_node_removed_mid_job(harness):
    from nums.backends.ray.errors import NodeLostError

    session = harness.three_nodes()
    executor = session.executor
    driver_node = ray.get_runtime_context().get_node_id()
    x, total = _slow_sum(n_blocks=6, block=200_000, rounds=12)
    expected = _expected_slow_sum(x.get(), 12)
    materialize([total._node])
    victim = next(n for n in harness.cluster.worker_nodes
                  if n.node_id != driver_node)
    victim_id = victim.node_id
    time.sleep(0.5)
    start = time.monotonic()
    harness.cluster.remove_node(victim, allow_graceful=False)
    try:
        value = float(total)
    except NodeLostError as exc:
        assert victim_id in str(exc)
    else:
        assert np.isclose(value, expected, rtol=1e-12)
    assert time.monotonic() - start < 60
    assert any(victim_id in lost for lost in executor.lost_nodes())
    harness.stop()  # the damaged cluster is not reused


@pytest.mark.slow
def test_api_suite_runs_on_ray():
    """The whole API suite passes with the Ray executor (every module but the backends')."""
    env = dict(os.environ, NUMS_TEST_BACKENDS="ray")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "tests",
         "--ignore", "tests/test_ray.py", "--ignore", "tests/test_mpi.py"],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), env=env,
        capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"\d+ passed", proc.stdout)
