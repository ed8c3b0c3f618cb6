"""Input validation: block shapes, session settings (arguments and ``NUMS_*`` variables),
arrays of a session that was shut down, and NumPy masked arrays.

Every refused input is checked for the error type and for a message that names what is
wrong (the argument, the environment variable, the dead session, the mask).
"""

from __future__ import annotations

import numpy as np
import pytest

import nums
import nums.numpy as nps
from nums.runtime.settings import SETTINGS, resolve_settings

NUMS_ENV = [s.env for s in SETTINGS.values()]
STALE = r"belongs to nums session \d+, which was shut down"
MASKED = "masked arrays are not supported"


@pytest.fixture
def fresh(monkeypatch):
    """No session and no NUMS_* variables before the test; no session after it (the session
    fixtures start theirs again)."""
    for name in NUMS_ENV:
        monkeypatch.delenv(name, raising=False)
    nums.shutdown()
    yield
    nums.shutdown()


@pytest.fixture
def restart(backend):
    """A function that shuts the ``backend`` fixture's session down and starts another one:
    with the same settings, or with the settings it is given. The next test's fixture starts
    its own session again."""

    def restart(**options):
        settings = nums.session().settings
        nums.shutdown()
        if not options:
            options = dict(backend=settings.backend, workers=settings.workers, testing=True)
        return nums.init(**options)

    yield restart
    nums.shutdown()


# -- block_shape ---------------------------------------------------------------------------

# Every way a block_shape reaches a new array, for the shape (4, 6).
CREATORS = {
    "zeros": lambda bs: nps.zeros((4, 6), block_shape=bs),
    "ones": lambda bs: nps.ones((4, 6), block_shape=bs),
    "empty": lambda bs: nps.empty((4, 6), block_shape=bs),
    "full": lambda bs: nps.full((4, 6), 7.0, block_shape=bs),
    "full_row": lambda bs: nps.full((4, 6), np.arange(6.0), block_shape=bs),
    "zeros_like": lambda bs: nps.zeros_like(np.ones((4, 6)), block_shape=bs),
    "full_like": lambda bs: nps.full_like(np.ones((4, 6)), 2.0, block_shape=bs),
    "eye": lambda bs: nps.eye(4, 6, block_shape=bs),
    "array": lambda bs: nps.array(np.arange(24.0).reshape(4, 6), block_shape=bs),
    "asarray": lambda bs: nps.asarray(np.arange(24.0).reshape(4, 6), block_shape=bs),
    "array_of_list": lambda bs: nps.array(np.arange(24.0).reshape(4, 6).tolist(),
                                          block_shape=bs),
    "array_of_blockarray": lambda bs: nps.array(nps.arange(24.0).reshape((4, 6)),
                                                block_shape=bs),
    "random": lambda bs: nps.random.default_rng(0).random((4, 6), block_shape=bs),
    "standard_normal": lambda bs: nps.random.default_rng(0).standard_normal(
        (4, 6), block_shape=bs),
    "integers": lambda bs: nps.random.default_rng(0).integers(0, 9, (4, 6), block_shape=bs),
    "rechunk": lambda bs: nps.zeros((4, 6)).rechunk(bs),
    "reshape": lambda bs: nps.reshape(nps.arange(24.0), (4, 6), block_shape=bs),
}
# The same for the 1-d shape (6,).
CREATORS_1D = {
    "arange": lambda bs: nps.arange(6.0, block_shape=bs),
    "linspace": lambda bs: nps.linspace(0.0, 1.0, 6, block_shape=bs),
    "zeros": lambda bs: nps.zeros(6, block_shape=bs),
    "array": lambda bs: nps.array(np.arange(6.0), block_shape=bs),
}


