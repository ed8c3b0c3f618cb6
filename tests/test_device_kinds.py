"""Device kinds: kernels receive the device they run on, blocks change kind by the one rule of
:mod:`nums.runtime.kinds`, the cost model counts traffic between kinds, and the greedy
placement respects device capacities.

A second kind, "testkind", is registered for the tests through a pluggy plugin: its blocks are
:class:`TestBlock` wrappers that NumPy cannot read (like a CuPy array, so a block that missed a
conversion fails loudly), and its kernels are the CPU kernels wrapped to record the device they
got and the types of their inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nums.kernels.registry import Kernel, all_kernels, kernel, reload

import nums
import nums.numpy as nps
from nums.optimizer import ClusterState, GreedyPlacement
from nums.optimizer.placement import MIN_GAIN
from nums.runtime import kinds
from nums.runtime.device import Device, DeviceGrid
from nums.runtime.hookspecs import KernelSet, hookimpl
from nums.runtime.kinds import DeviceKind
from nums.runtime.plugins import plugin_manager


class TestBlock:
    """A block of kind "testkind": its data and the device it was brought to."""

    __test__ = False  # not a pytest test class
    __slots__ = ("data", "device")

    def __init__(self, data: np.ndarray, device: Device) -> None:
        self.data = data
        self.device = device


class Record:
    """What the testkind plugin saw."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, Device]] = []  # (kernel, device) of each testkind call
        self.unconverted: list[str] = []  # kernels that got a block of another kind
        self.to_host = 0
        self.from_host = 0


RECORD = Record()


def _to_host(block: TestBlock) -> np.ndarray:
    RECORD.to_host += 1
    return block.data


def _from_host(array: np.ndarray, device: Device) -> TestBlock:
    assert type(array) is np.ndarray and device.kind == "testkind"
    RECORD.from_host += 1
    return TestBlock(array, device)


TESTKIND = DeviceKind("testkind", (TestBlock,), _to_host, _from_host)


def _unwrap(value, name: str):
    t = type(value)
    if t is TestBlock:
        return value.data
    if t is np.ndarray:
        RECORD.unconverted.append(name)
        return value
    if t is tuple or t is list:
        return t(_unwrap(v, name) for v in value)
    return value


def _wrap(value, device: Device):
    t = type(value)
    if t is np.ndarray:
        return TestBlock(value, device)
    if t is tuple or t is list:
        return t(_wrap(v, device) for v in value)
    return value


def _testkind_kernel(name: str, fn):
    def run(*args, device: Device):
        RECORD.runs.append((name, device))
        return _wrap(fn(*_unwrap(args, name)), device)
    return run


class TestKindPlugin:
    """Registers "testkind": its block type with converters, and its kernels."""

    __test__ = False

    def __init__(self, cpu_kernels: dict) -> None:
        self.kernels = {name: _testkind_kernel(name, fn) for name, fn in cpu_kernels.items()}

    @hookimpl
    def nums_kernel_sets(self):
        return [KernelSet("testkind", self.kernels, takes_device=True)]

    @hookimpl
    def nums_device_kinds(self):
        return [TESTKIND]


@pytest.fixture
def testkind():
    """Register the testkind plugin for one test (and start no session: tests do)."""
    global RECORD
    pm = plugin_manager()
    cpu = {name: k.impls["cpu"] for name, k in reload().items() if "cpu" in k.impls}
    plugin = TestKindPlugin(cpu)
    nums.shutdown()
    try:
        pm.register(plugin, name="test-device-kinds")
        reload()
        RECORD = Record()
        yield RECORD
    finally:
        nums.shutdown()
        if pm.is_registered(plugin):
            pm.unregister(plugin)
        reload()


SESSIONS = {
    "serial": dict(workers=1, device_kinds=("cpu", "testkind")),
    "threads": dict(workers=2, device_kinds=("cpu", "testkind")),
    "threads-3": dict(workers=2, device_kinds=("testkind", "cpu", "testkind")),
}


def start(name: str) -> nums.Session:
    return nums.init(backend="local", testing=True, **SESSIONS[name])


def kinds_of(x) -> set[str]:
    session = nums.session()
    return {session.devices[d].kind for d in x._leaf().devices.ravel().tolist()}


