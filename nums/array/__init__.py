"""The array layer: BlockArray and ArrayGrid."""

from nums.array.blockarray import BlockArray
from nums.array.grid import ArrayGrid

__all__ = ["BlockArray", "ArrayGrid"]
