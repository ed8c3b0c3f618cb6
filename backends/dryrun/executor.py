"""The dry-run backend's executor: :class:`nums.runtime.dryrun.DryRunExecutor`.

It lives in :mod:`nums.runtime` because the core needs it too (``nums.explain`` plans a job
on it without running anything), and the core never imports a backend.
"""

from nums.runtime.dryrun import DryRunError, DryRunExecutor

__all__ = ["DryRunExecutor", "DryRunError"]
