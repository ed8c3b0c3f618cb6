"""The session, settings, plugins, executors, import side effects and BlockArray basics."""

from __future__ import annotations

import gc
import json
import operator
import os
import subprocess
import sys
import threading
import weakref

import numpy as np
import pytest
from nums.backends.local.executor import SerialExecutor, ThreadExecutor

import nums
import nums.numpy as nps
import nums.runtime
from nums.array.blockarray import BlockArray
from nums.array.grid import ArrayGrid
from nums.ir.creation import Create
from nums.ir.nodes import Leaf
from nums.runtime import plugins
from nums.runtime.device import Device, DeviceGrid
from nums.runtime.hookspecs import BackendSpec
from nums.runtime.settings import SETTINGS, resolve_settings
from tests.utils import assert_eq

NUMS_ENV = [s.env for s in SETTINGS.values()]


@pytest.fixture
def fresh(monkeypatch):
    """No session and no NUMS_* variables before the test; no session after it."""
    for name in NUMS_ENV:
        monkeypatch.delenv(name, raising=False)
    nums.shutdown()
    yield
    nums.shutdown()


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in NUMS_ENV}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)


# -- init / shutdown -----------------------------------------------------------------------

def test_unknown_backend_lists_registered_ones(fresh):
    with pytest.raises(ValueError, match="nope") as info:
        nums.init(backend="nope")
    message = str(info.value)
    assert "local" in message
    for name in plugins.backends():
        assert name in message
    assert not nums.is_initialized()


def test_init_twice(fresh):
    first = nums.init(backend="local", workers=1, testing=True)
    assert nums.is_initialized()
    assert nums.init(backend="local", workers=1, testing=True) is first
    assert nums.session() is first
    with pytest.raises(RuntimeError):
        nums.init(backend="local", workers=2, testing=True)
    with pytest.raises(RuntimeError):
        nums.init(backend="local", workers=1, testing=True, block_size="4KB")
    assert nums.session() is first  # the failed calls changed nothing
    nums.shutdown()
    assert not nums.is_initialized()
    nums.shutdown()  # a no-op when nothing runs
    second = nums.init(backend="local", workers=2, testing=True)
    assert second is not first
    assert len(second.devices) == 2


def test_auto_init_on_first_use(fresh):
    assert not nums.is_initialized()
    total = nps.arange(3).sum()
    assert int(total) == 3
    assert nums.is_initialized()
    session = nums.session()
    assert session.backend == "local"
    assert session.settings.testing is False
    assert session.settings.block_size == 32 * 2**20
    assert nums.init() is session  # init with the defaults joins the running session


def test_session_function_starts_default(fresh):
    session = nums.session()
    assert nums.is_initialized()
    assert session.settings.workers is None
    assert len(session.devices) == (os.cpu_count() or 1)


def test_nums_backend_env(fresh, monkeypatch):
    monkeypatch.setenv("NUMS_BACKEND", "nope")
    with pytest.raises(ValueError, match="nope"):
        nums.init()
    assert not nums.is_initialized()
    with pytest.raises(ValueError, match="nope"):
        nps.arange(3).sum()  # auto-init reads the environment too
    assert not nums.is_initialized()
    # An explicit argument beats the environment.
    assert nums.init(backend="local", workers=1).backend == "local"
    nums.shutdown()
    monkeypatch.setenv("NUMS_BACKEND", "local")
    monkeypatch.setenv("NUMS_WORKERS", "3")
    session = nums.init()
    assert session.settings.workers == 3
    assert len(session.devices) == 3


def test_nums_backend_env_selects_plugin(fresh, monkeypatch):
    plugin = CustomBackendPlugin()
    plugins.plugin_manager().register(plugin)
    try:
        monkeypatch.setenv("NUMS_BACKEND", "custom")
        session = nums.init(testing=True)
        assert session.backend == "custom"
        assert plugin.made == [session.executor]
    finally:
        nums.shutdown()
        plugins.plugin_manager().unregister(plugin)


# -- settings ------------------------------------------------------------------------------

