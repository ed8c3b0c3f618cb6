"""The embedded local backend: serial (testing mode) or a thread pool."""

from nums.backends.local.executor import SerialExecutor, ThreadExecutor

__all__ = ["SerialExecutor", "ThreadExecutor"]
