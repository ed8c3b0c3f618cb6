"""Item assignment: ``x[index] = value`` builds a node whose untouched blocks are reused."""

from __future__ import annotations

from typing import Any

import numpy as np

from nums.array.conversion import is_blockarray, to_node
from nums.array.elementwise import broadcast_node
from nums.ir import movement
from nums.ir.nodes import Node

__all__ = ["assign"]


def assign(node: Node, index: Any, value: Any) -> Node:
    """The node of ``node`` after ``node[index] = value`` (basic indexing)."""
    if not is_blockarray(value) and np.ndim(value) == 0 and not isinstance(value, Node):
        scalar = value[()] if isinstance(value, np.ndarray) else value
        probe = np.empty((), dtype=node.dtype)
        probe[()] = scalar  # NumPy's own conversion errors, at the call
        return movement.setitem(node, index, scalar, None)
    value_node = to_node(value)
    _, sel_shape = movement.normalize_index(index, node.shape)
    extra = value_node.ndim - len(sel_shape)
    if extra > 0 and all(n == 1 for n in value_node.shape[:extra]):
        value_node = movement.reshape(value_node, value_node.shape[extra:], 0)
    try:
        np.broadcast_shapes(value_node.shape, sel_shape)
        if len(value_node.shape) > len(sel_shape) or \
                np.broadcast_shapes(value_node.shape, sel_shape) != sel_shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"could not broadcast input array from shape {value_node.shape} "
                         f"into shape {sel_shape}") from None

    def value_node_for(shape, chunks):
        return movement.rechunk(broadcast_node(value_node, shape), chunks)

    return movement.setitem(node, index, None, value_node_for)