def test_settings_precedence():
    env = {"NUMS_BLOCK_SIZE": "2048", "NUMS_TESTING": "1"}
    assert resolve_settings({"block_size": 100}, env).block_size == 100  # explicit
    assert resolve_settings({"block_size": None}, env).block_size == 2048  # env
    assert resolve_settings({}, {"NUMS_TESTING": "1"}).block_size == 512  # test default
    assert resolve_settings({"testing": True}, {}).block_size == 512
    assert resolve_settings({}, {}).block_size == 32 * 2**20  # default
    assert resolve_settings({"testing": False}, {"NUMS_TESTING": "1"}).block_size == 32 * 2**20
    assert resolve_settings({}, {"NUMS_REDUCTION_FANIN": "5"}).reduction_fanin == 5
    assert resolve_settings({}, {"NUMS_TESTING": "yes"}).reduction_fanin == 2
    assert resolve_settings({}, {}).reduction_fanin == 8


def test_settings_read_os_environ(monkeypatch):
    for name in NUMS_ENV:
        monkeypatch.delenv(name, raising=False)
    assert resolve_settings().block_size == 32 * 2**20
    monkeypatch.setenv("NUMS_BLOCK_SIZE", "1KB")
    assert resolve_settings().block_size == 1024
    monkeypatch.setenv("NUMS_WORKERS", "5")
    assert resolve_settings().workers == 5
    assert resolve_settings({"workers": 2}).workers == 2


def test_unknown_setting(fresh):
    with pytest.raises(TypeError, match="bogus"):
        resolve_settings({"bogus": 1})
    with pytest.raises(TypeError):
        nums.init(backend="local", workers=1, bogus=1)
    assert not nums.is_initialized()


@pytest.mark.parametrize("text, expected", [("4KB", 4096), ("4KiB", 4096), ("4kb", 4096),
                                            ("1MB", 2**20), ("2GB", 2 * 2**30), ("512", 512),
                                            ("100B", 100), (" 8 KB ", 8192), (300, 300)])
def test_block_size_strings(text, expected):
    assert resolve_settings({"block_size": text}, {}).block_size == expected


def test_block_size_string_in_init(fresh):
    session = nums.init(backend="local", workers=1, block_size="4KB")
    assert session.settings.block_size == 4096
    x = nps.zeros(2048)  # 16 KiB of float64: four 4 KiB blocks
    assert x.grid_shape == (4,)
    assert x.block_shape == (512,)


def test_settings_read_only(fresh):
    settings = nums.init(backend="local", workers=1, testing=True).settings
    with pytest.raises(AttributeError):
        settings.block_size = 1
    with pytest.raises(AttributeError):
        settings.new_name = 1
    assert settings.block_size == 512
    with pytest.raises(AttributeError):
        _ = settings.not_a_setting
    copy = settings.as_dict()
    copy["block_size"] = 1
    assert settings.block_size == 512
    assert set(copy) == set(SETTINGS)


# -- import side effects -------------------------------------------------------------------

IMPORT_CHECK = """
import json, logging, os, sys, threading
env = dict(os.environ)
threads = threading.active_count()
root = logging.getLogger()
handlers, level = list(root.handlers), root.level
import nums, nums.numpy
plugins = sys.modules.get("nums.runtime.plugins")
print(json.dumps({
    "env_same": dict(os.environ) == env,
    "threads_before": threads,
    "threads_after": threading.active_count(),
    "handlers_same": list(root.handlers) == handlers,
    "level_same": root.level == level,
    "initialized": nums.is_initialized(),
    "plugins_built": plugins is not None and plugins.plugin_manager.cache_info().currsize > 0,
    "backend_loaded": "nums.backends.local.executor" in sys.modules,
}))
"""


def test_import_has_no_side_effects():
    result = run_python(IMPORT_CHECK)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["env_same"], report
    assert report["threads_after"] == report["threads_before"], report
    assert report["handlers_same"], report
    assert report["level_same"], report
    assert report["initialized"] is False, report
    assert report["plugins_built"] is False, report
    assert report["backend_loaded"] is False, report


