"""The MPI backend under a real ``mpiexec -n 2`` and ``-n 3`` (the mpich wheel's, by default).

Each test runs a small script from ``tests/mpi_scripts/`` on every rank; the script compares
nums with NumPy itself and exits non-zero on a mismatch, so a test only checks the exit status
and the output. Every run has a timeout: a hang fails the test instead of the suite.
``NUMS_MPIEXEC`` names another ``mpiexec`` (for a system MPI that mpi4py was built against).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from nums.backends.mpi import wire
from nums.backends.mpi.launch import find_mpiexec

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "mpi_scripts"
INSIDE_MPI = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE")


def _skip_reason() -> str | None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'nums[mpi]')"
    if find_mpiexec() is None:
        return "no mpiexec found (pip install mpich, or set NUMS_MPIEXEC)"
    if any(name in os.environ for name in INSIDE_MPI):
        return "already running under mpiexec (these tests start their own jobs)"
    return None


MPIEXEC = find_mpiexec()
pytestmark = pytest.mark.mpi
needs_mpiexec = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMS_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def mpirun(n: int, script: str, *args: str, timeout: float = 120,
           **env: str) -> subprocess.CompletedProcess:
    """Run ``script`` on ``n`` ranks; the output is stdout and stderr together."""
    command = [str(MPIEXEC), "-n", str(n), sys.executable, str(SCRIPTS / script), *args]
    try:
        return subprocess.run(command, cwd=ROOT, env=_env(**env), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"{script} {' '.join(args)} on {n} ranks hung for {timeout} s:\n{output}")


def assert_ok(proc: subprocess.CompletedProcess, marker: str, n: int) -> None:
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count(marker) == n, proc.stdout


# -- results equal NumPy ---------------------------------------------------------------------

@needs_mpiexec
@pytest.mark.parametrize("n", [2, 3])
def test_api_results_equal_numpy(n):
    """Elementwise, reductions, matmul and X.T @ X, slicing/assignment, reshape/concatenate,
    random (equal to the local backend's), Python branches on computed values."""
    proc = mpirun(n, "compute.py")
    assert_ok(proc, f"compute OK size {n}", n)


@needs_mpiexec
def test_single_rank_outside_mpiexec():
    """``backend="mpi"`` without mpiexec is one rank (MPI singleton)."""
    proc = subprocess.run([sys.executable, str(SCRIPTS / "compute.py")], cwd=ROOT, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120)
    assert_ok(proc, "compute OK size 1", 1)


@needs_mpiexec
@pytest.mark.parametrize("n, chunk", [(2, "1000"), (3, "256")])
def test_transfers_every_dtype(n, chunk):
    """Every dtype, non-contiguous blocks, inline and out-of-band values, tuples and objects,
    blocks split into many messages (chunk size forced small), point-to-point and broadcast."""
    proc = mpirun(n, "transfers.py", chunk)
    assert_ok(proc, "transfers OK rank", n)


# -- the plan digest -----------------------------------------------------------------------

@needs_mpiexec
@pytest.mark.parametrize("n", [2, 3])
def test_plan_digest_equal_across_ranks(n):
    """The same program on every rank passes: programs, constants, reductions, slices,
    dtypes, seeded and unseeded random arrays hash alike everywhere."""
    proc = mpirun(n, "diverge.py", "same", timeout=120)
    assert_ok(proc, "diverge-same OK rank", n)


@pytest.mark.parametrize("mode, n", [("local", 2), ("transfer", 2), ("transfer", 3),
                                     ("exit", 2), ("get", 3), ("program", 2),
                                     ("program", 3), ("constant", 2), ("constant", 3),
                                     ("reduce", 2), ("slice", 3)])
@needs_mpiexec
def test_diverged_program_is_reported(mode, n):
    """A rank that takes another branch, or builds other operations or constants over the
    same blocks, makes the job fail with a report, never hang or print a wrong value."""
    proc = mpirun(n, "diverge.py", mode, timeout=60)
    assert proc.returncode != 0, proc.stdout
    assert "the ranks ran different programs" in proc.stdout, proc.stdout
    assert "plan digest" in proc.stdout
    assert "first difference: call #" in proc.stdout, proc.stdout
    assert "not detected" not in proc.stdout


@pytest.mark.parametrize("mode, n, theirs", [("program", 2, "t0 = multiply(in0, 2)"),
                                             ("program", 3, "t0 = multiply(in0, 2)"),
                                             ("constant", 2, "t0 = add(in0, 2)")])
@needs_mpiexec
def test_diverged_arguments_name_the_kernel(mode, n, theirs):
    """``x + 1`` on rank 0 against ``x * 2`` (or ``x + 2``) elsewhere: the report names the
    first call that differs, its kernel, and each rank's program."""
    proc = mpirun(n, "diverge.py", mode, timeout=60)
    assert proc.returncode != 0, proc.stdout
    out = proc.stdout
    assert "the same kernel with different arguments" in out, out
    # the first differing call is the first block's fused_map, after the common calls
    since = re.search(r"first difference: call #\d+ \(the (\d+)\w\w since the last sync", out)
    assert since and int(since.group(1)) > 1, out
    assert "rank 0: submit of kernel 'fused_map' on rank 0 with (program[t0 = add(in0, 1)" \
        in out, out
    assert f"submit of kernel 'fused_map' on rank 0 with (program[{theirs}" in out, out


# -- failures ------------------------------------------------------------------------------

@needs_mpiexec
@pytest.mark.parametrize("mode, n", [("kernel", 2), ("kernel", 3), ("abort", 2), ("user", 3)])
def test_failure_aborts_every_rank(mode, n):
    """An exception on one rank ends the job quickly, non-zero, with its message."""
    proc = mpirun(n, "failure.py", mode, timeout=60)
    assert proc.returncode != 0, proc.stdout
    if mode == "user":
        assert "the user's script failed" in proc.stdout, proc.stdout
        assert f"[nums-mpi rank {n - 1}] uncaught exception" in proc.stdout, proc.stdout
    else:  # whichever rank aborts first reports it; the message names the failing rank
        assert "could not convert string" in proc.stdout, proc.stdout
        assert f"failed on MPI rank {n - 1}" in proc.stdout, proc.stdout
    assert "not aborted" not in proc.stdout


@needs_mpiexec
def test_kernel_error_caught_on_every_rank():
    proc = mpirun(2, "failure.py", "caught")
    assert_ok(proc, "failure-caught OK rank", 2)


# -- the API test suite on every rank ------------------------------------------------------

@needs_mpiexec
@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 3])
def test_api_suite_under_mpiexec(n):
    """The whole API suite with ``NUMS_TEST_BACKENDS=mpi`` passes on every rank."""
    proc = mpirun(n, "pytest_ranks.py", "tests", "-q", "-p", "no:cacheprovider",
                  "--ignore", "tests/test_ray.py", "--ignore", "tests/test_mpi.py",
                  timeout=900, NUMS_TEST_BACKENDS="mpi")
    assert proc.returncode == 0, proc.stdout
    for rank in range(n):
        assert f"rank {rank}: exit status 0" in proc.stdout, proc.stdout


