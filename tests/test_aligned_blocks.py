"""Aligned default blocks: arrays sharing a split leading length share its partition.

The rule (nums/array/grid.py): the first array whose leading axis of length n is split gets
the pure default and records its rows per block in the session; later arrays of length n
reuse them while their blocks stay within ``ALIGN_SLACK`` times ``block_size``, otherwise
they pick their own and record it.
"""

from __future__ import annotations

import numpy as np
import pytest

import nums
import nums.numpy as nps
from nums.array import grid as grid_module
from nums.array.grid import ALIGN_SLACK, aligned_block_shape, default_block_shape

BLOCK = 4096  # bytes: small enough that a few thousand rows split into many blocks

SESSIONS = {
    "dryrun": dict(backend="dryrun", cluster_shape=(4,)),
    "serial": dict(backend="local", workers=1),
    "threads": dict(backend="local", workers=2),
}


@pytest.fixture
def fresh():
    """Start a fresh session of one kind (block size ``BLOCK`` unless given), shut it down
    afterwards so the shared test sessions (512-byte blocks) are not reused with ours."""
    def start(kind: str, **options) -> nums.Session:
        nums.shutdown()
        return nums.init(**{**SESSIONS[kind], "block_size": BLOCK, **options})

    yield start
    nums.shutdown()


def pure_default(shape, itemsize=8) -> tuple[int, ...]:
    """Today's default for ``shape`` in the running session (no alignment)."""
    session = nums.session()
    return default_block_shape(shape, itemsize, session.settings.block_size,
                               len(session.devices))


CREATORS = {
    "zeros": lambda n: nps.zeros(n),
    "ones": lambda n: nps.ones((n,)),
    "int32": lambda n: nps.zeros(n, dtype=np.int32),
    "full": lambda n: nps.full(n, 3.0),
    "random": lambda n: nps.random.default_rng(1).random(n),
    "arange": lambda n: nps.arange(n),
    "array": lambda n: nps.array(np.linspace(0, 1, n)),
    "exp of numpy": lambda n: nps.exp(np.linspace(0, 1, n)),
}


# (1) a vector created after a matrix of the same length gets the matrix's row partition

@pytest.mark.parametrize("kind", list(SESSIONS))
@pytest.mark.parametrize("n", [2000, 2001, 4099, 10007])
@pytest.mark.parametrize("creator", list(CREATORS))
def test_vector_after_matrix_gets_its_rows(fresh, kind, n, creator):
    fresh(kind)
    X = nps.random.default_rng(0).standard_normal((n, 8))
    assert X.block_shape == pure_default((n, 8))  # the first array: today's default
    rows = X.block_shape[0]
    assert 1 < X.grid_shape[0] and X.grid_shape[1] == 1
    v = CREATORS[creator](n)
    # The test means something: on its own the vector would be blocked differently.
    assert pure_default((n,), v.dtype.itemsize) != (rows,)
    assert v.block_shape == (rows,)
    assert v.grid.chunks[0] == X.grid.chunks[0]


def test_sizes_include_a_ragged_last_block(fresh):
    fresh("dryrun")
    for n in (1000, 1001, 4099, 10007):
        X = nps.zeros((n, 8))
        v = nps.zeros(n)
        assert v.grid.chunks == X.grid.chunks[:1]
        if n != 1000:
            assert X.grid.chunks[0][-1] < X.grid.chunks[0][0]  # ragged


@pytest.mark.parametrize("kind", list(SESSIONS))
def test_matrices_and_results_of_the_same_length_line_up(fresh, kind):
    fresh(kind)
    n = 4099
    X = nps.zeros((n, 8))
    Z = nps.ones((n, 3))  # narrower matrix: reuses X's rows too
    b = nps.broadcast_to(nps.arange(2.0), (n, 2))  # result of a broadcast: default rows
    assert Z.grid.chunks[0] == X.grid.chunks[0]
    assert b.grid.chunks[0] == X.grid.chunks[0]
    assert pure_default((n, 3))[0] != X.block_shape[0]


# (2) a matrix after a vector whose partition would make its blocks too big picks its own

@pytest.mark.parametrize("kind", list(SESSIONS))
def test_wide_matrix_after_vector_picks_its_own_and_vectors_follow(fresh, kind):
    fresh(kind)
    n = 10007
    v = nps.zeros(n)
    assert v.block_shape == pure_default((n,))
    v_rows = v.block_shape[0]
    # A narrow matrix whose blocks stay within ALIGN_SLACK * block size reuses them ...
    narrow = nps.zeros((n, 2))
    assert v_rows * 2 * 8 <= ALIGN_SLACK * BLOCK
    assert narrow.block_shape == (v_rows, 2) != pure_default((n, 2))
    # ... a wide one would get blocks far over the target: it picks its own.
    X = nps.random.default_rng(0).standard_normal((n, 8))
    assert v_rows * 8 * 8 > ALIGN_SLACK * BLOCK
    assert X.block_shape == pure_default((n, 8))
    assert X.block_shape[0] < v_rows
    # Later vectors (and narrow matrices) follow the new, finer partition; v keeps its own.
    w = nps.ones(n)
    assert w.grid.chunks[0] == X.grid.chunks[0]
    assert nps.zeros((n, 2)).grid.chunks[0] == X.grid.chunks[0]
    assert v.block_shape == (v_rows,)