BACKENDS_CHECK = """
import importlib, json, pkgutil
import nums.backends.local, nums.kernels, nums.kernels.registry, nums.backends
imported = []
for info in pkgutil.walk_packages(nums.backends.__path__, "nums.backends."):
    importlib.import_module(info.name)
    imported.append(info.name)
kernels = nums.kernels.registry.all_kernels()
from nums.runtime.plugins import backends
specs = backends()
for spec in specs.values():
    importlib.import_module(spec.factory.__module__)
print(json.dumps({
    "imported": imported,
    "kernels": sorted(kernels),
    "kinds": sorted({kind for k in kernels.values() for kind in k.impls}),
    "backends": sorted(specs),
    "initialized": nums.is_initialized(),
}))
"""


def test_every_backend_imports_in_fresh_process():
    result = run_python(BACKENDS_CHECK)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "nums.backends.local.executor" in report["imported"]
    assert "nums.backends.local.plugin" in report["imported"]
    assert {"contract_sum", "add_blocks", "full", "fused_map"} <= set(report["kernels"])
    assert "cpu" in report["kinds"]
    assert "local" in report["backends"]
    assert report["initialized"] is False


# -- plugins -------------------------------------------------------------------------------

class CustomBackendPlugin:
    """A third-party plugin offering the backend "custom" (a serial executor)."""

    def __init__(self) -> None:
        self.made: list[SerialExecutor] = []

    def factory(self, settings, **options):
        executor = SerialExecutor()
        self.made.append(executor)
        return executor

    @nums.runtime.hookimpl
    def nums_backends(self):
        return [BackendSpec("custom", self.factory, "a test backend")]


def test_builtin_backend_registered():
    found = plugins.backends()
    assert "local" in found
    assert isinstance(found["local"], BackendSpec)
    assert "custom" not in found


def test_third_party_backend_plugin(fresh):
    plugin = CustomBackendPlugin()
    pm = plugins.plugin_manager()
    pm.register(plugin)
    try:
        assert "custom" in plugins.backends()
        assert "local" in plugins.backends()
        session = nums.init(backend="custom", testing=True)
        assert session.backend == "custom"
        assert len(plugin.made) == 1
        assert nums.session().executor is plugin.made[0]
        a = np.arange(30.0).reshape(5, 6)
        x = nps.array(a, block_shape=(2, 4))
        assert_eq(x @ x.T + 1, a @ a.T + 1)
        assert_eq(nps.exp(x).sum(axis=0), np.exp(a).sum(axis=0))
    finally:
        nums.shutdown()
        pm.unregister(plugin)
    assert "custom" not in plugins.backends()
    with pytest.raises(ValueError, match="custom"):
        nums.init(backend="custom")
    assert not nums.is_initialized()


# -- executors and devices -----------------------------------------------------------------

def test_executor_protocol(backend):
    executor = nums.session().executor
    assert isinstance(executor, nums.runtime.Executor)
    if backend in ("serial", "threads"):
        expected = SerialExecutor if backend == "serial" else ThreadExecutor
        assert type(executor) is expected
    assert not isinstance(object(), nums.runtime.Executor)


@pytest.mark.parametrize("workers", [1, 3])
def test_worker_count_gives_devices(fresh, workers):
    session = nums.init(backend="local", workers=workers, testing=True)
    assert len(session.devices) == workers
    assert all(isinstance(d, Device) for d in session.devices)
    assert len(set(session.devices)) == workers
    assert session.device_grid.shape == (workers,)


def test_thread_pool_stops_at_shutdown(fresh):
    before = threading.active_count()
    nums.init(backend="local", workers=3, testing=True)
    assert threading.active_count() == before + 3
    nums.shutdown()
    assert threading.active_count() == before


def test_cluster_shape(fresh):
    session = nums.init(backend="local", workers=3, testing=True, cluster_shape=(3, 1))
    assert session.device_grid.shape == (3, 1)
    nums.shutdown()
    before = threading.active_count()
    with pytest.raises(ValueError, match="cluster_shape"):
        nums.init(backend="local", workers=3, testing=True, cluster_shape=(2,))
    assert not nums.is_initialized()
    assert threading.active_count() == before  # the refused executor's threads were stopped


def test_block_cyclic_layout(fresh):
    nums.init(backend="local", workers=3, testing=True)
    x = nps.array(np.arange(48.0).reshape(12, 4), block_shape=(2, 4))
    assert x.grid_shape == (6, 1)
    assert x._leaf().devices.ravel().tolist() == [0, 1, 2, 0, 1, 2]
    y = (x + 1) * 2
    assert y._leaf().devices.ravel().tolist() == [0, 1, 2, 0, 1, 2]
    z = nps.zeros(12, block_shape=(2,))
    assert z._leaf().devices.tolist() == [0, 1, 2, 0, 1, 2]
    assert_eq(y, (np.arange(48.0).reshape(12, 4) + 1) * 2)