@needs_mpiexec
def test_missing_mpi4py_names_the_extra():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import nums\n"
            "try:\n    nums.init(backend='mpi')\n"
            "except ImportError as exc:\n    print('ImportError:', exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60)
    assert "ImportError:" in proc.stdout and "nums[mpi]" in proc.stdout, proc.stdout


# -- in-process: the wire format, the plan digest, deferred releases (no mpiexec) ---------

DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]


def _through_wire(value, chunk_bytes):
    """Pack ``value`` and rebuild it from the header and payload messages, as a receiver."""
    packed = wire.pack(7, value, chunk_bytes=chunk_bytes)
    assert len(packed.header) <= wire.HEADER_BYTES
    header = wire.parse_header(bytes(packed.header))
    assert header.ref_id == 7 and header.chunk_bytes == chunk_bytes
    bufs = wire.allocate(header)
    messages = list(packed.messages())
    assert all(len(m) <= chunk_bytes for m in messages)
    pieces = [(b, lo, hi) for b in bufs for lo, hi in wire.chunk_ranges(len(b), chunk_bytes)]
    assert len(pieces) == len(messages)
    for (b, lo, hi), m in zip(pieces, messages):
        b[lo:hi] = np.frombuffer(m, dtype=np.uint8)
    return wire.unpack(header, bufs), len(messages)


