"""Refs and tasks of the MPI executor.

Every rank holds its own :class:`MPIRef` object for every block of the program; the objects
agree on ``id`` (a counter that advances identically on all ranks), ``owner`` (the rank that
computes or stores the block) and ``holders`` (a bit mask of the ranks that have, or are being
sent, a copy). ``value`` is set only where the block is: on the owner once computed, on a rank
that received a copy. The value lives exactly as long as the ref object: dropping a BlockArray
drops its blocks on every rank.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MPIRef", "Task"]


def _stub(ref_id: int, owner: int) -> MPIRef:
    return MPIRef(ref_id, owner, 1 << owner)


class MPIRef:
    """One block of the SPMD program, as this rank sees it."""

    __slots__ = ("id", "owner", "holders", "value", "error", "ready", "waiters", "sends",
                 "__weakref__")

    def __init__(self, ref_id: int, owner: int, holders: int) -> None:
        self.id = ref_id
        self.owner = owner
        self.holders = holders
        self.value: Any = None
        self.error: BaseException | None = None
        self.ready = False
        self.waiters: list[Task] | None = None  # local tasks waiting for the value
        self.sends: list[int] | None = None  # ranks to send to once computed (owner only)

    def __reduce__(self) -> tuple[Any, tuple[int, int]]:
        # Pickles as (id, owner) only; the value never travels inside a ref.
        return _stub, (self.id, self.owner)

    def __repr__(self) -> str:
        state = "ready" if self.ready else "pending"
        return f"MPIRef(id={self.id}, owner={self.owner}, {state})"


class Task:
    """A kernel call this rank runs once its ``pending`` inputs have arrived."""

    __slots__ = ("fn", "name", "args", "outs", "pending", "errstate", "kind")

    def __init__(self, fn: Any, name: str, kind: str, args: Any, outs: list[MPIRef]) -> None:
        self.fn = fn
        self.name = name
        self.kind = kind
        self.args = args
        self.outs = outs
        self.pending = 0
        self.errstate: dict[str, str] | None = None