def test_block_cyclic_layout_2d_grid(fresh):
    nums.init(backend="local", workers=3, testing=True, cluster_shape=(1, 3))
    x = nps.zeros((4, 12), block_shape=(2, 2))
    assert x.grid_shape == (2, 6)
    assert x._leaf().devices.tolist() == [[0, 1, 2, 0, 1, 2]] * 2


def test_device_grid():
    devices = [Device(0, "cpu", i) for i in range(6)]
    grid = DeviceGrid(devices[:3])
    assert grid.shape == (3,)
    assert grid.device_indices((6,)).tolist() == [0, 1, 2, 0, 1, 2]
    assert [grid.device_index((i,)) for i in range(6)] == [0, 1, 2, 0, 1, 2]
    grid2 = DeviceGrid(devices, (2, 3))
    assert grid2.device_indices((3, 4)).tolist() == [[0, 1, 2, 0], [3, 4, 5, 3], [0, 1, 2, 0]]
    assert grid2.device_indices((5,)).tolist() == [0, 1, 2, 3, 4]  # folded into one axis
    with pytest.raises(ValueError):
        DeviceGrid(devices[:3], (2,))
    with pytest.raises(ValueError):
        DeviceGrid([])


# -- kernel failures -----------------------------------------------------------------------

def _numpy_error(fill, dtype):
    try:
        out = np.empty((2,), dtype=dtype)
        out.fill(fill)
    except Exception as exc:  # the oracle
        return type(exc), str(exc)
    raise AssertionError("NumPy did not fail")


FAILURES = {"value": ("not a number", np.dtype("float64")), "type": (1.0, "not a dtype")}


def failing_array(kind: str) -> BlockArray:
    """A 6-element array whose 'full' kernel raises inside NumPy on every block."""
    fill, dtype = FAILURES[kind]
    grid = ArrayGrid.regular((6,), (2,))
    return BlockArray(Create(grid, np.dtype("float64"), "full",
                             lambda index, offset, shape: (shape, fill, dtype)))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", list(FAILURES))
def test_kernel_error_reaches_caller(backend, kind):
    error_type, message = _numpy_error(*FAILURES[kind])
    bad = failing_array(kind)
    with pytest.raises(error_type) as info:
        bad.get()
    assert type(info.value) is error_type
    assert str(info.value) == message
    # The session keeps working.
    a = np.arange(12.0).reshape(3, 4)
    assert_eq(nps.array(a, block_shape=(2, 2)) @ nps.array(a.T, block_shape=(2, 2)), a @ a.T)
    # A dependent computation fails the same way, after and before the failing one ran.
    with pytest.raises(error_type) as info:
        (bad + 1).sum().get()
    assert type(info.value) is error_type and str(info.value) == message
    other = failing_array(kind)
    with pytest.raises(error_type) as info:
        nums.get((other * 2 + 1).sum(), nps.arange(3))
    assert type(info.value) is error_type and str(info.value) == message
    assert int(nps.arange(5).sum()) == 10


@pytest.mark.timeout(30)
def test_kernel_error_mixed_with_pending_inputs(backend):
    """A task reading a failed block and a not-yet-computed one fails instead of hanging."""
    bad = failing_array("value")
    slow = nps.exp(nps.arange(6.0, block_shape=(2,))) * 3 + 1
    with pytest.raises(ValueError, match="could not convert"):
        (slow + bad).get()
    with pytest.raises(ValueError, match="could not convert"):
        (nps.ones((3, 6), block_shape=(2, 2)) @ nps.reshape(bad, (6, 1))).get()
    assert_eq(slow, np.exp(np.arange(6.0)) * 3 + 1)


# -- BlockArray conversions and metadata ---------------------------------------------------