def test_lengths_are_remembered_separately_and_only_when_split(fresh):
    session = fresh("dryrun")
    nps.zeros((5000, 8))
    nps.zeros((300, 8))  # 19 KB: split by the target, recorded
    nps.zeros((40, 8))  # 2.5 KB: one block, not recorded
    assert set(session.default_partitions) == {5000, 300}
    assert nps.zeros(5000).grid.chunks[0] == nps.zeros((5000, 8)).grid.chunks[0]
    assert nps.zeros((300, 2)).grid.chunks[0] == nps.zeros((300, 8)).grid.chunks[0]
    assert nps.zeros(300).block_shape == (300,)  # fits one block: not affected
    assert nps.zeros(40).block_shape == (40,)
    assert nps.zeros(6000).block_shape == pure_default((6000,))


def test_rule_is_deterministic_and_the_table_is_bounded(fresh, monkeypatch):
    def run():
        fresh("dryrun")
        shapes = [(3000, 8), (3000,), (7000,), (7000, 16), (7000,), (9000, 4)]
        return [nps.zeros(s).grid.chunks for s in shapes], dict(nums.session().default_partitions)

    assert run() == run()
    monkeypatch.setattr(grid_module, "ALIGN_TABLE_SIZE", 2)
    session = fresh("dryrun")
    for n in (3000, 4000, 5000):
        nps.zeros((n, 8))
    assert list(session.default_partitions) == [4000, 5000]  # the oldest was dropped


def test_pure_function_without_a_table():
    for shape in [(10**9, 256), (10**9,), (4099, 8), (3, 10**8), (0, 5), ()]:
        expected = default_block_shape(shape, 8, 32 * 2**20, 16)
        assert aligned_block_shape(shape, 8, 32 * 2**20, 16, None) == expected
        table: dict[int, int] = {}
        assert aligned_block_shape(shape, 8, 32 * 2**20, 16, table) == expected


# (3) the issue's dry run: X.T @ (X * w[:, None]) moves only the d x d partials

def _weighted_gram_moved(devices: int, rows: int, d: int = 256) -> tuple[float, float]:
    nums.shutdown()
    nums.init(backend="dryrun", cluster_shape=(devices,), block_size=32 * 2**20)
    try:
        X = nps.random.default_rng(0).standard_normal((rows, d))
        w = nps.random.default_rng(1).random(rows)
        assert w.grid.chunks[0] == X.grid.chunks[0]
        plan = nums.explain(X.T @ (X * w[:, None]))
        return plan.moved_bytes, 8.0 * d * d * devices
    finally:
        nums.shutdown()


def test_issue_dry_run_16_devices_moves_only_partials():
    moved, partials = _weighted_gram_moved(16, 10**9)
    assert partials == 8 * 256 * 256 * 16  # 8 MiB
    assert moved <= 80 * 10**6  # was 20.6 GiB with w re-blocked
    assert moved <= 10 * partials


@pytest.mark.parametrize("devices", [16, 64, 256])
def test_small_dry_run_moves_only_partials(devices):
    moved, partials = _weighted_gram_moved(devices, 10**7)
    assert moved <= 10 * partials


# (4) values still match NumPy on the local backend with aligned defaults

@pytest.mark.parametrize("kind", ["serial", "threads"])
@pytest.mark.parametrize("n", [1000, 4099])
def test_values_match_numpy(fresh, kind, n):
    fresh(kind)
    rng = np.random.default_rng(n)
    Xn, wn, betan = rng.standard_normal((n, 8)), rng.random(n), rng.standard_normal(8)
    X = nps.array(Xn)
    w = nps.array(wn)
    assert w.grid.chunks[0] == X.grid.chunks[0] and X.grid_shape[0] > 1
    np.testing.assert_allclose(nums.get(X * w[:, None]), Xn * wn[:, None], rtol=1e-12)
    Xb = X @ nps.array(betan)
    np.testing.assert_allclose(nums.get(Xb), Xn @ betan, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(nums.get(X.T @ (X * w[:, None])), Xn.T @ (Xn * wn[:, None]),
                               rtol=1e-10)
    z = nps.random.default_rng(3).random(n)  # created after: aligned with X @ beta
    assert z.grid.chunks[0] == X.grid.chunks[0]
    np.testing.assert_allclose(nums.get(Xb - z), Xn @ betan - nums.get(z), rtol=1e-10,
                               atol=1e-12)


# (5) a plain array with no earlier array of its length gets today's default

def test_first_array_gets_todays_default(fresh):
    fresh("dryrun", cluster_shape=(16,), block_size=32 * 2**20)
    assert nps.zeros(10**9).block_shape == (4_166_667,)  # as before the rule
    assert nps.zeros((10**9 + 1, 256)).block_shape == (16_383, 256)  # other length
    fresh("dryrun", cluster_shape=(16,), block_size=32 * 2**20)
    nps.zeros((10**9, 256))
    assert nps.zeros(10**9 + 1).block_shape == (4_166_667,)  # another length: unaffected
    for kind in SESSIONS:
        fresh(kind)
        for n in (1000, 4099, 10007):
            assert nps.zeros(n).block_shape == pure_default((n,))