@pytest.mark.parametrize("dtype", DTYPES)
def test_wire_roundtrip_every_dtype(dtype):
    rng = np.random.default_rng(0)
    base = (rng.standard_normal((60, 40)) * 50).astype(dtype)
    for value in (base, base[::2, 1::3], base.T, np.asfortranarray(base), base[:2, :3],
                  (base[:5], base[::3, ::2]), base[:0]):
        (status, out), n = _through_wire(value, chunk_bytes=96)
        assert status == 0
        for got, want in zip(out if isinstance(value, tuple) else (out,),
                             value if isinstance(value, tuple) else (value,)):
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(got, want)
    (_, _), n = _through_wire(base, chunk_bytes=96)
    assert n >= base.nbytes // 96  # split into many messages


def test_wire_objects_and_errors():
    (status, out), n = _through_wire({"a": [1, 2.5]}, chunk_bytes=1 << 20)
    assert (status, out, n) == (0, {"a": [1, 2.5]}, 0)  # small: inside the header
    many = tuple(np.arange(300.0) + i for i in range(100))  # metadata too big for the header
    (status, out), n = _through_wire(many, chunk_bytes=1 << 20)
    assert status == 0 and all(np.array_equal(a, b) for a, b in zip(out, many))
    packed = wire.pack_error(3, ValueError("bad value"))
    status, error = wire.unpack(wire.parse_header(packed.header), [])
    assert status == 1 and type(error) is ValueError and str(error) == "bad value"

    class Unpicklable(Exception):
        def __reduce__(self):
            raise TypeError("no")

    packed = wire.pack_error(3, Unpicklable("odd"))
    status, error = wire.unpack(wire.parse_header(packed.header), [])
    assert status == 1 and type(error) is RuntimeError and "odd" in str(error)


_DIGEST_CODE = """
import enum, functools
import numpy as np
from nums.backends.mpi.digest import PlanDigest, canonical
from nums.backends.mpi.refs import MPIRef
from nums.kernels.fused import CONST, INPUT, InputView, Instr, make_program
from nums.kernels.reduce import ReduceSpec

class Color(enum.Enum):
    RED = 1

program = make_program((InputView(None, 0),), (Instr(np.add, ((INPUT, 0), (CONST, 1.5)),
                       np.dtype("float64"), (True, True)),), 2, 4096)
values = [program, ReduceSpec("sum", (0,), np.dtype("f8"), None, 0, False, (3, 4)),
          {"b", "a", "c"}, frozenset({"x", "yy"}), {"k": (1, None)}, [slice(1, None, 2)],
          np.dtype(">i4"), np.float32(2.5), np.arange(6).reshape(2, 3),
          np.array(["s", 1], dtype=object), np.sin, len, canonical, Color.RED,
          functools.partial(max, 1), object(), (1, 2.0, True, None, "s", b"b", 1j)]
d = PlanDigest()
d.put(0, 0)
d.submit("fused_map", 1, 1, (program, (3, 4), MPIRef(0, 0, 1)))
for v in values:
    d.submit("other", 0, 1, (v,))
d.submit("reduce_merge", 0, 1, (MPIRef(1, 1, 2), MPIRef(0, 0, 1)))
d.get([2])
print(d.count, d.value, [canonical(v) for v in values])
"""