def test_get_many(backend):
    a, b = np.arange(10.0), np.arange(6).reshape(2, 3)
    x, y = nps.array(a, block_shape=(3,)), nps.array(b, block_shape=(1, 2))
    out = nums.get(x * 2, y)
    assert isinstance(out, tuple) and len(out) == 2
    assert all(type(o) is np.ndarray for o in out)
    np.testing.assert_array_equal(out[0], a * 2)
    np.testing.assert_array_equal(out[1], b)
    assert out[1].dtype == b.dtype
    single = nums.get(x)
    assert type(single) is np.ndarray
    np.testing.assert_array_equal(single, a)


def test_asarray_and_printing(backend):
    a = np.arange(6.0).reshape(2, 3)
    x = nps.array(a, block_shape=(1, 2))
    value = np.asarray(x)
    assert type(value) is np.ndarray
    np.testing.assert_array_equal(value, a)
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    text = repr(x)
    assert text.startswith("BlockArray(")
    assert "5." in text and "(2, 3)" in text and "float64" in text
    assert str(x) == str(a)
    html = x._repr_html_()
    assert isinstance(html, str)
    assert "<table" in html
    assert "[0, 1, 2, 3]" in repr(nps.arange(4, block_shape=(3,)))  # the values themselves


def test_scalar_conversions(backend):
    one = nps.array([3], block_shape=(1,))
    assert bool(one) is True
    assert bool(nps.array(0.0)) is False
    assert float(one) == 3.0 and isinstance(float(one), float)
    assert int(nps.array(7.9)) == 7
    assert complex(nps.array(1 + 2j)) == 1 + 2j
    assert complex(one) == 3 + 0j
    zero_d = nps.array(4)
    assert operator.index(zero_d) == 4
    assert list(range(10))[zero_d] == 4
    assert nps.array([[2.5]]).item() == 2.5


def test_scalar_conversion_errors(backend):
    many = nps.arange(4.0, block_shape=(2,))
    with pytest.raises(ValueError):
        bool(np.arange(4.0))
    with pytest.raises(ValueError):
        bool(many)
    with pytest.raises(TypeError):
        float(np.arange(4.0))
    with pytest.raises(TypeError):
        float(many)
    with pytest.raises(TypeError):
        int(many)
    with pytest.raises(TypeError):
        complex(many)
    with pytest.raises(TypeError):
        operator.index(nps.array(2.0))
    with pytest.raises(TypeError):
        operator.index(nps.array([2]))
    with pytest.raises(TypeError):
        operator.index(nps.arange(4))
    with pytest.raises(ValueError):
        many.item()


def test_len_and_metadata(backend):
    for a in (np.zeros((5, 3)), np.arange(7, dtype=np.int32), np.ones((2, 3, 4), np.complex64),
              np.array(2.0), np.zeros((0, 4), np.float32)):
        x = nps.array(a)
        assert x.shape == a.shape
        assert x.ndim == a.ndim
        assert x.size == a.size
        assert x.nbytes == a.nbytes
        assert x.itemsize == a.itemsize
        assert x.dtype == a.dtype
        if a.ndim:
            assert len(x) == len(a)
    with pytest.raises(TypeError):
        len(np.array(2.0))
    with pytest.raises(TypeError):
        len(nps.array(2.0))


def test_persist(backend):
    x = nps.arange(10.0, block_shape=(3,)) * 2 + 1
    assert not isinstance(x._node, Leaf)
    assert x.persist() is x
    assert isinstance(x._node, Leaf)
    assert x._node.inputs() == ()
    assert_eq(x, np.arange(10.0) * 2 + 1)


def test_persist_loop_keeps_graph_small(backend):
    a = np.linspace(0, 1, 50)
    x = nps.array(a, block_shape=(7,))
    expected = a.copy()
    seen = []
    for _ in range(50):
        x = x * 0.5 + 1
        expected = expected * 0.5 + 1
        node = x._node
        assert not isinstance(node, Leaf)
        x.persist()
        assert isinstance(x._node, Leaf)
        assert x._node.inputs() == ()
        assert node.leaf is x._node
        assert node.inputs() == ()  # the computed node let go of its inputs
        seen.append(weakref.ref(x._node))
    assert_eq(x, expected)
    gc.collect()
    alive = sum(ref() is not None for ref in seen)
    assert alive <= 2, f"{alive} of 50 intermediate results are still alive"
