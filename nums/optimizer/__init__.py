"""Placement: which device runs each block operation, and the loads that causes."""

from nums.optimizer.placement import (
    CyclicPlacement,
    GreedyPlacement,
    Placement,
    make_placement,
)
from nums.optimizer.state import ClusterState

__all__ = ["ClusterState", "Placement", "CyclicPlacement", "GreedyPlacement", "make_placement"]