@pytest.mark.parametrize("name", list(SESSIONS))
def test_mixed_job_matches_numpy(testkind, name):
    session = start(name)
    assert [d.kind for d in session.devices] == list(SESSIONS[name]["device_kinds"])
    assert [d.index for d in session.devices if d.kind == "testkind"] == \
        list(range(SESSIONS[name]["device_kinds"].count("testkind")))
    rng = np.random.default_rng(7)
    a = rng.standard_normal((12, 10))
    b = rng.standard_normal((10, 8))
    x = nps.array(a, block_shape=(3, 5)).persist()
    y = nps.array(b, block_shape=(5, 4)).persist()
    assert kinds_of(x) == {"cpu", "testkind"}  # blocks on devices of both kinds
    put = testkind.from_host
    assert put > 0  # put brought the driver's blocks onto the testkind devices

    e = nps.exp(x) * 2 + x
    np.testing.assert_allclose(e.get(), np.exp(a) * 2 + a)
    np.testing.assert_allclose(e.sum(axis=0).get(), (np.exp(a) * 2 + a).sum(axis=0))
    assert float(x.sum()) == pytest.approx(a.sum())
    np.testing.assert_allclose(x.mean(axis=1).get(), a.mean(axis=1))
    np.testing.assert_array_equal(x.argmax(axis=0).get(), a.argmax(axis=0))
    z = x @ y
    np.testing.assert_allclose(z.get(), a @ b)
    np.testing.assert_allclose((x.T @ x).get(), a.T @ a)
    s = x[1:10, ::3]
    np.testing.assert_array_equal(s.get(), a[1:10, ::3])
    np.testing.assert_allclose((s * x[2:11, ::3]).sum().get(),
                               (a[1:10, ::3] * a[2:11, ::3]).sum())
    w = x.copy()
    w[2:5, 3:7] = -1.0
    expected = a.copy()
    expected[2:5, 3:7] = -1.0
    np.testing.assert_array_equal(w.get(), expected)

    # testkind kernels ran, each with a testkind device of this session and with inputs of
    # its kind only (every conversion happened in nums.runtime.kinds before the call)
    ran = {device for _, device in testkind.runs}
    assert ran and ran <= {d for d in session.devices if d.kind == "testkind"}
    if name == "threads-3":
        assert len(ran) == 2  # each testkind device got its own index
    assert {"fused_map", "contract_sum", "take_slice"} <= {k for k, _ in testkind.runs}
    assert testkind.unconverted == []
    assert testkind.from_host > put  # cpu blocks read by testkind kernels
    assert testkind.to_host > 0  # testkind blocks read by cpu kernels, or by get()

    # the cost model counted the blocks that went between kinds
    plan = nums.explain(z)
    assert plan.executed and plan.devices == tuple(str(d) for d in session.devices)
    test_devices = [i for i, d in enumerate(session.devices) if d.kind == "testkind"]
    cpu_devices = [i for i, d in enumerate(session.devices) if d.kind == "cpu"]
    assert plan.moved_bytes > 0
    if len(session.devices) == 2:  # any traffic is between the two kinds
        assert plan.net_in[test_devices].sum() + plan.net_in[cpu_devices].sum() == \
            pytest.approx(plan.moved_bytes)
        assert plan.net_out[cpu_devices].sum() > 0 or plan.net_out[test_devices].sum() > 0


def test_values_come_back_as_numpy(testkind):
    start("serial")
    x = nps.array(np.arange(12.0).reshape(3, 4), block_shape=(1, 4))
    assert type(x.get()) is np.ndarray
    (value,) = nums.session().executor.get([x._leaf().refs.ravel()[1]])  # a testkind block
    assert type(value) is np.ndarray
    np.testing.assert_array_equal(value, [[4.0, 5.0, 6.0, 7.0]])


