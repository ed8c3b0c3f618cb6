"""Which placement a job uses: the greedy search, or block-cyclic where that plan is lower.

Greedy decisions are myopic: for some jobs (matmuls especially) the block-cyclic plan ends
with a lower objective. A job with ops that may leave the layout (reductions, products, data
movement: nodes whose ``moves_data`` is true) is therefore planned both ways first, on sizes
only, and the lower plan is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["choose_mode"]


def _needs_comparison(nodes: list[Any]) -> bool:
    """Whether the job has ops (reductions, products, data movement) where greedy decisions
    can end worse than block-cyclic ones."""
    stack, seen = list(nodes), set()
    while stack:
        node = stack.pop()
        if node.leaf is not None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.moves_data:
            return True
        stack.extend(node.inputs())
    return False


def choose_mode(nodes: list[Any], session: Any,
                dry_run: Callable[[list[Any], Any, str], Any]) -> None:
    """For the greedy placement: plan the job greedily and block-cyclically (no running) and
    keep the lower objective, so the optimizer is never worse than block-cyclic.

    ``dry_run(nodes, session, mode)`` lowers the job without running it and returns
    something with ``placement`` and ``plan()`` (the IR's dry run: the optimizer does not
    import the IR)."""
    placement = session.placement
    if not hasattr(placement, "mode"):
        return
    placement.mode = "greedy"
    if len(session.devices) < 2:
        return
    if not _needs_comparison(nodes):
        # Elementwise-only job: every output block is computed where its aligned inputs
        # already are (what greedy picks for balanced inputs), without a per-block search.
        placement.mode = "cyclic"
        return
    greedy = dry_run(nodes, session, "greedy")
    if greedy.placement.off_layout == 0:
        # The search kept every op on its block-cyclic device: both plans are the same, and
        # the cyclic mode makes it without searching.
        placement.mode = "cyclic"
        return
    cyclic = dry_run(nodes, session, "cyclic").plan().objective
    placement.mode = "cyclic" if cyclic < greedy.plan().objective else "greedy"
