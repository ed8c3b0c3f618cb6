"""Registers the dry-run backend through the ``nums_backends`` hook."""

from __future__ import annotations

from nums.runtime.hookspecs import BackendSpec, hookimpl


def make_dryrun_executor(settings, **options):
    """A DryRunExecutor for ``cluster_shape`` (or ``num_devices``) simulated devices."""
    from nums.runtime.dryrun import DryRunExecutor

    return DryRunExecutor.start(settings, **options)


@hookimpl
def nums_backends() -> list[BackendSpec]:
    """The dry-run backend."""
    return [BackendSpec("dryrun", make_dryrun_executor,
                        "plan on sizes only for a simulated cluster (no values)",
                        ("cluster_shape", "num_devices"))]