def _expected(name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """NumPy's values for a creator (None where they are random or undefined)."""
    if name in ("random", "standard_normal", "integers", "empty"):
        return None
    values = {
        "zeros": np.zeros(shape), "ones": np.ones(shape), "full": np.full(shape, 7.0),
        "full_row": np.broadcast_to(np.arange(6.0), shape), "zeros_like": np.zeros(shape),
        "full_like": np.full(shape, 2.0), "eye": np.eye(4, 6), "rechunk": np.zeros(shape),
    }
    if name in values:
        return values[name]
    return np.arange(float(np.prod(shape))).reshape(shape)


@pytest.mark.parametrize("name", CREATORS)
@pytest.mark.parametrize("block_shape", [(2.5, 2), (2, 3.0), (np.float64(2.0), 3),
                                         (np.array(2.5), 3), 2.5, (True, 2), (2, np.True_),
                                         True, "23", (2, "3"), ((2,), 3), {"a": 2}])
def test_block_shape_of_wrong_type(serial, name, block_shape):
    with pytest.raises(TypeError, match="block_shape"):
        CREATORS[name](block_shape)


@pytest.mark.parametrize("name", CREATORS)
@pytest.mark.parametrize("block_shape", [(0, 2), (2, 0), (-1, 2), (2, -3), (0, 0)])
def test_block_shape_entries_below_one(serial, name, block_shape):
    with pytest.raises(ValueError, match="block_shape entries must be positive"):
        CREATORS[name](block_shape)


@pytest.mark.parametrize("name", CREATORS)
@pytest.mark.parametrize("block_shape", [(2,), (2, 2, 2), 2, ()])
def test_block_shape_with_wrong_rank(serial, name, block_shape):
    with pytest.raises(ValueError, match=r"block_shape .* does not have the 2 dimensions"):
        CREATORS[name](block_shape)


@pytest.mark.parametrize("name", CREATORS_1D)
@pytest.mark.parametrize("block_shape, error, message", [
    (2.5, TypeError, "block_shape must be an integer or a tuple of integers"),
    ((2.5,), TypeError, "block_shape entries must be integers"),
    (False, TypeError, "block_shape must be an integer"),
    (np.array(2.0), TypeError, "block_shape entries must be integers"),
    (0, ValueError, "block_shape entries must be positive"),
    ((-2,), ValueError, "block_shape entries must be positive"),
    ((2, 2), ValueError, "block_shape .* does not have the 1 dimensions"),
])
def test_block_shape_1d_refused(serial, name, block_shape, error, message):
    with pytest.raises(error, match=message):
        CREATORS_1D[name](block_shape)


@pytest.mark.parametrize("name", CREATORS)
@pytest.mark.parametrize("block_shape", [(2, 3), [2, 3], (np.int64(2), np.int32(3)),
                                         np.array([2, 3]), (np.uint8(2), 3),
                                         (np.array(2), np.array(3))])
def test_block_shape_integers_accepted(backend, name, block_shape):
    x = CREATORS[name](block_shape)
    assert x.block_shape == (2, 3)
    assert x.grid_shape == (2, 2)
    assert all(type(b) is int for b in x.block_shape)
    values = x.get()
    expected = _expected(name, (4, 6))
    if expected is not None:
        np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize("name", CREATORS_1D)
@pytest.mark.parametrize("block_shape", [4, np.int64(4), (4,), np.array(4), [np.int16(4)]])
def test_block_shape_1d_integers_accepted(backend, name, block_shape):
    x = CREATORS_1D[name](block_shape)
    assert x.block_shape == (4,)
    assert x.grid_shape == (2,)
    expected = np.linspace(0.0, 1.0, 6) if name == "linspace" else \
        np.zeros(6) if name == "zeros" else np.arange(6.0)
    np.testing.assert_allclose(x.get(), expected)


def test_block_shape_zero_on_an_empty_axis(backend):
    x = nps.zeros((0, 4), block_shape=(0, 2))
    assert x.shape == (0, 4)
    assert x.get().shape == (0, 4)
    with pytest.raises(ValueError, match="block_shape entries must be positive"):
        nps.zeros((0, 4), block_shape=(0, 0))


def test_refused_block_shape_leaves_the_random_stream_alone(backend):
    rng = nps.random.default_rng(7)
    with pytest.raises(TypeError, match="block_shape"):
        rng.random((4, 6), block_shape=(2.5, 2))
    with pytest.raises(ValueError, match="block_shape"):
        rng.standard_normal((4, 6), block_shape=(0, 2))
    first = rng.random((4, 6), block_shape=(2, 3)).get()
    expected = nps.random.default_rng(7).random((4, 6), block_shape=(2, 3)).get()
    np.testing.assert_array_equal(first, expected)


# -- session settings: arguments ------------------------------------------------------------

@pytest.mark.parametrize("options, error, message", [
    (dict(block_size=0), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size=-4096), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size=np.int64(0)), ValueError, "block_size must be a positive number"),
    (dict(block_size="0MB"), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size="0"), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size="-32MB"), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size="0.25B"), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size="garbage"), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size="MB"), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size="32XB"), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size="infMB"), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size="nan"), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size=""), ValueError, "block_size must be a positive number of bytes"),
    (dict(block_size=2.5), TypeError, "block_size must be an int number of bytes"),
    (dict(block_size=True), TypeError, "block_size must be an int number of bytes"),
    (dict(block_size=[1024]), TypeError, "block_size must be an int number of bytes"),
    (dict(workers=0), ValueError, "workers must be a positive integer, got 0"),
    (dict(workers=-2), ValueError, "workers must be a positive integer, got -2"),
    (dict(workers=1.5), TypeError, "workers must be an integer"),
    (dict(workers=2.0), TypeError, "workers must be an integer"),
    (dict(workers=True), TypeError, "workers must be an integer, got the boolean"),
    (dict(workers="2"), TypeError, "workers must be an integer"),
    (dict(num_cpus=0), ValueError, "num_cpus must be a positive integer"),
    (dict(num_cpus=-1), ValueError, "num_cpus must be a positive integer"),
    (dict(num_cpus=1.5), TypeError, "num_cpus must be an integer"),
    (dict(num_cpus="4"), TypeError, "num_cpus must be an integer"),
    (dict(num_cpus=False), TypeError, "num_cpus must be an integer"),
    (dict(cluster_shape=(0,)), ValueError, "cluster_shape must be a tuple of positive"),
    (dict(cluster_shape=(2, -1)), ValueError, "cluster_shape must be a tuple of positive"),
    (dict(cluster_shape=0), ValueError, "cluster_shape must be a tuple of positive"),
    (dict(cluster_shape=()), ValueError, "cluster_shape must have at least one axis"),
    (dict(cluster_shape=(1.5, 2)), TypeError, "cluster_shape entries must be integers"),
    (dict(cluster_shape=(2.0,)), TypeError, "cluster_shape entries must be integers"),
    (dict(cluster_shape=(True, 1)), TypeError, "cluster_shape entries must be integers"),
    (dict(cluster_shape="12"), TypeError, "cluster_shape must be an integer or a tuple"),
    (dict(cluster_shape=2.0), TypeError, "cluster_shape must be an integer or a tuple"),
    (dict(reduction_fanin=1), ValueError, "reduction_fanin must be an integer >= 2"),
    (dict(tile_elements=0), ValueError, "tile_elements must be a positive integer"),
    (dict(max_fused_ops=2.5), TypeError, "max_fused_ops must be an integer"),
    (dict(blas_threads=0), ValueError, "blas_threads must be a positive integer"),
    (dict(testing="maybe"), ValueError, "testing must be a boolean"),
    (dict(testing=2), TypeError, "testing must be a boolean"),
    (dict(placement=3), TypeError, "placement must be a string"),
    (dict(backend=""), ValueError, "backend must not be empty"),
])
def test_init_refuses(fresh, options, error, message):
    with pytest.raises(error, match=message):
        nums.init(**dict(dict(backend="local"), **options))
    assert not nums.is_initialized()


