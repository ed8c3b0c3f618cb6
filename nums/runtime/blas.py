"""Keeping BLAS from oversubscribing the cores while several kernels run at once.

Kernels that run side by side on threads of one process (the local thread pool, a batch of
kernels in a Ray worker) would each start a BLAS with one thread per core; the executors limit
BLAS to ``cores // concurrent kernels`` threads while they run, and restore it afterwards.
"""

from __future__ import annotations

__all__ = ["BlasLimiter"]


class BlasLimiter:
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
