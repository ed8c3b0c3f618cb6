"""Test fixtures: every API test runs on each configured executor.

By default the ``backend`` fixture runs a test on both local executors (serial and threads).
``NUMS_TEST_BACKENDS`` (a comma-separated list of the names in ``BACKENDS``) picks others,
e.g. ``NUMS_TEST_BACKENDS=ray pytest tests/test_smoke.py`` runs the same tests on Ray.
Sessions use the test defaults (``testing=True``: 512-byte blocks), so small arrays still
split into many blocks, as cuPyNumeric does in its test mode.
"""

from __future__ import annotations

import os
import sys

import pytest

import nums

BACKENDS = {
    "serial": dict(backend="local", workers=1),
    "threads": dict(backend="local", workers=2),
    "ray": dict(backend="ray"),
    "mpi": dict(backend="mpi"),
}
SELECTED = [name.strip() for name in
            os.environ.get("NUMS_TEST_BACKENDS", "serial,threads").split(",") if name.strip()]
LOCAL_BACKENDS = {name: BACKENDS[name] for name in ("serial", "threads")}


def start(name: str) -> nums.Session:
    """Make the session called ``name`` the running one (restarting only if it differs)."""
    options = dict(BACKENDS[name], testing=True)
    if nums.is_initialized():
        running = nums.session()
        if running.settings.backend == options["backend"] and \
                running.settings.workers == options.get("workers") and running.settings.testing:
            return running
        nums.shutdown()
    if options["backend"] == "ray":
        _shared_ray()
    return nums.init(**options)


def _shared_ray() -> None:
    """One small local Ray for the whole run: nums joins it, so nums.shutdown() keeps it."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, object_store_memory=512 * 2**20,
                 include_dashboard=False, logging_level="WARNING")


@pytest.fixture(params=SELECTED)
def backend(request) -> str:
    """Run the test on every local executor; yields the executor's name."""
    start(request.param)
    return request.param


@pytest.fixture
def serial() -> nums.Session:
    """The serial local executor only."""
    return start("serial")


def pytest_sessionfinish(session, exitstatus):
    nums.shutdown()
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


