"""Fusion: turn a cluster of unmaterialised Map nodes into one :class:`Program`.

The cluster is every Map reachable from the root through Maps that have not been computed
yet; anything else (a Leaf, a computed Map, a Transpose of a non-Map, a Reduce, ...) becomes a
program input. Shared subexpressions are evaluated once (nodes are memoised by identity), and
the same block read twice (``x * y + sin(x)``) is one input.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from nums.ir import elementwise  # imports this module too: read its names at call time
from nums.ir.nodes import Leaf, Node
from nums.kernels.fused import CONST, INPUT, TEMP, InputView, Instr, Program, make_program

__all__ = ["FusedInput", "build_program"]

FusedInput = tuple[Leaf, "tuple[int, ...] | None"]


def _full_mask(node: Node, root_shape: tuple[int, ...]) -> tuple[bool, ...]:
    if node.shape == root_shape:
        return (True,) * len(root_shape)
    pad = len(root_shape) - node.ndim
    padded = (1,) * pad + node.shape
    return tuple(p == r for p, r in zip(padded, root_shape))


class _Builder:
    """State of one fusion walk (a class, not closures: this runs for every computed op)."""

    __slots__ = ("ensure", "root_shape", "ndim", "inputs", "views", "input_index", "instrs",
                 "memo")

    def __init__(self, root: Node, ensure: Callable[[Node], Leaf]) -> None:
        self.ensure = ensure
        self.root_shape = root.shape
        self.ndim = len(root.shape)
        self.inputs: list[FusedInput] = []
        self.views: list[InputView] = []
        self.input_index: dict[tuple[int, Any], int] = {}
        self.instrs: list[Instr] = []
        self.memo: dict[int, tuple[int, Any]] = {}

    def add_input(self, node: Node) -> tuple[int, int]:
        if isinstance(node, elementwise.Transpose) and node.leaf is None:
            leaf, perm = self.ensure(node.source), node.perm
        else:
            leaf, perm = self.ensure(node), None
        key = (id(leaf), perm)
        k = self.input_index.get(key)
        if k is None:
            k = self.input_index[key] = len(self.inputs)
            self.inputs.append((leaf, perm))
            self.views.append(InputView(perm, self.ndim - node.ndim))
        return (INPUT, k)

    def visit(self, node: Node) -> tuple[int, Any]:
        found = self.memo.get(id(node))
        if found is not None:
            return found
        if type(node) is elementwise.Map and node.leaf is None:
            args = tuple([self.visit(a) if isinstance(a, Node) else (CONST, a)
                          for a in node.args])
            self.instrs.append(Instr(node.op, args, node.dtype,
                                     _full_mask(node, self.root_shape)))
            spec = (TEMP, len(self.instrs) - 1)
        else:
            spec = self.add_input(node)
        self.memo[id(node)] = spec
        return spec


@functools.lru_cache(maxsize=1024)
def _one_op_program(op: Any, dtype: np.dtype, ndim: int, tile_elements: int,
                    views: tuple[InputView, ...], args: tuple[tuple[int, Any], ...],
                    const_keys: tuple[tuple[type, str], ...]) -> Program:
    # ``const_keys`` (type and repr of each constant) is part of the key only: 1, 1.0 and
    # True are equal as dict keys, and so are 0.0 and -0.0.
    return make_program(views, (Instr(op, args, dtype, (True,) * ndim),), ndim, tile_elements)


def _single_map(root: elementwise.Map, ensure: Callable[[Node], Leaf],
                tile_elements: int) -> tuple[Program, list[FusedInput]] | None:
    """The program of a Map whose arguments are all materialised or non-Map nodes (the
    common ``x + 1`` of a loop), from a cache; None when a constant is unhashable."""
    b = _Builder(root, ensure)
    args = tuple([b.add_input(a) if isinstance(a, Node) else (CONST, a) for a in root.args])
    const_keys = tuple([(type(v), repr(v)) for kind, v in args if kind == CONST])
    try:
        program = _one_op_program(root.op, root.dtype, b.ndim, tile_elements, tuple(b.views),
                                  args, const_keys)
    except TypeError:  # an unhashable constant
        return None
    return program, b.inputs


def build_program(root: Node, ensure: Callable[[Node], Leaf],
                  tile_elements: int) -> tuple[Program, list[FusedInput]]:
    """Fuse the Map cluster under ``root`` into a program over materialised inputs.

    ``root`` may also be a Transpose or a plain node: the program then copies (and permutes)
    its single input. Returns the program and its inputs as ``(leaf, perm)`` pairs.
    """
    if type(root) is elementwise.Map and root.depth == 1 and root.leaf is None:
        found = _single_map(root, ensure, tile_elements)
        if found is not None:
            return found
    b = _Builder(root, ensure)
    top = b.visit(root)
    if top[0] != TEMP:
        b.instrs.append(Instr("cast", (top,), root.dtype, (True,) * b.ndim))
    program = make_program(tuple(b.views), tuple(b.instrs), b.ndim, tile_elements)
    return program, b.inputs