def test_init_refuses_num_devices_of_the_dryrun_backend(fresh):
    with pytest.raises(ValueError, match="num_devices must be a positive integer"):
        nums.init(backend="dryrun", num_devices=0)
    with pytest.raises(TypeError, match="num_devices must be an integer"):
        nums.init(backend="dryrun", num_devices=2.0)
    assert not nums.is_initialized()
    session = nums.init(backend="dryrun", num_devices=np.int64(3))
    assert len(session.devices) == 3


@pytest.mark.parametrize("options, check", [
    (dict(workers=np.int64(2)), lambda s: s.settings.workers == 2 and len(s.devices) == 2),
    (dict(workers=2, cluster_shape=(np.int64(2),)), lambda s: s.device_grid.shape == (2,)),
    (dict(workers=2, cluster_shape=np.array([1, 2])),
     lambda s: s.device_grid.shape == (1, 2)),
    (dict(workers=2, cluster_shape=2), lambda s: s.device_grid.shape == (2,)),
    (dict(block_size="4KB"), lambda s: s.settings.block_size == 4096),
    (dict(block_size=" 2 kib "), lambda s: s.settings.block_size == 2048),
    (dict(block_size="1.5KB"), lambda s: s.settings.block_size == 1536),
    (dict(block_size=np.int32(1024)), lambda s: s.settings.block_size == 1024),
    (dict(reduction_fanin=np.int8(2)), lambda s: s.settings.reduction_fanin == 2),
    (dict(testing="yes"), lambda s: s.settings.testing is True),
])
def test_init_accepts(fresh, options, check):
    session = nums.init(**dict(dict(backend="local", workers=1), **options))
    assert check(session)
    assert type(session.settings.block_size) is int
    x = nps.arange(10.0)
    assert float((x + 1).sum()) == 55.0


