"""The plan digest: a running hash of what a rank asked its executor to do, arguments included.

Every ``put``, ``submit`` and ``get`` is hashed into the digest: the kind of call, the kernel
(by a CRC of its name), the device's rank, the number of results, the ids of the ref arguments
and, for ``submit``, every other argument: the fused Program (its ops, constants, dtypes, input
views), reduction and random specs, slices, shapes, dtypes, scalars. So two ranks that build
different programs over the same blocks (``x + 1`` on one, ``x * 2`` or ``x + 2`` on the
other) no longer agree; a digest of kernels, shapes and layout alone missed that, and the job
printed a value that neither program gives. At every sync point (``get``, ``shutdown``) the
ranks exchange ``(kind, sequence, count, digest)``; a difference is reported as a diverged
program instead of a hang or a wrong value.

The digest of a call is Python's hash of a tuple of integers (the digest so far, the call's
words, the digests of its arguments): for integers and tuples of integers it depends on the
values only (strings and bytes are the ones salted per process, and none goes in), and it runs
in C, which makes it the cheapest stable hash at hand.

Arguments are hashed through :func:`canonical`, a text that depends only on the value, never
on the process: no ``id``, no object address, no ``hash`` of a string (set elements and dict
items are sorted by their text), floats by their exact ``repr``, NumPy scalars and arrays by
their bytes (object arrays and structured dtypes by their elements), ufuncs, functions and
classes by name. An object of a type it does not know contributes its type's name only: a
difference inside it is missed, rather than a consistent program aborted because of an
address in a ``repr``. One field is left out on purpose: the entropy of a random spec, which
an unseeded generator draws on every rank separately (each block is drawn once, by its owner,
so the array is consistent; see ``_LEFT_OUT``).

Cost: one ``submit`` of an elementwise block passes the same Program object as every other
block of its node, so the digest of an argument is kept by ``id`` (with the object itself, so
the id cannot be reused while the entry lives) until the job ends at the next sync point;
integers and the per-block shapes and offsets (tuples of integers) go into the tuple as they
are. What is left per call is a few type tests and lookups, two tuple hashes and the log's
appends: for a 10,000-block elementwise job about 0.9 us per ``submit`` against 0.66 us for the
digest without arguments, 2-3 ms per job (``tests/mpi_scripts/digest_cost.py``).

The job log: every call since the last sync point appends its running value, its kernel and
rank, and its argument digest to compact arrays (at most :data:`LOG_LIMIT` calls per job), and
the first arguments seen with each argument digest are kept for a description. When the
digests of two ranks differ, each sends its log to the others (:meth:`PlanDigest.job_log`), and
:func:`first_difference` names the first call where they part: its number, kernel, rank and,
where the arguments differ, what each rank passed (a fused Program as its instructions:
``t0 = add(in0, 1)``).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import zlib
from array import array
from typing import Any

import numpy as np
from nums.backends.mpi.refs import MPIRef
from nums.kernels.random import RandomSpec
from nums.kernels.registry import Kernel

__all__ = ["PlanDigest", "SYNC_GET", "SYNC_SHUTDOWN", "describe_sync", "canonical",
           "value_digest", "describe_args", "first_difference", "LOG_LIMIT"]

_MASK = (1 << 64) - 1
_OFFSET = 0x4E554D53  # the digest before any call
_PUT = 0x5055 << 40
_GET = 0x474554 << 40
_REF = 0x524546 << 40  # marks the position of a ref among the arguments
_NOTHING = object()
SYNC_GET = 1
SYNC_SHUTDOWN = 2
_KIND_NAMES = {SYNC_GET: "get", SYNC_SHUTDOWN: "shutdown"}

LOG_LIMIT = 1 << 20  # calls of one job kept in the log (24 bytes each)
_EXAMPLES = 4096  # argument tuples kept per job for the report (distinct argument digests)
_CACHE_LIMIT = 1 << 16  # argument digests kept by id per job
_PUT_INDEX, _GET_INDEX = 0, 1  # name indices of put and get in the log
_TEXT_LIMIT = 400


class PlanDigest:
    """A running hash of the operations one rank submitted, how many there were, and a log
    of the calls since the last sync point."""

    __slots__ = ("_value", "count", "job_start", "_codes", "_names", "_cache", "_last",
                 "_examples", "_log_value", "_log_args", "_log_call")

    def __init__(self) -> None:
        self._value = _OFFSET
        self.count = 0
        self.job_start = 0  # count when the current job began (the last sync point)
        self._codes: dict[str, tuple[int, int]] = {}  # kernel name -> (code, name index)
        self._names: list[str | None] = [None, None]  # name index -> kernel name
        self._cache: dict[int, tuple[Any, int]] = {}  # id(arg) -> (arg, digest)
        self._last: tuple[Any, int] = (_NOTHING, 0)  # the last argument looked up, its digest
        self._examples: dict[int, tuple[Any, ...]] = {}  # argument digest -> arguments
        self._log_value = array("q")  # running value after each call of this job
        self._log_args = array("q")  # argument digest of each call (0 for put and get)
        self._log_call = array("q")  # name index << 32 | rank (all ones for get)

    def _code(self, name: str) -> tuple[int, int]:
        code = self._codes.get(name)
        if code is None:
            self._names.append(name)
            code = self._codes[name] = (zlib.crc32(name.encode()) | (1 << 32),
                                        len(self._names) - 1)
        return code

    def submit(self, kernel_name: str, rank: int, num_returns: int, args: Any) -> None:
        """Mix one ``submit`` call: the kernel, the device's rank, the number of results,
        the ids of the ref arguments and the digest of every other argument."""
        code = self._codes.get(kernel_name) or self._code(kernel_name)
        words = [self._value, code[0], rank, num_returns]  # hashed as a tuple, in C
        parts = []  # the non-ref arguments, or their digests
        last = self._last
        for a in args:
            t = type(a)
            if t is MPIRef:
                words.append(a.id)
                parts.append(_REF)
                continue
            if t is int:
                parts.append(a)
                continue
            if t is tuple and len(a) <= 8:  # a shape or an offset: hashed as is, no cache
                for e in a:
                    if type(e) is not int:
                        break
                else:
                    parts.append(a)
                    continue
            if a is last[0]:  # the Program that every block of a node passes
                x = last[1]
            else:
                hit = self._cache.get(id(a))
                x = hit[1] if hit is not None and hit[0] is a else self._digest(a)
                self._last = last = (a, x)
            parts.append(x)
        h = hash(tuple(parts))
        words.append(h)
        self._value = v = hash(tuple(words))
        self.count += 1
        log = self._log_value
        if len(log) < LOG_LIMIT:
            log.append(v)
            self._log_args.append(h)
            self._log_call.append(code[1] << 32 | rank)
            examples = self._examples
            if h not in examples and len(examples) < _EXAMPLES:
                examples[h] = tuple(a for a in args if type(a) is not MPIRef)

    def _digest(self, arg: Any) -> int:
        """The digest of one argument, kept by id for the rest of the job."""
        x = value_digest(arg)
        cache = self._cache
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[id(arg)] = (arg, x)  # holding ``arg`` keeps its id from being reused
        return x

    def put(self, rank: int, ref_id: int) -> None:
        """Mix one ``put`` call (the value itself is not hashed)."""
        self._value = v = hash((self._value, _PUT, rank, ref_id))
        self.count += 1
        self._log(v, 0, _PUT_INDEX << 32 | rank)

    def get(self, ref_ids: list[int]) -> None:
        """Mix one ``get`` call."""
        self._value = v = hash((self._value, _GET, len(ref_ids), *ref_ids))
        self._log(v, 0, _GET_INDEX << 32 | 0xFFFFFFFF)

    @property
    def value(self) -> int:
        """The digest, an unsigned 64-bit integer (equal on every rank that made the same
        calls)."""
        return self._value & _MASK

    def _log(self, value: int, args: int, call: int) -> None:
        if len(self._log_value) < LOG_LIMIT:
            self._log_value.append(value)
            self._log_args.append(args)
            self._log_call.append(call)

    def new_job(self) -> None:
        """Start the next job (at a sync point every rank passed alike): forget the log and
        the argument digests kept by id."""
        self.job_start = self.count
        self._cache.clear()
        self._last = (_NOTHING, 0)
        self._examples.clear()
        del self._log_value[:], self._log_args[:], self._log_call[:]

    def job_log(self) -> dict[str, Any]:
        """This job's log, picklable, to compare with another rank's by
        :func:`first_difference`."""
        wanted = set(self._log_args)
        return {
            "start": self.job_start,
            "count": self.count,
            "values": self._log_value.tobytes(),
            "args": self._log_args.tobytes(),
            "calls": self._log_call.tobytes(),
            "names": list(self._names),
            "described": {h: describe_args(a) for h, a in self._examples.items()
                          if h in wanted},
        }


def describe_sync(rank: int, message: tuple[int, ...]) -> str:
    """One line saying where ``rank`` stood at a sync point (a control message)."""
    kind, seq, count, value = message[:4]
    return (f"rank {rank}: {_KIND_NAMES.get(kind, kind)} #{seq} after {count} "
            f"put/submit calls, plan digest {value:#018x}")


# -- the difference between two ranks' logs ---------------------------------------------------

def _entries(log: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.frombuffer(log["values"], dtype=np.int64),
            np.frombuffer(log["args"], dtype=np.int64),
            np.frombuffer(log["calls"], dtype=np.int64))


def _describe_call(log: dict[str, Any], i: int) -> str:
    _, args, calls = _entries(log)
    call, h = int(calls[i]), int(args[i])
    index, rank = call >> 32, call & 0xFFFFFFFF
    if index == _GET_INDEX:
        return "get (the values of blocks: a sync point)"
    if index == _PUT_INDEX:
        return f"put of a block on rank {rank}"
    text = f"submit of kernel {log['names'][index]!r} on rank {rank}"
    described = log["described"].get(h)
    return text if described is None else f"{text} with {described}"


def first_difference(mine: dict[str, Any], my_rank: int, theirs: dict[str, Any],
                     their_rank: int) -> list[str]:
    """Lines naming the first call where two ranks' job logs (:meth:`PlanDigest.job_log`)
    part: its number, what each rank called there, and what differs."""
    if mine["start"] != theirs["start"]:  # cannot happen: every job starts at a common sync
        return [f"(the ranks' jobs started at different calls: {mine['start']} and "
                f"{theirs['start']})"]
    a_values, a_args, a_calls = _entries(mine)
    b_values, b_args, b_calls = _entries(theirs)
    n = min(len(a_values), len(b_values))
    differ = np.flatnonzero(a_values[:n] != b_values[:n])
    start = mine["start"]
    if differ.size:
        i = int(differ[0])
    elif len(a_values) != len(b_values):
        i = n
    else:
        counts = (mine["count"] - start, theirs["count"] - start)
        if min(counts) > n:
            return [f"(no difference in the first {n} calls since the last sync point, "
                    "the ones logged)"]
        return ["(the logs of this job agree: the ranks differ at the sync point itself)"]
    what = f"call #{start + i + 1} (the {_ordinal(i + 1)} since the last sync point)"
    lines = [f"first difference: {what}:"]
    for rank, log, values in ((my_rank, mine, a_values), (their_rank, theirs, b_values)):
        if i < len(values):
            lines.append(f"  rank {rank}: {_describe_call(log, i)}")
        elif log["count"] - start > len(values):
            lines.append(f"  rank {rank}: (not logged: more than {len(values)} calls)")
        else:
            lines.append(f"  rank {rank}: no more calls before its sync point")
    if i < n:
        a_call, b_call = int(a_calls[i]), int(b_calls[i])
        a_name = mine["names"][a_call >> 32]
        b_name = theirs["names"][b_call >> 32]
        if a_name != b_name:
            lines.append("  the ranks called different operations there")
        elif a_args[i] != b_args[i]:
            lines.append("  the same kernel with different arguments: the ranks built "
                         "different programs (ops, constants, shapes or slices)")
        elif (a_call & 0xFFFFFFFF) != (b_call & 0xFFFFFFFF):
            lines.append("  the same call placed on different ranks")
        else:
            lines.append("  the same kernel and arguments on other blocks")
    return lines


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{({1: 'st', 2: 'nd', 3: 'rd'}).get(n % 10, 'th')}"


# -- a stable digest of Python and NumPy values ----------------------------------------------

def value_digest(obj: Any) -> int:
    """A 64-bit digest of ``obj`` that is equal in every process for equal values."""
    data = canonical(obj).encode("utf-8", "surrogatepass")
    return zlib.crc32(data) | zlib.adler32(data) << 32


def canonical(obj: Any) -> str:
    """A text of ``obj`` that depends on its value only, never on the process.

    Known: Python scalars, strings and bytes; tuples, lists, dicts and sets (sorted);
    NamedTuples and dataclasses (with their type's name); slices and ranges; NumPy dtypes,
    scalars, arrays and ufuncs; enums; functions, classes, partials; kernels and refs. Any
    other object is its type's name only.
    """
    return _encode(obj, 0)


_MAX_DEPTH = 24


def _encode(obj: Any, depth: int) -> str:
    t = type(obj)
    encoder = _ENCODERS.get(t)
    if encoder is None:
        encoder = _ENCODERS[t] = _encoder_for(t)
    if depth > _MAX_DEPTH:
        return f"<{_qualname(t)} ...>"
    return encoder(obj, depth)


def _qualname(t: Any) -> str:
    return f"{getattr(t, '__module__', None)}.{getattr(t, '__qualname__', repr(t))}"


def _repr(obj: Any, depth: int) -> str:
    return repr(obj)


def _items(obj: Any, depth: int) -> str:
    return ",".join([_encode(x, depth + 1) for x in obj])


def _tuple(obj: tuple, depth: int) -> str:
    for x in obj:
        if type(x) is not int:
            return f"({_items(obj, depth)},)"
    return repr(obj)  # ints only (shapes, offsets): the common case, done in C


def _list(obj: Any, depth: int) -> str:
    return f"[{_items(obj, depth)}]"


def _dict(obj: Any, depth: int) -> str:
    # sorted, like sets: equal dicts may be built in another order (from a set of strings)
    return "{" + ",".join(sorted(f"{_encode(k, depth + 1)}:{_encode(v, depth + 1)}"
                                 for k, v in obj.items())) + "}"


def _set(obj: Any, depth: int) -> str:
    return "set{" + ",".join(sorted(_encode(x, depth + 1) for x in obj)) + "}"


def _slice(obj: slice, depth: int) -> str:
    return (f"slice({_encode(obj.start, depth + 1)},{_encode(obj.stop, depth + 1)},"
            f"{_encode(obj.step, depth + 1)})")


def _array(obj: np.ndarray, depth: int) -> str:
    dtype = obj.dtype
    if dtype.hasobject or dtype.fields is not None:  # no pointers or padding bytes
        body = _encode(obj.tolist(), depth + 1)
    else:
        data = np.ascontiguousarray(obj).tobytes()
        body = f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"
    return f"ndarray({dtype!r},{obj.shape},{body})"


def _np_scalar(obj: np.generic, depth: int) -> str:
    if obj.dtype.hasobject or obj.dtype.fields is not None:
        return f"{type(obj).__name__}:{_encode(obj.item(), depth + 1)}"
    return f"{type(obj).__name__}:{obj.tobytes().hex()}"


def _function(obj: Any, depth: int) -> str:
    name = f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', None)}"
    code = getattr(obj, "__code__", None)
    return name if code is None else f"{name}:{code.co_firstlineno}"


def _encoder_for(t: type) -> Any:
    """How to encode values of type ``t`` (decided once per type)."""
    qual = _qualname(t)
    if issubclass(t, MPIRef):
        return lambda obj, depth: f"ref:{obj.id}"
    if issubclass(t, enum.Enum):
        return lambda obj, depth: f"{qual}.{obj.name}"
    if issubclass(t, np.dtype):
        return _repr
    if issubclass(t, np.ndarray):
        return _array
    if issubclass(t, np.generic):
        return _np_scalar
    if issubclass(t, np.ufunc):
        return lambda obj, depth: f"ufunc:{obj.__name__}"
    if issubclass(t, tuple):  # NamedTuples (Program, Instr, ReduceSpec, ...) and others
        left_out = _LEFT_OUT.get(t)
        if left_out:
            kept = [i for i, name in enumerate(t._fields) if name not in left_out]
            return lambda obj, depth: f"{qual}({_items([obj[i] for i in kept], depth)})"
        return lambda obj, depth: f"{qual}({_items(obj, depth)})"
    if issubclass(t, list):
        return lambda obj, depth: f"{qual}[{_items(obj, depth)}]"
    if issubclass(t, dict):
        return lambda obj, depth: f"{qual}{_dict(obj, depth)}"
    if issubclass(t, (set, frozenset)):
        return lambda obj, depth: f"{qual}{_set(obj, depth)}"
    for base in (bool, int, float, complex, str, bytes):  # bool before int: a subclass
        if issubclass(t, base):
            return lambda obj, depth, base=base: f"{qual}:{base(obj)!r}"
    if dataclasses.is_dataclass(t):
        names = [f.name for f in dataclasses.fields(t)]
        return lambda obj, depth: f"{qual}({_items([getattr(obj, n) for n in names], depth)})"
    if issubclass(t, functools.partial):
        return lambda obj, depth: (f"partial({_encode(obj.func, depth + 1)},"
                                   f"{_encode(obj.args, depth + 1)},"
                                   f"{_encode(obj.keywords, depth + 1)})")
    if issubclass(t, (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                      types.BuiltinMethodType, type)):
        return lambda obj, depth: f"{qual}:{_function(obj, depth)}"
    if issubclass(t, Kernel):
        return lambda obj, depth: f"kernel:{obj.name}"
    return lambda obj, depth: f"<{qual}>"  # unknown: its type only (no address, no id)


# Fields that differ between ranks by design, left out of the digest. An unseeded random
# generator draws its entropy from the operating system on every rank; each block is drawn
# once, by its owner, so the array is consistent, and a digest of the entropy would abort a
# correct program. (Once nums.numpy.random agrees on unseeded entropy across ranks, this can
# go, and ranks seeded differently will be reported too.)
_LEFT_OUT: dict[type, tuple[str, ...]] = {RandomSpec: ("entropy",)}

_ENCODERS: dict[type, Any] = {
    int: _repr, float: _repr, bool: _repr, type(None): _repr, str: _repr, bytes: _repr,
    complex: _repr, tuple: _tuple, list: _list, dict: _dict, set: _set, frozenset: _set,
    slice: _slice, range: _repr, type(Ellipsis): _repr,
}


# -- descriptions for the report -------------------------------------------------------------

def describe_args(args: tuple[Any, ...]) -> str:
    """The non-ref arguments of a call, short and readable (a fused Program as its
    instructions)."""
    parts = [_describe(a) for a in args]
    text = "(" + ", ".join(parts) + ")"
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT - 3] + "..."


def _describe(obj: Any) -> str:
    from nums.kernels.fused import Program

    if type(obj) is Program:
        return "program[" + "; ".join(_describe_instr(j, ins)
                                      for j, ins in enumerate(obj.instrs)) + "]"
    if type(obj) is tuple and obj and type(obj[0]) is Program:  # a reduction's prologue
        return _describe(obj[0])
    try:
        return canonical(obj)
    except Exception:  # noqa: BLE001 - a report must not fail
        return f"<{_qualname(type(obj))}>"


def _describe_instr(j: int, ins: Any) -> str:
    from nums.kernels.fused import CONST, INPUT

    op = ins.op
    if isinstance(op, np.ufunc):
        name = op.__name__
    elif isinstance(op, tuple):  # ("nth", ufunc, k)
        name = f"{getattr(op[1], '__name__', op[1])}[{op[2]}]"
    else:
        name = str(op)
    args = [f"in{v}" if kind == INPUT else (repr(v) if kind == CONST else f"t{v}")
            for kind, v in ins.args]
    return f"t{j} = {name}({', '.join(args)}) -> {np.dtype(ins.dtype).name}"
