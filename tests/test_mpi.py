"""The MPI backend under a real ``mpiexec -n 2`` and ``-n 3`` (the mpich wheel's, by default).

Each test runs a small script from ``tests/mpi_scripts/`` on every rank; the script compares
nums with NumPy itself and exits non-zero on a mismatch, so a test only checks the exit status
and the output. Every run has a timeout: a hang fails the test instead of the suite.
``NUMS_MPIEXEC`` names another ``mpiexec`` (for a system MPI that mpi4py was built against).
"""

from __future__ import annotations

import os
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
def test_plan_digest_equal_across_ranks():
    proc = mpirun(2, "diverge.py", "same")
    assert_ok(proc, "diverge-same OK rank", 2)


@pytest.mark.parametrize("mode, n", [("local", 2), ("transfer", 2), ("transfer", 3),
                                     ("exit", 2), ("get", 3)])
@needs_mpiexec
def test_diverged_program_is_reported(mode, n):
    """A rank that takes another branch makes the job fail with a report, never hang."""
    proc = mpirun(n, "diverge.py", mode, timeout=60)
    assert proc.returncode != 0, proc.stdout
    assert "the ranks ran different programs" in proc.stdout, proc.stdout
    assert "plan digest" in proc.stdout
    assert "not detected" not in proc.stdout


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
from nums.backends.mpi.digest import PlanDigest
d = PlanDigest()
d.put(0, 0)
d.submit("fused_map", 1, 1, [0])
d.submit("reduce_merge", 0, 1, [1, 0])
d.get([2])
print(d.count, d.value)
"""


def test_plan_digest_is_the_same_in_every_process():
    """No dependence on Python's per-process string hashing."""
    outputs = set()
    for seed in ("1", "2"):
        proc = subprocess.run([sys.executable, "-c", _DIGEST_CODE], cwd=ROOT, text=True,
                              env=_env(PYTHONHASHSEED=seed), capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        outputs.add(proc.stdout.strip())
    assert len(outputs) == 1

    from nums.backends.mpi.digest import PlanDigest

    a, b = PlanDigest(), PlanDigest()
    a.submit("fused_map", 1, 1, [0])
    b.submit("fused_map", 0, 1, [0])  # another device
    assert a.count == b.count and a.value != b.value


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