# -- session settings: environment variables ------------------------------------------------

@pytest.mark.parametrize("variable, text", [
    ("NUMS_BLOCK_SIZE", "0"), ("NUMS_BLOCK_SIZE", "0MB"), ("NUMS_BLOCK_SIZE", "-32MB"),
    ("NUMS_BLOCK_SIZE", "garbage"), ("NUMS_BLOCK_SIZE", "1.2.3KB"),
    ("NUMS_WORKERS", "0"), ("NUMS_WORKERS", "-1"), ("NUMS_WORKERS", "two"),
    ("NUMS_WORKERS", "1.5"), ("NUMS_WORKERS", "true"),
    ("NUMS_REDUCTION_FANIN", "1"), ("NUMS_TILE_ELEMENTS", "0"), ("NUMS_MAX_FUSED_OPS", "x"),
    ("NUMS_BLAS_THREADS", "0"), ("NUMS_TESTING", "maybe"), ("NUMS_PROGRESS", "perhaps"),
])
def test_environment_variable_refused(fresh, monkeypatch, variable, text):
    monkeypatch.setenv(variable, text)
    message = f"the environment variable {variable} must be"
    with pytest.raises(ValueError, match=message) as info:
        nums.init(backend="local")
    assert text in str(info.value)  # the value is quoted
    assert not nums.is_initialized()
    with pytest.raises(ValueError, match=message):
        nps.arange(3)  # the session started on first use reads the environment too
    assert not nums.is_initialized()
    with pytest.raises(ValueError, match=message):
        resolve_settings()


def test_environment_variables_accepted(fresh, monkeypatch):
    monkeypatch.setenv("NUMS_BLOCK_SIZE", " 4KB ")
    monkeypatch.setenv("NUMS_WORKERS", "2")
    monkeypatch.setenv("NUMS_REDUCTION_FANIN", "3")
    monkeypatch.setenv("NUMS_TESTING", "off")
    monkeypatch.setenv("NUMS_BLAS_THREADS", "")  # empty: unset
    settings = nums.init().settings
    assert (settings.block_size, settings.workers, settings.reduction_fanin) == (4096, 2, 3)
    assert settings.testing is False and settings.blas_threads is None


def test_explicit_argument_beats_a_bad_environment_variable(fresh, monkeypatch):
    monkeypatch.setenv("NUMS_WORKERS", "0")
    monkeypatch.setenv("NUMS_BLOCK_SIZE", "0MB")
    session = nums.init(backend="local", workers=1, block_size="1KB")
    assert (session.settings.workers, session.settings.block_size) == (1, 1024)


