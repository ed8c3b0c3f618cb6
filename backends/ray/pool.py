"""The session's Ray workers: one actor per CPU of every node, pinned to that node.

Why actors and not tasks: a Ray *task* waits for a worker lease from the raylet before it
starts, 1-3 ms per task on an idle machine and up to ~10 ms for the first task of a job; a
method call on an actor that is already running goes straight to its process. On this
project's 2-core benchmark machine the same batches ran sum(axis=0) of 128 MiB in 14-15 ms
instead of 18-20 ms and mean(axis=1) in 12-15 ms instead of 17-23 ms (a bare Ray task pair
with the merge in the driver: 15-18 ms).

What that changes for a Ray cluster, on purpose:

- **CPU accounting.** The actors take ``num_cpus=0``. With one CPU each they would hold every
  CPU of the cluster for the whole nums session, and a user's own Ray tasks would never run.
  nums never runs more batches at once than a node has CPUs (one actor per CPU, one batch at
  a time each), but Ray's scheduler does not see that use: Ray tasks of other programs on the
  same nodes share the CPUs with nums.
- **Faults.** A killed actor process is restarted (``max_restarts=-1``) and the calls it had
  been sent, the running one and those queued behind it, are retried up to ``max_retries``
  times each (``max_task_retries``): so, unlike tasks, a batch that kills its worker on every
  try also uses up tries of the batches queued on the same actor. A kernel's own exception is
  never retried. Batch outputs live in the node's object store and survive their worker. An
  actor pinned to a node that died cannot restart: its batches fail with Ray's actor errors,
  which the executor reports as a lost node. A batch that used up its tries on a node that
  lives (its worker killed or crashing again and again) is reported as a lost worker, named by
  :meth:`WorkerPool.locate`.
- **Order.** An actor runs one call at a time, in the order sent, except that Ray runs the
  calls it retries after a restart out of order. So a batch never waits for another one while
  it runs: what it reads from other batches comes as arguments, which Ray resolves before it
  sends the call (:mod:`nums.backends.ray.batching`).

Batches of a node go to its actors in turn (round robin), so the batches that
:func:`~nums.backends.ray.batching.form_batches` deals to a node's CPUs for one level run side
by side.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

from nums.backends.ray.tasks import probe_worker, run_batch

__all__ = ["BatchWorker", "WorkerPool"]


class BatchWorker:
    """The actor class: runs batches of kernels (see :func:`~nums.backends.ray.tasks.run_batch`).

    Ray logs an "Unhandled error" in a worker for every failed object it held a ref to and
    never read. A nums worker holds the refs of blocks from other batches, and when one of
    them failed, the caller of ``get()`` has the error already (with its type and message):
    the actor's process is nums' alone, so it turns those messages off for itself.
    """

    def __init__(self) -> None:
        os.environ["RAY_IGNORE_UNHANDLED_ERRORS"] = "1"  # read by Ray at each failed object

    def run(self, items: tuple[Any, ...], layout: tuple[Any, ...] | None, *refs: Any) -> Any:
        """Run one batch; return its outputs as ``layout`` says (one Ray object each, or
        packs of several)."""
        return run_batch(items, layout, *refs)

    def probe(self) -> dict[str, Any]:
        """Where this actor runs (see :func:`~nums.backends.ray.tasks.probe_worker`)."""
        return probe_worker()


class WorkerPool:
    """``slots[i]`` :class:`BatchWorker` actors on the i-th node, created at once.

    Parameters
    ----------
    strategies : sequence
        One hard ``NodeAffinitySchedulingStrategy`` per node, in device order.
    slots : sequence of int
        How many actors (CPUs) per node.
    max_retries : int
        Retries of a batch whose actor process died (``max_task_retries``).
    """

    OPTIONS_CACHE = 4096

    def __init__(self, strategies: Sequence[Any], slots: Sequence[int], *,
                 max_retries: int) -> None:
        import ray

        self._ray = ray
        actor_class = ray.remote(BatchWorker)
        self.actors = [[actor_class.options(num_cpus=0, scheduling_strategy=strategy,
                                            max_restarts=-1, max_task_retries=max_retries).remote()
                        for _ in range(count)]
                       for strategy, count in zip(strategies, slots)]
        self._turn = [0] * len(self.actors)
        self._methods: dict[tuple[int, int, int, str], Any] = {}

    def run_method(self, node: int, num_returns: int, name: str) -> Any:
        """The ``run`` method of the next actor of ``node``, with these Ray options (cached).

        Parameters
        ----------
        node : int
            Index of the node.
        num_returns : int
            Objects the batch returns.
        name : str
            Task name that Ray's dashboard, timeline and the process title show.

        Returns
        -------
        ray.actor.ActorMethod
            Call ``.remote(items, layout, *refs)`` on it.
        """
        actors = self.actors[node]
        turn = self._turn[node]
        self._turn[node] = (turn + 1) % len(actors)
        key = (node, turn, num_returns, name)
        method = self._methods.get(key)
        if method is None:
            if len(self._methods) > self.OPTIONS_CACHE:
                self._methods.clear()
            method = self._methods[key] = actors[turn].run.options(num_returns=num_returns,
                                                                    name=name)
        return method

    def probe(self, timeout: float) -> list[list[dict[str, Any]]]:
        """Run :meth:`BatchWorker.probe` on every actor; per node, what each one said.

        Raises
        ------
        ray.exceptions.GetTimeoutError, ray.exceptions.RayError
            As ``ray.get`` raises them.
        """
        refs = [[actor.probe.options(name="nums.start").remote() for actor in actors]
                for actors in self.actors]
        flat = self._ray.get([r for node in refs for r in node], timeout=timeout)
        out, at = [], 0
        for node in refs:
            out.append(flat[at:at + len(node)])
            at += len(node)
        return out

    def ping(self, actor_id: str | None, timeout: float) -> bool | None:
        """Ask the actor with hex id ``actor_id`` to answer a probe, once (no retries).

        Returns
        -------
        bool or None
            True when it answered within ``timeout`` seconds, None when it did not answer
            (unreachable, restarting, busy), False when Ray says it died for good or the id
            is not one of this pool's actors.
        """
        ray = self._ray
        actor = next((a for actors in self.actors for a in actors
                      if a._actor_id.hex() == actor_id), None)
        if actor is None:
            return False
        try:
            ray.get(actor.probe.options(name="nums.probe", max_task_retries=0).remote(),
                    timeout=timeout)
        except ray.exceptions.ActorDiedError:
            return False
        except (ray.exceptions.RayError, TimeoutError):
            return None
        return True

    def locate(self, actor_id: str | None) -> tuple[int, int] | None:
        """``(node, slot)`` of the actor with hex id ``actor_id``; None if not this pool's."""
        for node, actors in enumerate(self.actors):
            for slot, actor in enumerate(actors):
                if actor._actor_id.hex() == actor_id:
                    return node, slot
        return None

    def forget(self) -> None:
        """Drop the actor handles without a Ray call (Ray was shut down under the pool: any
        Ray API call would start a new Ray)."""
        self._methods.clear()
        self.actors = []

    def shutdown(self) -> None:
        """Stop every actor (their processes exit; blocks they computed stay in the store)."""
        self._methods.clear()
        for actors in self.actors:
            for actor in actors:
                with contextlib.suppress(Exception):  # the actor or its node is gone already
                    self._ray.kill(actor, no_restart=True)
        self.actors = []
