"""Local executors: serial (deterministic, for testing) and a dependency-driven thread pool.

The thread pool exposes one CPU device per worker (the serial executor one), so block-cyclic
layouts and placement are exercised exactly as on a cluster, while every worker thread may run
any task (all share one memory). ``devices`` replaces them with any list of devices (the local
plugin makes them from ``nums.init(..., device_kinds=...)``): devices of a second kind, whose
blocks and kernels are converted as on a GPU (see :mod:`nums.runtime.kinds`), run in the same
process. Kernels are called through :meth:`~nums.kernels.registry.Kernel.for_device`; ``put``
takes a block onto its device's kind and ``get`` returns host (NumPy) values.

The thread pool starts a task as soon as the refs it reads are done (no worker ever blocks
waiting for another task, so a bounded pool cannot deadlock). Submitted tasks are *staged*
without taking any lock and handed to the pool in one batch by :meth:`ThreadExecutor.flush`
(called by the lowering after each node, and by :meth:`get`): submitting one task costs a
couple of microseconds, and the driver does not fight the workers for the GIL and the lock
while it plans.

NumPy's error state (``np.errstate``) is thread-local; the driver's state at submission is
applied around each task, so ``with np.errstate(...)`` works as with NumPy. A failed task fails
every task that depends on it with the same exception object, and :meth:`ThreadExecutor.get`
re-raises it with its type and message. NumPy releases the GIL inside its loops, so kernels
run in parallel. While tasks run, BLAS is limited to ``cores // workers`` threads
(threadpoolctl) so that concurrent matmul kernels do not oversubscribe the cores; the limit is
lifted when the pool is idle, so the user's own NumPy calls between jobs keep every BLAS
thread.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from nums.kernels.registry import Kernel

from nums.runtime.device import Device
from nums.runtime.executor import Executor
from nums.runtime.kinds import to_device, to_host_values
from nums.runtime.memory import available_memory

__all__ = ["SerialExecutor", "ThreadExecutor", "ThreadRef"]


class SerialExecutor(Executor):
    """Runs every kernel at submit time in the calling thread. Refs are the values."""

    name = "local-serial"

    def __init__(self, devices: Sequence[Device] | None = None) -> None:
        self._devices = tuple(devices) if devices else (Device(0, "cpu", 0),)

    def devices(self) -> Sequence[Device]:
        return self._devices

    def put(self, value: Any, device: Device) -> Any:
        return to_device(value, device)

    def submit(self, kernel: Kernel, args: Sequence[Any], device: Device,
               num_returns: int = 1, nbytes: float | None = None) -> Any:
        return kernel.for_device(device)(*args)

    def flush(self) -> None:
        return None

    def get(self, refs: Sequence[Any]) -> list[Any]:
        return to_host_values(list(refs))

    def free(self, refs: Sequence[Any]) -> None:
        return None

    def memory_budget(self) -> float | None:
        """This machine's available memory (every device is in this process)."""
        return available_memory()

    def shutdown(self) -> None:
        return None


class ThreadRef:
    """The future result of one task output."""

    __slots__ = ("value", "error", "done", "dependents")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.dependents: list[_Task] = []


class _Task:
    __slots__ = ("fn", "args", "outs", "pending", "errstate")

    def __init__(self, fn: Any, args: Sequence[Any], outs: list[ThreadRef]) -> None:
        self.fn = fn
        self.args = args
        self.outs = outs
        self.pending = 0
        self.errstate: dict[str, str] | None = None


class _BlasLimiter:
    """Limits BLAS to ``threads`` threads between :meth:`enter` and :meth:`exit`
    (threadpoolctl); a no-op when BLAS already uses no more, or threadpoolctl fails.

    Parameters
    ----------
    threads : int
        BLAS threads while entered.
    """

    def __init__(self, threads: int) -> None:
        self._limits = None
        self._controller = None
        try:
            from threadpoolctl import ThreadpoolController

            controller = ThreadpoolController()
            blas = controller.select(user_api="blas")
            if any(lib.num_threads > threads for lib in blas.lib_controllers):
                self._controller = blas
                self._threads = threads
        except Exception:  # threadpoolctl is an optimisation; never fail the session on it
            self._controller = None

    def enter(self) -> None:
        """Limit BLAS (once; entering again while entered does nothing)."""
        if self._controller is not None and self._limits is None:
            self._limits = self._controller.limit(limits=self._threads)

    def exit(self) -> None:
        """Restore BLAS's thread counts from before :meth:`enter`."""
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None