def test_bad_argument_named_even_with_a_good_environment_variable(fresh, monkeypatch):
    monkeypatch.setenv("NUMS_WORKERS", "2")
    with pytest.raises(ValueError, match="^workers must be a positive integer"):
        nums.init(backend="local", workers=0)
    assert not nums.is_initialized()


# -- arrays of a session that was shut down --------------------------------------------------

# Operations on an old 1-d array ``x`` (and 4x4 ``m``) next to new ``new`` (and ``new_m``).
OLD_ARRAY_OPERATIONS = {
    "x + 1": lambda x, m, new, new_m: x + 1,
    "x + new": lambda x, m, new, new_m: x + new,
    "new + x": lambda x, m, new, new_m: new + x,
    "np.add": lambda x, m, new, new_m: np.add(new, x),
    "new += x": lambda x, m, new, new_m: new.__iadd__(x),
    "nps.sum": lambda x, m, new, new_m: nps.sum(x),
    "x.sum": lambda x, m, new, new_m: x.sum(),
    "nps.reshape": lambda x, m, new, new_m: nps.reshape(x, (10, 100)),
    "nps.transpose": lambda x, m, new, new_m: nps.transpose(m),
    "concatenate": lambda x, m, new, new_m: nps.concatenate([new, x]),
    "matmul": lambda x, m, new, new_m: m @ new_m,
    "rmatmul": lambda x, m, new, new_m: new_m @ m,
    "dot": lambda x, m, new, new_m: nps.dot(x, new),
    "setitem": lambda x, m, new, new_m: new.__setitem__(slice(None), x),
    "nps.array": lambda x, m, new, new_m: nps.array(x),
    "nps.asarray": lambda x, m, new, new_m: nps.asarray(x),
    "nps.array block_shape": lambda x, m, new, new_m: nps.array(x, block_shape=(100,)),
    "where": lambda x, m, new, new_m: nps.where(new > 5, x, new),
}


@pytest.mark.parametrize("settings", ["same", "other"])
@pytest.mark.parametrize("operation", list(OLD_ARRAY_OPERATIONS))
def test_old_array_refused_in_operations(backend, restart, settings, operation):
    x = nps.arange(1000.0).persist()
    m = nps.arange(16.0).reshape((4, 4)).persist()
    if settings == "same":
        restart()
    else:  # other blocks: x and new would not even line up
        restart(backend="local", workers=1, testing=True, block_size="1KB")
    new = nps.arange(1000.0)
    new_m = nps.ones((4, 4))
    with pytest.raises(RuntimeError, match=STALE):
        OLD_ARRAY_OPERATIONS[operation](x, m, new, new_m)
    np.testing.assert_array_equal(new.get(), np.arange(1000.0))  # untouched by the failure


def test_old_array_refused_on_get(backend, restart):
    x = nps.arange(1000.0).persist()
    y = nps.ones((3, 5)) * 2
    y.get()  # computed: a Leaf of the old session
    session = restart()
    with pytest.raises(RuntimeError, match=STALE + r" \(the running session is \d+\)"):
        x.get()
    with pytest.raises(RuntimeError, match=STALE):
        np.asarray(x)
    with pytest.raises(RuntimeError, match=STALE):
        np.asarray(y, dtype=np.float32)
    with pytest.raises(RuntimeError, match=STALE):
        nums.get(x, nps.arange(3))
    with pytest.raises(RuntimeError, match=STALE):
        float(y.sum())
    assert nums.session() is session  # the failures left the new session running


def test_old_array_refused_with_no_session_running(backend):
    x = nps.arange(100.0).persist()
    nums.shutdown()
    for operation in (x.get, lambda: np.asarray(x), lambda: x + 1, lambda: nps.sum(x)):
        with pytest.raises(RuntimeError, match=STALE + r" \(no session is running\)"):
            operation()
        assert not nums.is_initialized()  # no session is started just to fail


def test_old_computed_node_shared_by_another_array(backend, restart):
    x = nps.arange(100.0)
    y = x * 2
    shared = y.copy()  # the same deferred node
    y.persist()  # computes the shared node in this session
    restart()
    for operation in (lambda: shared.get(), lambda: nps.sum(shared), lambda: shared @ shared,
                      lambda: nps.array(shared), lambda: nps.concatenate([shared])):
        with pytest.raises(RuntimeError, match=STALE):
            operation()


