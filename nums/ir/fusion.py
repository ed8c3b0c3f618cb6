"""Fusion: turn a cluster of unmaterialised Map nodes into one :class:`Program`.

The cluster is every Map reachable from the root through Maps that have not been computed
yet; anything else (a Leaf, a computed Map, a Transpose of a non-Map, a Reduce, ...) becomes a
program input. Shared subexpressions are evaluated once (nodes are memoised by identity), and
the same block read twice (``x * y + sin(x)``) is one input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nums.ir.nodes import Leaf, Map, Node, Transpose
from nums.kernels.fused import CONST, INPUT, TEMP, InputView, Instr, Program, make_program

__all__ = ["FusedInput", "build_program"]

FusedInput = tuple[Leaf, "tuple[int, ...] | None"]


def _full_mask(node: Node, root_shape: tuple[int, ...]) -> tuple[bool, ...]:
    pad = len(root_shape) - node.ndim
    padded = (1,) * pad + node.shape
    return tuple(p == r for p, r in zip(padded, root_shape))


def build_program(root: Node, ensure: Callable[[Node], Leaf],
                  tile_elements: int) -> tuple[Program, list[FusedInput]]:
    """Fuse the Map cluster under ``root`` into a program over materialised inputs.

    ``root`` may also be a Transpose or a plain node: the program then copies (and permutes)
    its single input. Returns the program and its inputs as ``(leaf, perm)`` pairs.
    """
    root_shape = root.shape
    ndim = len(root_shape)
    inputs: list[FusedInput] = []
    views: list[InputView] = []
    input_index: dict[tuple[int, Any], int] = {}
    instrs: list[Instr] = []
    memo: dict[int, tuple[int, Any]] = {}

    def add_input(node: Node) -> tuple[int, int]:
        if isinstance(node, Transpose) and node.leaf is None:
            leaf, perm = ensure(node.source), node.perm
        else:
            leaf, perm = ensure(node), None
        key = (id(leaf), perm)
        k = input_index.get(key)
        if k is None:
            k = input_index[key] = len(inputs)
            inputs.append((leaf, perm))
            views.append(InputView(perm, ndim - node.ndim))
        return (INPUT, k)

    def visit(node: Node) -> tuple[int, Any]:
        found = memo.get(id(node))
        if found is not None:
            return found
        if isinstance(node, Map) and node.leaf is None:
            args = tuple(visit(a) if isinstance(a, Node) else (CONST, a) for a in node.args)
            instrs.append(Instr(node.op, args, node.dtype, _full_mask(node, root_shape)))
            spec = (TEMP, len(instrs) - 1)
        else:
            spec = add_input(node)
        memo[id(node)] = spec
        return spec

    top = visit(root)
    if top[0] != TEMP:
        instrs.append(Instr("cast", (top,), root.dtype, (True,) * ndim))
    program = make_program(tuple(views), tuple(instrs), ndim, tile_elements)
    return program, inputs
