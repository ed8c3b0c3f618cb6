"""Test fixtures: every API test runs on each local executor (serial and threads).

Sessions use the test defaults (``testing=True``: 512-byte blocks), so small arrays still
split into many blocks, as cuPyNumeric does in its test mode.
"""

from __future__ import annotations

import pytest

import nums

LOCAL_BACKENDS = {
    "serial": dict(backend="local", workers=1),
    "threads": dict(backend="local", workers=2),
}


def start(name: str) -> nums.Session:
    """Make the session called ``name`` the running one (restarting only if it differs)."""
    options = dict(LOCAL_BACKENDS[name], testing=True)
    if nums.is_initialized():
        running = nums.session()
        if running.settings.backend == options["backend"] and \
                running.settings.workers == options["workers"] and running.settings.testing:
            return running
        nums.shutdown()
    return nums.init(**options)


@pytest.fixture(params=list(LOCAL_BACKENDS))
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


