"""The health of a Ray session: whether its Ray and cluster are still there, and what a
failure from Ray means for the caller.

:class:`ClusterHealth` is what the Ray executor asks before it calls Ray for a job
(:meth:`~ClusterHealth.ensure_connected`), while it waits for a long job
(:meth:`~ClusterHealth.node_watch`) and when ``ray.get`` raises
(:meth:`~ClusterHealth.translate`): a kernel's own error passes through; a lost node, a lost
worker and a lost cluster become :class:`~nums.backends.ray.errors.NodeLostError`,
:class:`~nums.backends.ray.errors.WorkerLostError` and
:class:`~nums.backends.ray.errors.RayConnectionLostError`, with Ray's error chained. See
the executor's docstring for the rules (*The connection*).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from nums.backends.ray.cluster import (
    GCS_TIMEOUT_S,
    RayNode,
    alive_node_ids,
    connection_token,
    gcs_address,
)
from nums.backends.ray.errors import (
    RESTART_HINT,
    NodeLostError,
    RayConnectionLostError,
    WorkerLostError,
    connection_lost_message,
    is_system_error,
    lost_node_message,
    unwrap_task_error,
    worker_lost_message,
)

from nums.runtime.device import Device

__all__ = ["ClusterHealth", "NODE_LOSS_GRACE_S", "NODE_DEATH_DETECTION_S",
           "CLUSTER_LOSS_GRACE_S"]

NODE_LOSS_GRACE_S = 10.0  # after a node dies, how long Ray may take to fail the job itself
NODE_DEATH_DETECTION_S = 30.0  # Ray declares a node dead after ~15 s of failed health checks
CLUSTER_LOSS_GRACE_S = 10.0  # how long the GCS may not answer before a job gives up (Ray
# itself ends the process after 60 s without its GCS)


class ClusterHealth:
    """The connection, nodes and workers of one Ray session (see the module docstring).

    Parameters
    ----------
    ray : module
        The ``ray`` module.
    nodes : sequence of RayNode
        The session's nodes, in device order.
    devices : sequence of Device
        The nums device of each node.
    slots : sequence of int
        Worker actors per node.
    pool : WorkerPool
        The worker actors (to locate and probe one that failed).
    max_retries : int
        Retries of a batch whose worker died (for messages).
    """

    def __init__(self, ray: Any, nodes: Sequence[RayNode], devices: Sequence[Device],
                 slots: Sequence[int], pool: Any, max_retries: int) -> None:
        self._ray = ray
        self.nodes = tuple(nodes)
        self._devices = tuple(devices)
        self._slots = list(slots)
        self._pool = pool
        self.max_retries = max_retries
        self.token = connection_token()  # which Ray connection the session runs on
        self.gcs_address = gcs_address()
        self.lost: str | None = None  # why the session's Ray is gone, once seen
        self.cluster_gone = False  # the GCS stopped answering (shutdown disconnects Ray)
        self._silent_since: float | None = None  # since when the GCS has not answered

    def ensure_connected(self) -> None:
        """Raise unless Ray is still the one this session started on (see the module's
        docstring, *The connection*), before Ray is called for a job.

        Raises
        ------
        RayConnectionLostError
            If Ray was shut down or started again in this process, or its cluster was lost.
        """
        if self.lost is None:
            if not self._ray.is_initialized():
                self.lost = ("Ray was shut down in this process (ray.shutdown()) while the "
                              "nums session ran on it")
            elif connection_token() != self.token:
                self.lost = ("Ray was shut down and started again in this process while the "
                              "nums session ran on the earlier one")
            else:
                return
        raise RayConnectionLostError(connection_lost_message(self.lost))

    def translate(self, err: BaseException, deadline: float | None) -> BaseException:
        """What the caller gets for ``err`` from ``ray.get``.

        - A kernel's own exception: itself (see :func:`unwrap_task_error`).
        - A system failure while the cluster does not answer (for up to
          :data:`CLUSTER_LOSS_GRACE_S`): :class:`RayConnectionLostError`.
        - A system failure while a node of the session is dead: :class:`NodeLostError`.
        - A worker actor's failure (its process died on every try of a batch) on a node that
          lives: :class:`WorkerLostError`. A batch's retries can run out while its actor does
          not answer, well before Ray has seen that the actor's node died (health checks take
          ~15 s). So the actor is probed until it answers (it was restarted: the session goes
          on), dies for good, or its node shows up as lost, for at most
          :data:`NODE_DEATH_DETECTION_S` and never past ``deadline`` (the get's own timeout,
          ``time.monotonic()`` seconds).

        The nums errors chain Ray's error as ``__cause__``; other system failures are Ray's
        error itself.
        """
        cause = unwrap_task_error(err)
        if not is_system_error(cause):
            return cause
        lost = self.lost_or_none()
        while lost is None and not self.silent_too_long():
            time.sleep(0.25)
            lost = self.lost_or_none()
        if lost is None:
            return self.cluster_lost(cause)
        if lost:
            return _chained(NodeLostError(lost_node_message(lost)), cause)
        if not isinstance(cause, self._ray.exceptions.RayActorError):
            return cause
        actor_id = getattr(cause, "actor_id", None)
        if isinstance(actor_id, bytes):
            actor_id = actor_id.hex()
        tries = f"{self.max_retries + 1} tries"
        if self._pool.locate(actor_id) is None:  # Ray did not say which worker
            return _chained(WorkerLostError(worker_lost_message(
                self.describe_worker(actor_id), f"failed a batch on each of its {tries}",
                f"if the next call fails too, {RESTART_HINT}")), cause)
        settle = time.monotonic() + NODE_DEATH_DETECTION_S
        deadline = settle if deadline is None else min(settle, deadline)
        answer = None
        while time.monotonic() < deadline:
            lost = self.lost_or_none()
            if lost:
                return _chained(NodeLostError(lost_node_message(lost)), cause)
            answer = self._pool.ping(actor_id, max(0.1, min(2.0, deadline - time.monotonic())))
            if answer is not None:
                break
            time.sleep(0.25)
        if answer:
            what = (f"died on each of the {tries} of a batch (killed, a crash in a kernel or "
                    "in unpickling its arguments, or the OOM killer; a death also costs a try "
                    "to the other batches queued on that worker)")
            after = ("The blocks of that batch are lost (reading them raises this again); Ray "
                     "restarted the worker and the session goes on: compute them again")
        elif answer is False:
            what = f"died for good (Ray does not restart it) after the {tries} of a batch"
            after = f"the session cannot run on it any more; {RESTART_HINT}"
        else:
            what = (f"failed the {tries} of a batch and has not answered since (restarting "
                    "again and again, hung, or its node unreachable)")
            after = f"if the next call fails too, {RESTART_HINT}"
        return _chained(WorkerLostError(worker_lost_message(self.describe_worker(actor_id),
                                                            what, after)), cause)

    def describe_worker(self, actor_id: str | None) -> str:
        """``nums worker i of n (Ray actor ...) on node ... (nums device d)``, for messages."""
        where = self._pool.locate(actor_id)
        if where is None:
            nodes = "; ".join(f"{n.describe()} (nums device {d})"
                              for n, d in zip(self.nodes, self._devices))
            return f"a nums worker (Ray actor {actor_id}) on one of {nodes}"
        node, slot = where
        return (f"nums worker {slot + 1} of {self._slots[node]} (Ray actor {actor_id}) on "
                f"{self.nodes[node].describe()} (nums device {self._devices[node]})")

    def cluster_lost(self, cause: BaseException | None) -> RayConnectionLostError:
        """The error for a cluster whose GCS no longer answers; later calls raise it too and
        :meth:`shutdown` disconnects Ray."""
        at = f" (GCS at {self.gcs_address})" if self.gcs_address else ""
        self.lost = (f"the Ray cluster{at} has not answered for {CLUSTER_LOSS_GRACE_S:.0f} s: "
                      "it was stopped or its head node died")
        self.cluster_gone = True
        return _chained(RayConnectionLostError(connection_lost_message(self.lost)), cause)

    def lost_nodes(self) -> list[str]:
        """Descriptions of this session's nodes that Ray no longer reports alive (all of them
        when the cluster does not answer within
        :data:`~nums.backends.ray.cluster.GCS_TIMEOUT_S`)."""
        lost = self.lost_or_none()
        if lost is None:
            return [f"{n.describe()} (nums device {d}; the Ray cluster does not answer)"
                    for n, d in zip(self.nodes, self._devices)]
        return lost

    def lost_or_none(self) -> list[str] | None:
        """:meth:`lost_nodes`, or None when the cluster's GCS does not answer in time (or Ray
        is no longer connected)."""
        try:
            alive = alive_node_ids(GCS_TIMEOUT_S)
        except Exception:
            if self._silent_since is None:
                self._silent_since = time.monotonic()
            return None
        self._silent_since = None
        return [f"{n.describe()} (nums device {d})" for n, d in zip(self.nodes, self._devices)
                if n.node_id not in alive]

    def silent_too_long(self) -> bool:
        """Whether the GCS has not answered for :data:`CLUSTER_LOSS_GRACE_S` (since the first
        of the unanswered reads in a row by :meth:`_lost_or_none`)."""
        since = self._silent_since
        return since is not None and time.monotonic() - since > CLUSTER_LOSS_GRACE_S

    def node_watch(self) -> Any:
        """A check for :func:`wait_all`: raise NodeLostError once a node has been dead for
        :data:`NODE_LOSS_GRACE_S`, or RayConnectionLostError once the cluster has not answered
        for :data:`CLUSTER_LOSS_GRACE_S`, and the job is still not done."""
        lost_since: list[float] = []

        def check() -> None:
            lost = self.lost_or_none()
            if lost is None:
                if self.silent_too_long():
                    raise self.cluster_lost(None)
                return
            if not lost:
                lost_since.clear()
                return
            if not lost_since:
                lost_since.append(time.monotonic())
            elif time.monotonic() - lost_since[0] > NODE_LOSS_GRACE_S:
                raise NodeLostError(lost_node_message(lost))

        return check


def _chained(error: BaseException, cause: BaseException | None) -> BaseException:
    """``error`` with ``cause`` as its ``__cause__`` (kept when it is raised ``from`` it)."""
    error.__cause__ = cause
    return error