def test_conversion_rule_lives_in_kinds(testkind):
    device = Device(0, "testkind", 3)
    block = TestBlock(np.ones(2), Device(0, "testkind", 0))
    host = np.zeros(2)
    convert = kinds.args_converter("testkind")
    args = convert(("name", host, block, (host, block), 3), device)
    assert args[0] == "name" and args[4] == 3
    assert type(args[1]) is TestBlock and args[1].device == device
    assert args[2] is block  # same kind: not converted
    assert [type(v) for v in args[3]] == [TestBlock, TestBlock]
    to_cpu = kinds.args_converter("cpu")
    back = to_cpu((block, host, [block]), Device(0, "cpu", 0))
    assert back[1] is host and back[0] is block.data and back[2][0] is block.data
    assert kinds.to_host_values([block, host]) == [block.data, host]
    assert kinds.to_device(host, device).device == device
    assert kinds.to_device(block, Device(0, "cpu", 0)) is block.data
    assert kinds.device_kind("cpu2").on_host  # an unregistered kind keeps host blocks
    assert kinds.args_converter("cpu2") is not None  # ...but reads testkind blocks


def test_cpu_kernels_are_called_unwrapped_without_other_kinds():
    reload()
    add = kernel("add_blocks")
    cpu = Device(0, "cpu", 0)
    assert add.for_device(cpu) is add.impls["cpu"]
    assert add.for_device(Device(0, "cpu", 5)) is add.impls["cpu"]
    assert kinds.args_converter("cpu") is None
    assert kinds.args_converter("cpu2") is None  # host kinds share memory: no conversion
    values = [np.ones(2)]
    assert kinds.to_host_values(values) is values


def test_kernels_with_the_device_get_it_and_stay_bound():
    seen = []

    def fn(a, *, device):
        seen.append(device)
        return a + 1

    k = Kernel("probe", {"cpu": np.negative, "testkind2": fn}, takes_device=("testkind2",))
    d0, d1 = Device(0, "testkind2", 0), Device(1, "testkind2", 1)
    assert k.for_device(d0)(1) == 2 and k.for_device(d1)(2) == 3
    assert seen == [d0, d1]
    assert k.for_device(d0) is k.for_device(d0)
    assert k.for_device(Device(0, "cpu", 0)) is np.negative


def test_missing_kernel_names_kernel_and_kind():
    k = Kernel("only_cpu", {"cpu": np.negative})
    with pytest.raises(NotImplementedError, match="'only_cpu'.*'nokind'"):
        k.for_device(Device(0, "nokind", 0))
    with pytest.raises(NotImplementedError, match="'only_cpu'.*'nokind'"):
        k.for_kind("nokind")


@pytest.mark.parametrize("workers", [1, 2])
def test_missing_kernel_in_a_session(workers):
    nums.shutdown()
    try:
        nums.init(backend="local", workers=workers, testing=True,
                  device_kinds=("cpu", "nokind"))
        x = nps.array(np.arange(8.0), block_shape=(2,))
        with pytest.raises(NotImplementedError, match="'fused_map'.*'nokind'"):
            (x + 1).get()
    finally:
        nums.shutdown()


def test_local_device_kinds_option():
    from nums.backends.local.plugin import local_devices

    assert local_devices(("cpu", "gpu", "cpu", "gpu")) == (
        Device(0, "cpu", 0), Device(0, "gpu", 0), Device(0, "cpu", 1), Device(0, "gpu", 1))
    for bad in ("cpu", (), ("cpu", "")):
        with pytest.raises(ValueError, match="device_kinds"):
            local_devices(bad)
    nums.shutdown()
    try:
        with pytest.raises(TypeError, match="bogus"):
            nums.init(backend="local", workers=1, bogus=1)
        session = nums.init(backend="local", workers=1, device_kinds=("cpu", "cpu2", "cpu2"))
        assert session.devices == (Device(0, "cpu", 0), Device(0, "cpu2", 0),
                                   Device(0, "cpu2", 1))
        a = np.arange(24.0).reshape(6, 4)
        x = nps.array(a, block_shape=(2, 2))  # put on all three devices (no kernel runs)
        assert kinds_of(x) == {"cpu", "cpu2"}
        np.testing.assert_array_equal(x.get(), a)
    finally:
        nums.shutdown()


def test_device_keeps_its_three_field_form():
    d = Device(1, "gpu", 2)
    assert (d.node, d.kind, d.index, d.capacity) == (1, "gpu", 2, None)
    assert d == Device(1, "gpu", 2) and str(d) == "gpu:1/2"
    assert Device(1, "gpu", 2, capacity=2**30).capacity == 2**30


# -- the cost model ----------------------------------------------------------------------