def test_old_deferred_node_refused_when_computed(backend, restart):
    x = nps.arange(100.0).persist()
    y = x + 1  # deferred: computed only after the restart
    part = x[10:20]
    t = nps.arange(12.0).reshape((3, 4)).persist().T
    restart()
    for operation in (y.get, lambda: np.asarray(y), part.get, lambda: nps.sum(y).get(),
                      lambda: (y + nps.ones(100)).get(), t.get, lambda: y.persist()):
        with pytest.raises(RuntimeError, match=STALE):
            operation()


def test_new_session_arrays_work_after_restart(backend, restart):
    old = nps.arange(10.0).persist()
    restart()
    x = nps.arange(10.0)
    np.testing.assert_array_equal((x + 1).get(), np.arange(10.0) + 1)
    with pytest.raises(RuntimeError, match=STALE):
        old + x
    np.testing.assert_array_equal(x.get(), np.arange(10.0))


# -- masked arrays ---------------------------------------------------------------------------

def _masked():
    return np.ma.array([1.0, 2.0, 3.0], mask=[False, True, False])


@pytest.mark.parametrize("name, operation", [
    ("array", lambda x, m: nps.array(m)),
    ("array dtype", lambda x, m: nps.array(m, dtype=np.float32)),
    ("array block_shape", lambda x, m: nps.array(m, block_shape=(2,))),
    ("array without masked entries", lambda x, m: nps.array(np.ma.array([1.0, 2.0, 3.0]))),
    ("array of list", lambda x, m: nps.array([m, m])),
    ("array of nested list", lambda x, m: nps.array([[1.0, 2.0, 3.0], (4.0, m[1], 6.0)])),
    ("asarray", lambda x, m: nps.asarray(m)),
    ("full masked", lambda x, m: nps.full(3, np.ma.masked)),
    ("full array", lambda x, m: nps.full((2, 3), m)),
    ("full_like", lambda x, m: nps.full_like(x, np.ma.masked)),
    ("x + m", lambda x, m: x + m),
    ("np.add", lambda x, m: np.add(x, m)),
    ("maximum", lambda x, m: nps.maximum(x, m)),
    ("where", lambda x, m: nps.where(x > 1, m, x)),
    ("x *= m", lambda x, m: x.__imul__(m)),
    ("setitem", lambda x, m: x.__setitem__(slice(None), m)),
    ("sum", lambda x, m: nps.sum(m)),
    ("reshape", lambda x, m: nps.reshape(m, (3, 1))),
    ("concatenate", lambda x, m: nps.concatenate([x, m])),
    ("dot", lambda x, m: nps.dot(x, m)),
    ("matmul", lambda x, m: nps.matmul(m, x)),
])
def test_masked_arrays_refused(serial, name, operation):
    x = nps.arange(3.0)
    with pytest.raises(TypeError, match=MASKED + r" \(.* numpy\.ma\.MaskedArray"):
        operation(x, _masked())
    np.testing.assert_array_equal(x.get(), np.arange(3.0))


def test_masked_message_names_the_argument(serial):
    with pytest.raises(TypeError, match=r"\(obj is a numpy\.ma\.MaskedArray.*\.filled"):
        nps.array(_masked())
    with pytest.raises(TypeError, match=r"\(obj holds a numpy\.ma\.MaskedArray"):
        nps.array([_masked()])
    with pytest.raises(TypeError, match=r"\(fill_value is a numpy\.ma\.MaskedArray"):
        nps.full(3, np.ma.masked)


def test_unmasked_inputs_still_accepted(backend):
    m = _masked()
    np.testing.assert_array_equal(nps.array(m.filled(0.0)).get(), [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(nps.array(m.data).get(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(nps.array([[1.0, 2.0], (3.0, 4.0)]).get(),
                                  [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((nps.arange(3.0) + [1.0, 1.0, 1.0]).get(), [1.0, 2.0, 3.0])