def test_plan_digest_is_the_same_in_every_process():
    """No dependence on Python's per-process string hashing, ids or addresses."""
    outputs = set()
    for seed in ("1", "2"):
        proc = subprocess.run([sys.executable, "-c", _DIGEST_CODE], cwd=ROOT, text=True,
                              env=_env(PYTHONHASHSEED=seed), capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        outputs.add(proc.stdout.strip())
    assert len(outputs) == 1, outputs
    assert " at 0x" not in outputs.pop()

    from nums.backends.mpi.digest import PlanDigest

    a, b = PlanDigest(), PlanDigest()
    a.submit("fused_map", 1, 1, ())
    b.submit("fused_map", 0, 1, ())  # another device
    assert a.count == b.count and a.value != b.value


def _program(op, const):
    from nums.kernels.fused import CONST, INPUT, InputView, Instr, make_program

    return make_program((InputView(None, 0),), (Instr(op, ((INPUT, 0), (CONST, const)),
                        np.dtype("float64"), (True, True)),), 2, 4096)


def _digest_of(*calls):
    from nums.backends.mpi.digest import PlanDigest

    d = PlanDigest()
    for name, args in calls:
        d.submit(name, 0, 1, args)
    return d


def test_plan_digest_covers_what_kernels_compute():
    """Programs, constants (1 != 1.0 != True), slices, dtypes, shapes: each changes the
    digest; equal values in distinct objects do not."""
    from nums.backends.mpi.refs import MPIRef

    ref = MPIRef(5, 0, 1)
    base = [("fused_map", (_program(np.add, 1), (3, 4), ref))]
    same = [("fused_map", (_program(np.add, 1), tuple([3, 4]), MPIRef(5, 0, 1)))]
    assert _digest_of(*base).value == _digest_of(*same).value
    for other in [(_program(np.multiply, 1), (3, 4), ref), (_program(np.add, 2), (3, 4), ref),
                  (_program(np.add, 1.0), (3, 4), ref), (_program(np.add, True), (3, 4), ref),
                  (_program(np.add, 1), (3, 5), ref), (_program(np.add, 1), (3, 4), 7),
                  (_program(np.add, 1), ref, (3, 4))]:
        assert _digest_of(("fused_map", other)).value != _digest_of(*base).value, other
    sliced = [("take_slice", ((slice(0, 3), slice(None)), ref))]
    assert _digest_of(*sliced).value != _digest_of(
        ("take_slice", ((slice(1, 4), slice(None)), ref))).value
    assert _digest_of(("full", ((2,), 0, np.dtype("f8")))).value != _digest_of(
        ("full", ((2,), 0, np.dtype("f4")))).value
    # the same Program object for every block is hashed once per job (kept by id)
    program = _program(np.add, 1)
    d = _digest_of(*[("fused_map", (program, (3, 4), MPIRef(i, 0, 1))) for i in range(50)])
    assert len(d._cache) == 1


def test_first_difference_names_the_kernel():
    """Two ranks' job logs: the first call where they part, its kernel, both programs."""
    from nums.backends.mpi.digest import first_difference
    from nums.backends.mpi.refs import MPIRef

    common = [("fused_map", (_program(np.subtract, 3), (3, 4), MPIRef(i, 0, 1)))
              for i in range(4)]
    mine = _digest_of(*common, ("fused_map", (_program(np.add, 1), (3, 4), MPIRef(9, 0, 1))))
    theirs = _digest_of(*common,
                        ("fused_map", (_program(np.multiply, 2), (3, 4), MPIRef(9, 0, 1))))
    lines = first_difference(mine.job_log(), 0, theirs.job_log(), 1)
    text = "\n".join(lines)
    assert "call #5 (the 5th since the last sync point)" in text, text
    assert "rank 0: submit of kernel 'fused_map' on rank 0 with (program[t0 = add(in0, 1)" \
        in text, text
    assert "rank 1: submit of kernel 'fused_map' on rank 0 with (program[t0 = multiply(in0, 2)" \
        in text, text
    assert "the same kernel with different arguments" in text
    shorter = first_difference(_digest_of(*common).job_log(), 1, mine.job_log(), 0)
    assert "rank 1: no more calls before its sync point" in "\n".join(shorter)
    other = _digest_of(*common, ("take_slice", ((slice(0, 2),), MPIRef(9, 0, 1))))
    assert "the ranks called different operations there" in "\n".join(
        first_difference(mine.job_log(), 0, other.job_log(), 1))
    mine.new_job()
    assert mine.job_log()["start"] == 5 and not mine._cache


class _FakeComm:
    def __init__(self, offered):
        self.offered = offered

    def allgather(self, mine):
        return [mine if i == 0 else other for i, other in enumerate(self.offered)]


def test_deferred_releases_apply_what_every_rank_freed():
    from nums.backends.mpi.releases import DeferredReleases

    applied = []
    rel = DeferredReleases()
    for key in [(1, 5, 0), (1, 9, 0), (1, 5, 0), (2, 3, 0)]:
        rel.add(key, lambda key=key: applied.append(key))
    counts = [rel.snapshot(), 2]
    other = [(2, 3, 0), (1, 5, 0)]
    assert rel.settle(_FakeComm([None, other]), counts) == 2
    assert applied == [(1, 5, 0), (2, 3, 0)]  # common ones only, once each, in key order
    assert rel.settle(_FakeComm([None, other]), [rel.snapshot(), 0]) == 0  # a rank has none
