"""Waiting for a long ``get()``: a tqdm progress bar, a deadline and a watch on the nodes.

:meth:`RayExecutor.get <nums.backends.ray.executor.RayExecutor.get>` first waits a couple of
seconds in one ``ray.get``; only a job still running after that comes here, where the blocks
are counted as they finish (``ray.wait``, without fetching them) until all are ready. The bar
is shown by default when stderr is an interactive terminal and tqdm is installed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["PROGRESS_AFTER_S", "progress_default", "wait_all"]

PROGRESS_AFTER_S = 2.0  # a get() running longer than this shows a progress bar
POLL_S = 0.5


def progress_default(option: bool | None) -> bool:
    """Whether long gets show a progress bar: ``option`` if given, else an interactive stderr.

    Parameters
    ----------
    option : bool or None
        The user's choice; None picks automatically.

    Returns
    -------
    bool
    """
    if option is not None:
        return bool(option)
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def wait_all(refs: Sequence[Any], *, deadline: float | None, show: bool,
             check: Callable[[], None], poll: float = POLL_S) -> None:
    """Block until every ref is ready (done or failed), counting them on a progress bar.

    Parameters
    ----------
    refs : sequence of ObjectRef
        What to wait for (duplicates allowed).
    deadline : float or None
        ``time.monotonic()`` after which TimeoutError is raised.
    show : bool
        Draw a tqdm bar on stderr.
    check : callable
        Called after every poll; raises to abort the wait (e.g. a lost node).
    poll : float
        Seconds between checks.
    """
    import ray

    pending = list(dict.fromkeys(refs))
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pending), desc="nums", unit="block", leave=False)
    try:
        while pending:
            wait_s = poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic()))
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=wait_s,
                                      fetch_local=False)
            if bar is not None and ready:
                bar.update(len(ready))
            if not pending:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{len(pending)} nums block(s) were not ready in time")
            check()
    finally:
        if bar is not None:
            bar.close()
