"""Placement: which device runs each block operation."""

from nums.optimizer.cyclic import CyclicPlacement

__all__ = ["CyclicPlacement"]
