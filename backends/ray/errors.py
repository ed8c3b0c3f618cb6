"""Errors of the Ray backend: a failed kernel re-raised as itself, a lost node named.

- A kernel that raises inside a Ray task reaches the caller as the *original* exception (type
  and message), not as Ray's ``RayTaskError`` wrapper; a note says which task, pid and host.
- When Ray reports a system failure (lost object, unschedulable task, crashed worker) while a
  node holding nums devices is dead, the caller gets a :class:`NodeLostError` naming the node.
- When a worker actor of the session failed a batch on every try (its process killed or
  crashing again and again) while its node lives, the caller gets a :class:`WorkerLostError`
  naming the node, the worker and what became of it.
- When Ray itself is gone from under the session (a user's ``ray.shutdown()``, Ray started again
  in between, a cluster whose GCS no longer answers), the caller gets a
  :class:`RayConnectionLostError` that says how to restart.

The nums errors chain Ray's own error (``__cause__``), so its details stay one traceback away.
- Ray logs an "Unhandled error" for every failed object whose last ref is dropped unread; nums
  drops the refs of a failed job's other blocks all the time, so :class:`QuietUnhandledErrors`
  silences those messages, for nums tasks only, while a session runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

__all__ = ["NodeLostError", "WorkerLostError", "RayConnectionLostError", "unwrap_task_error",
           "is_system_error", "lost_node_message", "worker_lost_message",
           "connection_lost_message", "RESTART_HINT", "QuietUnhandledErrors"]

RESTART_HINT = "restart with nums.shutdown() and nums.init(backend='ray', ...)"


class NodeLostError(RuntimeError):
    """A Ray node that held devices of the running nums session is no longer alive.

    The blocks placed on it are lost (tasks are pinned to their node, so Ray cannot rebuild
    them elsewhere): restart the session with ``nums.shutdown(); nums.init(backend="ray")``.
    """


class WorkerLostError(RuntimeError):
    """A worker process of the running nums session failed a batch on every try, on a node
    that is still alive (it was killed or crashed again and again, or does not answer).

    The message names the node, the worker and whether the session goes on (Ray restarted
    the worker: run the call again) or must be restarted. Ray's error is the ``__cause__``.
    """


class RayConnectionLostError(RuntimeError):
    """The Ray under the running nums session is gone: ``ray.shutdown()`` was called, Ray was
    started again in between, or the cluster no longer answers.

    Every block of the session is lost: restart with
    ``nums.shutdown(); nums.init(backend="ray", ...)``.
    """


def unwrap_task_error(err: BaseException) -> BaseException:
    """The exception a kernel raised, unwrapped from Ray's ``RayTaskError`` (nested too).

    Parameters
    ----------
    err : BaseException
        What ``ray.get`` raised.

    Returns
    -------
    BaseException
        The original exception when Ray kept it, else ``err`` itself.
    """
    from ray.exceptions import RayTaskError

    for _ in range(16):  # a dependency's failure is wrapped once per task it went through
        if not isinstance(err, RayTaskError):
            break
        cause = getattr(err, "cause", None)
        if cause is None:
            try:
                cause = err.as_instanceof_cause()
            except Exception:  # Ray could not rebuild the original type
                break
            if isinstance(cause, RayTaskError):  # the dual-class instance: keep Ray's own
                break
        if isinstance(cause, BaseException) and hasattr(cause, "add_note"):
            note = "raised in a Ray task" + "".join(
                f" {label}={value}" for label, value in
                (("task", _attr(err, "function_name")), ("pid", _attr(err, "pid")),
                 ("ip", _attr(err, "ip"))) if value is not None)
            if note not in getattr(cause, "__notes__", ()):
                cause.add_note(note)
        err = cause
    return err


def _attr(err: BaseException, name: str) -> object:
    """``err.name`` or None (Ray's exception classes forward unknown names to the cause)."""
    try:
        return vars(err).get(name)
    except TypeError:
        return None


def _system_errors() -> tuple[type[BaseException], ...]:
    import ray.exceptions as rex

    names = ("ObjectLostError", "TaskUnschedulableError", "WorkerCrashedError", "NodeDiedError",
             "RaySystemError", "LocalRayletDiedError", "RayActorError", "ActorUnschedulableError")
    return tuple(getattr(rex, n) for n in names if hasattr(rex, n))


def is_system_error(err: BaseException) -> bool:
    """Whether ``err`` (unwrapped) is one of Ray's system failures (a lost object, worker,
    actor or node), as opposed to a kernel's own exception."""
    return isinstance(err, _system_errors())


def lost_node_message(lost: Sequence[str]) -> str:
    """The message of a :class:`NodeLostError` for the descriptions of the ``lost`` nodes."""
    nodes = "; ".join(lost)
    return f"Ray node(s) lost during a nums job: {nodes}. Blocks placed on them are gone; " \
        f"{RESTART_HINT}"


def worker_lost_message(worker: str, what: str, after: str) -> str:
    """The message of a :class:`WorkerLostError`.

    Parameters
    ----------
    worker : str
        Which worker, on which node (e.g. ``nums worker 1 of 2 (Ray actor ...) on node ...``).
    what : str
        What happened to it.
    after : str
        What that means for the session (goes on, or must be restarted).
    """
    return f"nums lost a Ray worker process: {worker} {what}. {after}"


def connection_lost_message(reason: str) -> str:
    """The message of a :class:`RayConnectionLostError` for ``reason``."""
    return f"the Ray under this nums session is gone: {reason}. Its blocks are lost; " \
        f"{RESTART_HINT}"


class QuietUnhandledErrors(logging.Filter):
    """Drops Ray's "Unhandled error" log records about nums tasks (the caller already got the
    error from ``get()``); records about other Ray tasks pass."""

    LOGGER = "ray._private.worker"

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Unhandled error") and "ray::nums." in message)

    def install(self) -> None:
        """Attach the filter to Ray's worker logger."""
        logging.getLogger(self.LOGGER).addFilter(self)

    def remove(self) -> None:
        """Detach the filter."""
        logging.getLogger(self.LOGGER).removeFilter(self)