class ThreadExecutor(Executor):
    """A pool of ``workers`` threads running tasks as their inputs become ready."""

    name = "local-threads"

    def __init__(self, workers: int, blas_threads: int | None = None,
                 devices: Sequence[Device] | None = None) -> None:
        self.workers = workers
        self._devices = tuple(devices) if devices else \
            tuple(Device(0, "cpu", i) for i in range(workers))
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._active = 0
        # Tasks are staged per calling thread: a thread's flush hands over its own tasks only
        # (with its own np.errstate), so threads computing at once never see each other's
        # half-staged work.
        self._local = threading.local()
        cores = os.cpu_count() or 1
        self._blas = _BlasLimiter(blas_threads or max(1, cores // workers))
        self._threads = [threading.Thread(target=self._work, name=f"nums-worker-{i}",
                                          daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    def devices(self) -> Sequence[Device]:
        return self._devices

    def put(self, value: Any, device: Device) -> Any:
        return to_device(value, device)

    def submit(self, kernel: Kernel, args: Sequence[Any], device: Device,
               num_returns: int = 1, nbytes: float | None = None) -> Any:
        outs = [ThreadRef() for _ in range(num_returns)] if num_returns > 1 else [ThreadRef()]
        try:
            staged = self._local.staged
        except AttributeError:
            staged = self._local.staged = []
        staged.append(_Task(kernel.for_device(device), args, outs))
        return outs[0] if num_returns == 1 else tuple(outs)

    def flush(self) -> None:
        """Hand every task this thread staged to the pool (those whose inputs are ready start
        now)."""
        staged = getattr(self._local, "staged", None)
        if not staged:
            return
        self._local.staged = []
        ThreadRef_ = ThreadRef
        errstate = np.geterr()  # the driver's np.errstate applies to its tasks too
        for task in staged:
            task.errstate = errstate
        with self._lock:
            if self._active == 0:
                self._blas.enter()
            self._active += len(staged)
            put = self._queue.put
            for task in staged:
                failed: BaseException | None = None
                for a in task.args:
                    if type(a) is ThreadRef_:
                        if not a.done:
                            a.dependents.append(task)
                            task.pending += 1
                        elif a.error is not None:
                            failed = a.error
                if task.pending == 0:
                    if failed is not None:
                        self._complete_locked(task, None, failed)
                    else:
                        put(task)

    def _complete_locked(self, task: _Task, result: Any, error: BaseException | None) -> None:
        outs = task.outs
        if error is None:
            if len(outs) == 1:
                outs[0].value = result
            else:
                for ref, value in zip(outs, result):
                    ref.value = value
        for ref in outs:
            ref.error = error
            ref.done = True
            for dependent in ref.dependents:
                dependent.pending -= 1
                if dependent.pending == 0:
                    self._queue.put(dependent)
            ref.dependents = []
        task.args = ()
        self._active -= 1
        if self._active == 0:
            self._blas.exit()
        self._finished.notify_all()

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            result, error = None, None
            try:
                values = []
                for a in task.args:
                    if type(a) is ThreadRef:
                        if a.error is not None:
                            raise a.error
                        values.append(a.value)
                    else:
                        values.append(a)
                with np.errstate(**task.errstate):
                    result = task.fn(*values)
            except BaseException as exc:  # handed to the caller by get()
                error = exc
            with self._lock:
                self._complete_locked(task, result, error)

    def get(self, refs: Sequence[Any], timeout: float | None = None) -> list[Any]:
        self.flush()
        out = []
        with self._lock:
            for ref in refs:
                if type(ref) is ThreadRef:
                    if not ref.done and not self._finished.wait_for(lambda r=ref: r.done,
                                                                   timeout=timeout):
                        raise TimeoutError(f"a nums task did not finish within {timeout} s")
                    if ref.error is not None:
                        raise ref.error
                    out.append(ref.value)
                else:
                    out.append(ref)
        return to_host_values(out)

    def free(self, refs: Sequence[Any]) -> None:
        return None

    def memory_budget(self) -> float | None:
        """This machine's available memory (every device is in this process)."""
        return available_memory()

    def shutdown(self) -> None:
        self._local.staged = []
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=10)
        with self._lock:
            self._blas.exit()
