"""Chrome-trace timeline of the last nums job on Ray.

A *job* runs from the first task submitted after the previous ``get()`` to the end of the
next ``get()``. Ray records the profile events of every task (deserialising arguments,
executing, storing outputs); :func:`export_timeline` keeps those of the last job, names each
task after its kernels (``nums.fused_map``, ``nums.contract_sum+2`` for a batch of a
``contract_sum`` and two more kernels, ...) and writes them as a JSON trace for
``chrome://tracing`` or https://ui.perfetto.dev::

    import nums, nums.numpy as nps
    from nums.backends.ray.timeline import export_timeline

    nums.init(backend="ray")
    (nps.random.default_rng(0).random((4000, 4000)) @ nps.ones((4000, 10))).get()
    export_timeline("nums-timeline.json")
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["export_timeline", "job_timeline"]

# Workers report task events to Ray about once a second.
REPORT_DELAY_S = 1.5
REPORT_RETRIES = 3


def _ray_events() -> list[dict[str, Any]]:
    import ray

    logger = logging.getLogger("ray._private.state")
    level = logger.level
    logger.setLevel(logging.ERROR)  # Ray warns that ray.timeline() will move to the dashboard
    try:
        return list(ray.timeline())
    finally:
        logger.setLevel(level)


def _select(raw: list[dict[str, Any]], window: tuple[float, float] | None
            ) -> list[dict[str, Any]]:
    """Events overlapping ``window`` (seconds), each task named after its kernel."""
    events = []
    lo, hi = (None, None) if window is None else (window[0] * 1e6, window[1] * 1e6)
    for event in raw:
        ts = float(event.get("ts", 0.0))
        if lo is not None and (ts > hi or ts + float(event.get("dur", 0.0)) < lo):
            continue
        category = str(event.get("cat", ""))
        if category.startswith("task::"):
            event = dict(event, name=category[len("task::"):])
        events.append(event)
    return events


def job_timeline(window: tuple[float, float] | None,
                 filename: str | None = None) -> list[dict[str, Any]]:
    """Ray's trace events overlapping ``window``, tasks named after their kernels.

    Parameters
    ----------
    window : (float, float) or None
        Start and end of the job, in seconds since the epoch; None keeps every event.
    filename : str, optional
        Where to write the events as JSON.

    Returns
    -------
    list of dict
        Chrome trace events (``ph == "X"`` spans, timestamps in microseconds).
    """
    if window is not None:
        wait = window[1] + REPORT_DELAY_S - time.time()
        if wait > 0:
            time.sleep(wait)
    events = _select(_ray_events(), window)
    for _ in range(REPORT_RETRIES):  # a busy worker may report late
        if events or window is None:
            break
        time.sleep(REPORT_DELAY_S)
        events = _select(_ray_events(), window)
    if filename is not None:
        with open(filename, "w") as f:
            json.dump(events, f)
    return events


def export_timeline(filename: str | None = None) -> list[dict[str, Any]]:
    """Write the Chrome trace of the running session's last job.

    Parameters
    ----------
    filename : str, optional
        Path of the JSON file; None only returns the events.

    Returns
    -------
    list of dict
        The trace events.

    Raises
    ------
    TypeError
        If the running nums session does not use the Ray backend.
    """
    from nums.backends.ray.executor import RayExecutor

    import nums

    executor = nums.session().executor
    if not isinstance(executor, RayExecutor):
        raise TypeError(f"export_timeline needs the Ray backend, not {executor.name!r}")
    return executor.timeline(filename)