def test_traffic_between_kinds_on_one_node_counts():
    g = GreedyPlacement(DeviceGrid([Device(0, "cpu", 0), Device(0, "gpu", 0)]))
    g.mode = "cyclic"  # keep the op where it is asked to run
    g.place([0], [64.0], 8.0, default=1)
    np.testing.assert_array_equal(g.state.net_out, [64, 0])
    np.testing.assert_array_equal(g.state.net_in, [0, 64])
    assert g.moved_bytes == 64


def capped(capacities) -> GreedyPlacement:
    return GreedyPlacement(DeviceGrid([Device(0, "cpu", i, capacity=c)
                                       for i, c in enumerate(capacities)]))


def test_a_device_over_capacity_is_not_chosen():
    # Device 0 holds the 32-byte input: the objective keeps the op there (48 vs 144), but
    # 48 bytes do not fit in its 40.
    g = capped([40, None])
    g.state.set([32, 32], [0, 0], [0, 0])
    assert g.place([0], [32.0], 16.0, default=0) == 1
    # Without capacities the same op stays.
    free = capped([None, None])
    assert not free.state.bounded
    free.state.set([32, 32], [0, 0], [0, 0])
    assert free.place([0], [32.0], 16.0, default=0) == 0


def test_capacity_also_holds_in_cyclic_mode():
    g = capped([40, None, None])
    g.mode = "cyclic"
    assert not g.follows_layout()
    g.state.set([32, 0, 0], [0, 0, 0], [0, 0, 0])
    assert g.place([], [], 16.0, default=0) == 1  # leaves the layout only for capacity
    assert g.place([], [], 4.0, default=0) == 0  # fits: the layout as usual


def test_when_nothing_fits_the_objective_decides():
    g = capped([10, 10])
    g.state.set([32, 0], [0, 0], [0, 0])
    assert g.place([], [], 16.0, default=0) == 1  # both over: the lower objective
    assert g.state.fits(1, [], [], 0.0) is False


def test_placement_copies_keep_capacities():
    g = capped([40, None])
    assert g.copy().state.bounded and g.snapshot().state.bounded
    np.testing.assert_array_equal(g.state.capacity, [40, np.inf])


@settings(deadline=None, max_examples=150)
@given(st.integers(2, 40), st.data())
def test_capacity_choice_is_the_brute_force_argmin_among_fitting(n, data):
    # byte counts (whole numbers, as block sizes are): float sums of them are exact, so the
    # brute force and the placement add the same numbers
    sizes = st.integers(0, 10**6).map(float)
    caps = data.draw(st.lists(st.one_of(st.none(), st.integers(0, 3 * 10**6).map(float)),
                              min_size=n,
                              max_size=n))
    g = capped(caps)
    g.state.set(data.draw(st.lists(sizes, min_size=n, max_size=n)),
                data.draw(st.lists(sizes, min_size=n, max_size=n)),
                data.draw(st.lists(sizes, min_size=n, max_size=n)))
    k = data.draw(st.integers(0, 3))
    in_devs = data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k))
    in_sizes = data.draw(st.lists(sizes, min_size=k, max_size=k))
    out_size = data.draw(sizes)
    default = data.draw(st.integers(0, n - 1))
    costs, fits = [], []
    for d in range(n):
        trial = g.state.copy()
        trial.apply(d, in_devs, in_sizes, out_size)
        costs.append(trial.objective())
        fits.append(trial.memory[d] <= g.state.capacity[d])
    if any(fits):
        costs = [c if f else np.inf for c, f in zip(costs, fits)]
    best = min(costs)
    want = default if costs[default] <= best * (1 + MIN_GAIN) else costs.index(best)
    assert g.place(in_devs, in_sizes, out_size, default) == want
    if any(fits):
        assert fits[want]


def test_no_capacity_leaves_costs_unchanged():
    state = ClusterState(3, [None, None, None])
    assert not state.bounded
    state.set([10.0, 0.0, 0.0], [0.0] * 3, [0.0] * 3)
    assert list(state.costs([0], [4.0], 2.0)) == [12.0, 18.0, 18.0]


def test_registry_objects_survive_reload():
    add = kernel("add_blocks")
    assert reload()["add_blocks"] is add
    assert all_kernels()["add_blocks"] is add
