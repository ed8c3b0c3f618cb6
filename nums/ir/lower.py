"""Lowering: array-level nodes -> per-block kernel calls on the executor.

:func:`materialize` computes nodes and caches their results as Leaf nodes. Each node kind has
one lowering function; they share the session's executor and placement. Tasks are handed to
the executor as they are built; executors that stage them (threads, Ray) start them at the
flush after each node, while the next node is planned; :func:`fetch` waits for the values.
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from nums.array.grid import ArrayGrid
from nums.ir.fusion import build_program
from nums.ir.nodes import Contract, Create, Leaf, Map, Move, Node, Reduce, Transpose
from nums.kernels.fused import permute_axes
from nums.kernels.reduce import ReduceSpec
from nums.kernels.registry import kernel
from nums.optimizer.plan import Plan
from nums.runtime.session import Session, current

__all__ = ["materialize", "fetch", "leaf_from_blocks", "plan_of"]


def _segments(a_chunks: Sequence[int], b_chunks: Sequence[int]
              ) -> list[tuple[int, slice | None, int, slice | None]]:
    """Split one contracted axis at both operands' block boundaries.

    Returns ``(a block, slice in it, b block, slice in it)`` per segment; a slice is None
    when the segment is the whole block.
    """
    a_off = list(itertools.accumulate(a_chunks, initial=0))
    b_off = list(itertools.accumulate(b_chunks, initial=0))
    cuts = sorted(set(a_off) | set(b_off))
    out = []
    ia = ib = 0
    for lo, hi in zip(cuts, cuts[1:]):
        while a_off[ia + 1] <= lo:
            ia += 1
        while b_off[ib + 1] <= lo:
            ib += 1
        sa = None if (a_off[ia], a_off[ia + 1]) == (lo, hi) else \
            slice(lo - a_off[ia], hi - a_off[ia])
        sb = None if (b_off[ib], b_off[ib + 1]) == (lo, hi) else \
            slice(lo - b_off[ib], hi - b_off[ib])
        out.append((ia, sa, ib, sb))
    if not out:  # a contracted axis of length 0
        out.append((0, None, 0, None))
    return out


def _selection(sel: list[Any]) -> tuple[Any, ...] | None:
    """None when ``sel`` selects whole blocks, else the index tuple."""
    if all(s is None or s == slice(None) for s in sel):
        return None
    return tuple(slice(None) if s is None else s for s in sel)


class _Kernels:
    """Kernel objects looked up once per process (the registry is built on first use)."""

    def __getattr__(self, name: str) -> Any:
        k = kernel(name)
        setattr(self, name, k)
        return k


K = _Kernels()


def block_nbytes(grid: ArrayGrid, itemsize: int) -> np.ndarray:
    """Bytes of every block of ``grid``, as a float array of its grid shape."""
    return grid.block_nbytes(itemsize)


def _aligned(leaf: Leaf, perm: tuple[int, ...] | None, ndim: int,
             grid_shape: tuple[int, ...], what: str = "refs") -> np.ndarray:
    """``leaf.refs`` (or ``devices``, ``nbytes``, block ``number``) viewed in output-block
    coordinates, flattened."""
    if what == "nbytes":
        arr = block_nbytes(leaf.grid, leaf.dtype.itemsize)
    elif what == "number":
        arr = np.arange(leaf.grid.num_blocks).reshape(leaf.grid.grid_shape)
    else:
        arr = getattr(leaf, what)
    if perm is None and arr.shape == grid_shape:
        return arr.reshape(-1)
    if perm is not None:
        arr = permute_axes(arr, perm)
    if arr.ndim < ndim:
        arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
    return np.broadcast_to(arr, grid_shape).ravel()


def _input_columns(inputs: Sequence[tuple[Leaf, Any]], ndim: int,
                   grid_shape: tuple[int, ...]) -> tuple[list[np.ndarray], list[np.ndarray],
                                                         list[np.ndarray]]:
    """Per fused input, in output-block order: its refs, their devices and their bytes."""
    refs = [_aligned(leaf, perm, ndim, grid_shape) for leaf, perm in inputs]
    devs = [_aligned(leaf, perm, ndim, grid_shape, "devices") for leaf, perm in inputs]
    sizes = [_aligned(leaf, perm, ndim, grid_shape, "nbytes") for leaf, perm in inputs]
    return refs, devs, sizes


def _broadcast_numbers(inputs: Sequence[tuple[Leaf, Any]], ndim: int,
                       grid_shape: tuple[int, ...]) -> list[np.ndarray | None]:
    """Per fused input, in output-block order, the number of the block read, for inputs
    whose blocks are read by several output blocks (broadcast); None for the others."""
    return [None if leaf.grid.num_blocks == math.prod(grid_shape)
            else _aligned(leaf, perm, ndim, grid_shape, "number") for leaf, perm in inputs]


def _split(items: list[int], parts: int) -> list[list[int]]:
    """``items`` cut into ``min(len(items), parts)`` runs of near-equal length, in order."""
    parts = min(len(items), parts)
    step, extra = divmod(len(items), parts)
    out, start = [], 0
    for p in range(parts):
        stop = start + step + (p < extra)
        out.append(items[start:stop])
        start = stop
    return out


def _no_flush() -> None:
    return None


def _partial_nbytes(node: Reduce):
    """Bytes of one partial of ``node`` for an input block of a given shape."""
    parts = {"mean": 2, "nanmean": 2, "var": 3, "std": 3, "nanvar": 3, "nanstd": 3,
             "argmin": 2, "argmax": 2}.get(node.name, 1)
    itemsize = max(node.acc_dtype.itemsize if node.acc_dtype is not None else 0,
                   node.dtype.itemsize, 8)
    axes = node.axes

    def nbytes(shape: tuple[int, ...]) -> float:
        return float(parts * itemsize * math.prod(1 if a in axes else n
                                                  for a, n in enumerate(shape)))

    return nbytes


class Lowering:
    """One materialisation job on the current session."""

    def __init__(self, session: Session, dry: bool = False) -> None:
        """Lower on ``session``; with ``dry``, plan only: a copy of the placement, an executor
        that runs nothing, and results kept in a memo instead of on the nodes."""
        self.session = session
        self.devices = session.devices
        self.settings = session.settings
        if dry:
            from nums.backends.dryrun.executor import DryRunExecutor

            self.executor: Any = DryRunExecutor(len(session.devices))
            self.placement = session.placement.copy()
            self.memo: dict[int, tuple[Node, Leaf]] | None = {}
        else:
            self.executor = session.executor
            self.placement = session.placement
            self.memo = None
        self.place = self.placement.place
        self.flush = getattr(self.executor, "flush", _no_flush)
        self.placement.begin_job()

    def ensure(self, node: Node) -> Leaf:
        """The node's result as a Leaf, computing it (and what it needs) if necessary."""
        leaf = node.leaf
        if leaf is not None:
            return leaf
        if self.memo is not None:
            found = self.memo.get(id(node))
            if found is not None:
                return found[1]
        lower = _LOWERINGS[type(node)]
        leaf = lower(self, node)
        self.placement.settle(leaf)
        self.flush()
        if self.memo is not None:
            self.memo[id(node)] = (node, leaf)
            return leaf
        node.leaf = leaf
        node.release()
        return leaf

    def plan(self) -> Any:
        """The loads recorded so far, as a :class:`~nums.optimizer.plan.Plan`."""
        return Plan.from_placement(self.placement, self.devices, executed=self.memo is None)

    def record(self) -> Callable[[], Any]:
        """A snapshot of the loads recorded so far; calling it builds the Plan."""
        snapshot = self.placement.snapshot()
        devices, executed = self.devices, self.memo is None
        return lambda: Plan.from_placement(snapshot, devices, executed=executed)

    def new_leaf(self, node: Node, refs: Sequence[Any], devices: Sequence[int] | np.ndarray
                 ) -> Leaf:
        grid_shape = node.grid.grid_shape
        if len(refs) == 1:
            ref_array = np.empty(grid_shape, dtype=object)
            ref_array.flat[0] = refs[0]
            device_array = self.placement.single_device(int(devices[0]), len(grid_shape))
        else:
            ref_array = np.fromiter(refs, dtype=object, count=len(refs)).reshape(grid_shape)
            device_array = np.asarray(devices, dtype=np.intp).reshape(grid_shape)
        return Leaf(node.grid, node.dtype, ref_array, device_array, self.placement.release_leaf)

    def merge_tree(self, items: list[tuple[Any, int, float]], merge: Any,
                   head: tuple[Any, ...], root: tuple[Any, tuple[Any, ...], float, int] | None
                   = None) -> tuple[Any, int, float]:
        """Combine ``(ref, device, bytes)`` items of one size with the kernel ``merge``
        (called as ``merge(*head, *refs)`` on up to ``reduction_fanin`` of them): first the
        items on each device among themselves, then the per-device results, so that only
        one partial per device crosses devices. ``root = (kernel, head, bytes, device)``
        replaces the last merge (a reduction finishes its output block in that task, by
        default on the output block's own device); it needs two items or more."""
        fanin = max(2, self.settings.reduction_fanin)
        submit, devices, place = self.executor.submit, self.devices, self.place

        def level(group: list[tuple[Any, int, float]], final: bool
                  ) -> list[tuple[Any, int, float]]:
            out = []
            for s in range(0, len(group), fanin):
                chunk = group[s:s + fanin]
                kern, args, size, default = merge, head, chunk[0][2], chunk[0][1]
                if final and root is not None:
                    kern, args, size, default = root
                d = place([c[1] for c in chunk], [c[2] for c in chunk], size, default)
                out.append((submit(kern, (*args, *[c[0] for c in chunk]), devices[d],
                                   nbytes=size), d, size))
            return out

        by_device: dict[int, list[tuple[Any, int, float]]] = {}
        for item in items:
            by_device.setdefault(item[1], []).append(item)
        per_device = []
        for group in by_device.values():
            while len(group) > 1:
                group = level(group, len(by_device) == 1 and len(group) <= fanin)
            per_device.append(group[0])
        while len(per_device) > 1:
            per_device = level(per_device, len(per_device) <= fanin)
        return per_device[0]

    # -- elementwise -------------------------------------------------------------------
    def lower_map(self, node: Node) -> Leaf:
        program, inputs = build_program(node, self.ensure, self.settings.tile_elements)
        grid_shape = node.grid.grid_shape
        if node.grid.num_blocks == 1:  # one output block: every input has one block too
            in_devs = [int(leaf.devices.flat[0]) for leaf, _ in inputs]
            in_sizes = [float(leaf.grid.size * leaf.dtype.itemsize) for leaf, _ in inputs]
            # default 0: block (0, ..., 0) is on device 0 in the block-cyclic layout
            out_size = float(node.grid.size * node.dtype.itemsize)
            d = self.place(in_devs, in_sizes, out_size, 0)
            ref = self.executor.submit(K.fused_map, (program, node.shape,
                                                     *[leaf.refs.flat[0] for leaf, _ in inputs]),
                                       self.devices[d], nbytes=out_size)
            return self.new_leaf(node, [ref], [d])
        columns, in_devs, in_sizes = _input_columns(inputs, node.ndim, grid_shape)
        out_sizes = block_nbytes(node.grid, node.dtype.itemsize).ravel()
        devs = self.placement.place_blocks(
            in_devs, in_sizes, out_sizes, self.placement.output_devices(grid_shape).ravel(),
            _broadcast_numbers(inputs, node.ndim, grid_shape))
        submit, devices, fused = self.executor.submit, self.devices, K.fused_map
        refs = [submit(fused, (program, shape, *blocks), devices[d], nbytes=size)
                for shape, d, size, blocks in zip(
                    node.grid.block_shape_list(), devs, out_sizes.tolist(),
                    zip(*columns) if columns else itertools.repeat(()))]
        return self.new_leaf(node, refs, devs)

    # -- reductions --------------------------------------------------------------------
    def lower_reduce(self, node: Reduce) -> Leaf:
        """Each worker slot reduces the blocks of one output block that its device holds in
        one task (evaluating a fused elementwise source tile by tile), then a merge tree
        whose root finishes the output block."""
        source = node.source
        src_grid = source.grid
        axes = node.axes
        spec = ReduceSpec(node.name, axes, node.dtype, node.acc_dtype, node.ddof,
                          node.keepdims, source.shape)
        if isinstance(source, (Map, Transpose)) and source.leaf is None:
            program, inputs = build_program(source, self.ensure, self.settings.tile_elements)
        else:  # reduce the blocks as they are: no program, no copy
            program, inputs = None, [(self.ensure(source), None)]
        src_shape = src_grid.grid_shape
        columns, in_devs, in_sizes = _input_columns(inputs, source.ndim, src_shape)
        in_devs = [c.tolist() for c in in_devs]
        in_sizes = [c.tolist() for c in in_sizes]
        # receive-cache keys of broadcast inputs (a task may read one block several times)
        in_keys = [[None] * src_grid.num_blocks if numbers is None else
                   [(id(leaf), n) for n in numbers.tolist()]
                   for numbers, (leaf, _) in zip(
                       _broadcast_numbers(inputs, source.ndim, src_shape), inputs)]
        width = len(columns)
        submit, devices, place, slots = (self.executor.submit, self.devices, self.place,
                                         self.session.slots)
        part_bytes = _partial_nbytes(node)
        out_devices = self.placement.output_devices(node.grid.grid_shape)
        out_sizes = block_nbytes(node.grid, node.dtype.itemsize)
        # blocks of each output block, by the device that holds their largest input
        groups: dict[tuple[int, ...], dict[int, list[int]]] = {}
        block_places = []  # (offset, shape) of every source block
        for i, index in enumerate(src_grid.indices()):
            key = tuple(0 if a in axes else j for a, j in enumerate(index))
            home = max(zip((c[i] for c in in_sizes), (c[i] for c in in_devs)),
                       key=lambda size_dev: size_dev[0])[1] if in_devs else 0
            groups.setdefault(key, {}).setdefault(home, []).append(i)
            block_places.append((src_grid.block_offset(index), src_grid.block_shape_at(index)))
        keys_on = collections.Counter(home for by_home in groups.values() for home in by_home)
        cyclic = self.placement.follows_layout()
        refs, devs = [], []
        for key, by_home in groups.items():
            out_key = key if node.keepdims else tuple(j for a, j in enumerate(key)
                                                      if a not in axes)
            target = int(out_devices[out_key]) if out_key else int(out_devices.flat[0])
            out_size = float(out_sizes[out_key]) if out_key else float(out_sizes.flat[0])
            # a device's worker slots share its output blocks: one task per slot in all
            chunks = [(home, part) for home, blocks in by_home.items()
                      for part in _split(blocks, max(1, slots[home] // keys_on[home]))]
            partials = []
            finished = False  # whether the only task of this output block finished it
            for home, part in chunks:
                size = part_bytes(block_places[part[0]][1])
                d = place([c[i] for i in part for c in in_devs],
                          [c[i] for i in part for c in in_sizes], size, home,
                          [c[i] for i in part for c in in_keys])
                # the only task of its output block finishes it, unless the block-cyclic
                # layout wants the output on another device
                finished = len(chunks) == 1 and (d == target or not cyclic)
                ref = submit(K.fused_reduce,
                             (program, spec, tuple(block_places[i] for i in part), finished,
                              width, *[c[i] for i in part for c in columns]), devices[d],
                             nbytes=out_size if finished else size)
                partials.append((ref, d, size))
            if finished:
                ref, d = partials[0][:2]
            elif len(chunks) == 1:
                ref, src, size = partials[0]
                d = place([src], [size], out_size, target)
                ref = submit(K.reduce_finalize, (spec, ref), devices[d], nbytes=out_size)
            else:
                ref, d, _ = self.merge_tree(partials, K.reduce_merge, (spec, False),
                                            (K.reduce_merge, (spec, True), out_size, target))
            refs.append(ref)
            devs.append(d)
        return self.new_leaf(node, refs, devs)

    # -- contractions ------------------------------------------------------------------
    def lower_contract(self, node: Contract) -> Leaf:
        """Per output block: products over the contracted axes' *segments* (the union of both
        operands' block boundaries, so blocks are sliced, never re-blocked), grouped into tasks
        of up to ``reduction_fanin`` products, then a sum tree."""
        a_grid, b_grid = node.a.grid.grid_shape, node.b.grid.grid_shape
        a_chunks, b_chunks = node.a.grid.chunks, node.b.grid.chunks
        grid_shape = node.grid.grid_shape
        out_nbytes = block_nbytes(node.grid, node.dtype.itemsize)
        fanin = max(2, self.settings.reduction_fanin)
        submit, devices = self.executor.submit, self.devices
        if node.op == "tensordot":
            a_axes, b_axes = node.axes
            a_free = [a for a in range(len(a_grid)) if a not in a_axes]
            b_free = [b for b in range(len(b_grid)) if b not in b_axes]
        else:
            a_axes, b_axes = (len(a_grid) - 1,), (len(b_grid) - 2,)
            nb = len(grid_shape) - 2
        n_out = math.prod(grid_shape)
        seg_lists = [_segments(a_chunks[i], b_chunks[j]) for i, j in zip(a_axes, b_axes)]
        # An elementwise operand is evaluated inside the product tasks when each of its
        # blocks is read once: by one output block, whole (not cut into segments by the
        # other operand's blocks). Otherwise it would be recomputed per reader.
        a = _Operand(self, node.a, n_out == math.prod(
            g for ax, g in enumerate(a_grid) if ax not in a_axes) and all(
            len(segs) == a_grid[ax] for segs, ax in zip(seg_lists, a_axes)))
        b = _Operand(self, node.b, n_out == math.prod(
            g for ax, g in enumerate(b_grid) if ax not in b_axes) and all(
            len(segs) == b_grid[ax] for segs, ax in zip(seg_lists, b_axes)))
        fused = (a.program, a.width, b.program, b.width)
        a_bytes = block_nbytes(node.a.grid, node.a.dtype.itemsize)
        b_bytes = block_nbytes(node.b.grid, node.b.dtype.itemsize)
        n_pairs = math.prod(len(s) for s in seg_lists)
        spread = max(1, -(-sum(self.session.slots) // n_out))  # groups per output block
        per_group = max(1, min(fanin, -(-n_pairs // spread)))
        out_devices = self.placement.output_devices(grid_shape)
        refs, devs = [], []
        for out_index in itertools.product(*(range(g) for g in grid_shape)):
            if node.op == "tensordot":
                a_base = [0] * len(a_grid)
                b_base = [0] * len(b_grid)
                for pos, ax in enumerate(a_free):
                    a_base[ax] = out_index[pos]
                for pos, ax in enumerate(b_free):
                    b_base[ax] = out_index[len(a_free) + pos]
            else:
                batch = out_index[:nb]
                a_base = [j if g > 1 else 0 for j, g in
                          zip(batch[nb - (len(a_grid) - 2):], a_grid[:-2])]
                b_base = [j if g > 1 else 0 for j, g in
                          zip(batch[nb - (len(b_grid) - 2):], b_grid[:-2])]
                a_base += [out_index[-2], 0]
                b_base += [0, out_index[-1]]
            pairs = []
            for segs in itertools.product(*seg_lists):
                ai, bi = list(a_base), list(b_base)
                a_sel: list[Any] = [slice(None)] * len(a_grid)
                b_sel: list[Any] = [slice(None)] * len(b_grid)
                for (ja, sa, jb, sb), i, j in zip(segs, a_axes, b_axes):
                    ai[i], a_sel[i] = ja, sa
                    bi[j], b_sel[j] = jb, sb
                pairs.append((tuple(ai), tuple(bi), _selection(a_sel), _selection(b_sel)))
            out_size = float(out_nbytes[out_index])
            out_dev = int(out_devices[out_index])
            # A product runs, by default, where the largest of its blocks (left, right or
            # output) lives, the output's device on ties: square matmuls keep the output in
            # place and receive each operand block once per device (as SUMMA does);
            # tall-skinny products keep the big operand in place and move small partials.
            by_home: dict[int, list[Any]] = {}
            for pair in pairs:
                a_size, b_size = a_bytes[pair[0]], b_bytes[pair[1]]
                if out_size >= a_size and out_size >= b_size:
                    home = out_dev
                elif a_size >= b_size:
                    home = a.home(pair[0])
                else:
                    home = b.home(pair[1])
                by_home.setdefault(home, []).append(pair)
            groups = []
            for home, same in by_home.items():
                for chunk in (same[s:s + per_group] for s in range(0, len(same), per_group)):
                    args: list[Any] = []
                    src_devs: list[int] = []
                    src_sizes: list[float] = []
                    keys: list[Any] = []
                    sels = []
                    for ai, bi, sa, sb in chunk:
                        for side, index in ((a, ai), (b, bi)):
                            k = side.flat(index)
                            args += side.refs[k]
                            src_devs += side.devices[k]
                            src_sizes += side.sizes[k]
                            keys += side.keys[k]
                        sels.append((sa, sb, a.block_shape(ai), b.block_shape(bi)))
                    d = self.place(src_devs, src_sizes, out_size, home, keys)
                    groups.append((submit(K.contract_sum, (node.op, node.axes, a.perm, b.perm,
                                                           node.dtype, tuple(sels), fused,
                                                           *args),
                                          devices[d], nbytes=out_size), d, out_size))
            ref, d, _ = self.merge_tree(groups, K.add_blocks, ())
            refs.append(ref)
            devs.append(d)
        return self.new_leaf(node, refs, devs)

    # -- data movement -----------------------------------------------------------------
    def lower_move(self, node: Move) -> Leaf:
        leaves = [self.ensure(s) for s in node.sources]
        out_devices = self.placement.output_devices(node.grid.grid_shape)
        out_bytes = block_nbytes(node.grid, node.dtype.itemsize)
        leaf_bytes = [block_nbytes(leaf.grid, leaf.dtype.itemsize) for leaf in leaves]
        submit, devices = self.executor.submit, self.devices

        def place(out_index: tuple[int, ...], sources: list[tuple[int, Any]],
                  local: bool = False) -> int:
            # ``local``: a slice or reshape of one block defaults to where that block lives
            # (the smaller result moves later, if at all, rather than the whole block now).
            src_devs = [int(leaves[k].devices[i]) for k, i in sources]
            default = src_devs[0] if local else int(out_devices[out_index])
            return self.place(src_devs, [float(leaf_bytes[k][i]) for k, i in sources],
                              float(out_bytes[out_index]), default, sources)

        refs, devs = [], []
        for out_index, recipe in node.plan(leaves):
            kind = recipe[0]
            if kind == "ref":
                _, k, index = recipe
                refs.append(leaves[k].refs[index])
                devs.append(int(leaves[k].devices[index]))
                continue
            if kind == "slice":
                _, k, index, sel = recipe
                d = place(out_index, [(k, index)], local=True)
                ref = submit(K.take_slice, (sel, leaves[k].refs[index]), devices[d])
            elif kind == "reshape":
                _, k, index, shape = recipe
                d = place(out_index, [(k, index)], local=True)
                ref = submit(K.reshape_block, (shape, leaves[k].refs[index]), devices[d])
            elif kind in ("assemble", "flat"):
                _, shape, pieces = recipe
                args: list[Any] = []
                seen: dict[tuple[int, tuple[int, ...]], int] = {}
                encoded = []
                for k, index, *rest in pieces:
                    pos = seen.get((k, index))
                    if pos is None:
                        pos = seen[(k, index)] = len(args)
                        args.append(leaves[k].refs[index])
                    encoded.append((pos, *rest))
                d = place(out_index, list(seen))
                name = K.assemble if kind == "assemble" else K.flat_assemble
                ref = submit(name, (shape, node.dtype, tuple(encoded), *args), devices[d])
            elif kind == "update":
                _, k, index, target, value = recipe
                if value[0] == "const":
                    val, source = value[1], None
                    d = place(out_index, [(k, index)])
                else:
                    _, vk, vindex, source = value
                    val = leaves[vk].refs[vindex]
                    d = place(out_index, [(k, index), (vk, vindex)])
                ref = submit(K.update_region, (target, source, leaves[k].refs[index], val),
                             devices[d])
            else:  # pragma: no cover - planners only emit the kinds above
                raise AssertionError(f"unknown recipe {kind!r}")
            refs.append(ref)
            devs.append(d)
        return self.new_leaf(node, refs, devs)

    # -- creation ----------------------------------------------------------------------
    def lower_create(self, node: Create) -> Leaf:
        grid = node.grid
        out_devices = self.placement.output_devices(grid.grid_shape).ravel().tolist()
        out_bytes = block_nbytes(grid, node.dtype.itemsize).ravel().tolist()
        k = kernel(node.kernel_name)
        submit, devices, block_args = self.executor.submit, self.devices, node.block_args
        fixed = self.placement.fixed
        refs = [submit(k, block_args(index, grid.block_offset(index), grid.block_shape_at(index)),
                       devices[fixed(d, size)], nbytes=size)
                for index, d, size in zip(grid.indices(), out_devices, out_bytes)]
        return self.new_leaf(node, refs, out_devices)


class _Operand:
    """One side of a contraction, per block of its grid: the refs a product task reads for
    it, their devices, bytes and receive-cache keys.

    A materialised array (or a transposed view of one: ``perm``) gives its own block. An
    unmaterialised elementwise node, when ``fuse`` allows, gives the inputs of its
    ``program``, which the product task evaluates into a scratch buffer: no temporary array
    is made and only the inputs' blocks count for placement.
    """

    def __init__(self, lowering: Lowering, node: Node, fuse: bool) -> None:
        self.program = None
        self.perm = None
        self.grid = node.grid
        if fuse and type(node) is Map and node.leaf is None:
            self.program, inputs = build_program(node, lowering.ensure,
                                                 lowering.settings.tile_elements)
        elif isinstance(node, Transpose) and node.leaf is None:
            self.perm = node.perm
            inputs = [(lowering.ensure(node.source), node.perm)]
        else:
            inputs = [(lowering.ensure(node), None)]
        grid_shape, ndim = node.grid.grid_shape, node.ndim
        columns, devs, sizes = _input_columns(inputs, ndim, grid_shape)
        numbers = [_aligned(leaf, perm, ndim, grid_shape, "number").tolist()
                   for leaf, perm in inputs]
        self.width = len(inputs)
        self.refs = list(zip(*columns))
        self.devices = list(zip(*[c.tolist() for c in devs]))
        self.sizes = list(zip(*[c.tolist() for c in sizes]))
        self.keys = list(zip(*[[(id(leaf), n) for n in column]
                               for (leaf, _), column in zip(inputs, numbers)]))
        self._strides = [math.prod(grid_shape[i + 1:]) for i in range(len(grid_shape))]

    def flat(self, index: tuple[int, ...]) -> int:
        """Position of block ``index`` in the per-block lists."""
        return sum(i * s for i, s in zip(index, self._strides))

    def home(self, index: tuple[int, ...]) -> int:
        """The device holding the largest input of block ``index``."""
        k = self.flat(index)
        sizes = self.sizes[k]
        return self.devices[k][sizes.index(max(sizes))]

    def block_shape(self, index: tuple[int, ...]) -> tuple[int, ...] | None:
        """The block's shape when a program makes it (the kernel needs it), else None."""
        return None if self.program is None else self.grid.block_shape_at(index)


_LOWERINGS = {
    Map: Lowering.lower_map,
    Transpose: Lowering.lower_map,
    Reduce: Lowering.lower_reduce,
    Contract: Lowering.lower_contract,
    Move: Lowering.lower_move,
    Create: Lowering.lower_create,
}


def materialize(nodes: Iterable[Node], session: Session | None = None) -> list[Leaf]:
    """Compute ``nodes`` (submitting their tasks) and return their Leaf results."""
    nodes = list(nodes)
    leaves = [n.leaf for n in nodes]
    if None not in leaves:
        return leaves
    session = session or current()
    _choose_mode(nodes, session)
    lowering = Lowering(session)
    leaves = [lowering.ensure(n) for n in nodes]
    record = lowering.record()  # cheap; turned into a Plan only if nums.explain asks
    for leaf in leaves:
        if leaf.plan is None:
            leaf.plan = record
    return leaves


def plan_of(nodes: Iterable[Node], session: Session | None = None,
            mode: str | None = None) -> Any:
    """The plan of computing ``nodes`` now, made without running anything."""
    session = session or current()
    nodes = list(nodes)
    if mode is None:
        _choose_mode(nodes, session)
    return _dry_run(nodes, session, mode).plan()


def _dry_run(nodes: list[Node], session: Session, mode: str | None) -> Lowering:
    """Lower ``nodes`` without running anything (``mode``: force the greedy placement's)."""
    lowering = Lowering(session, dry=True)
    if mode is not None and hasattr(lowering.placement, "mode"):
        lowering.placement.mode = mode
    for n in nodes:
        lowering.ensure(n)
    return lowering


def _needs_comparison(nodes: list[Node]) -> bool:
    """Whether the job has ops (reductions, products, data movement) where greedy decisions
    can end worse than block-cyclic ones."""
    stack, seen = list(nodes), set()
    while stack:
        node = stack.pop()
        if node.leaf is not None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, (Reduce, Contract, Move)):
            return True
        stack.extend(node.inputs())
    return False


def _choose_mode(nodes: list[Node], session: Session) -> None:
    """For the greedy placement: plan the job greedily and block-cyclically (no running) and
    keep the lower objective, so the optimizer is never worse than block-cyclic."""
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
    greedy = _dry_run(nodes, session, "greedy")
    if greedy.placement.off_layout == 0:
        # The search kept every op on its block-cyclic device: both plans are the same, and
        # the cyclic mode makes it without searching.
        placement.mode = "cyclic"
        return
    cyclic = _dry_run(nodes, session, "cyclic").plan().objective
    placement.mode = "cyclic" if cyclic < greedy.plan().objective else "greedy"


def fetch(leaf: Leaf, session: Session | None = None) -> np.ndarray:
    """Wait for a Leaf's blocks and assemble them into one NumPy array."""
    session = session or current()
    refs = leaf.refs
    if refs.size == 1:  # a copy: the caller may write to it, blocks stay immutable
        (value,) = session.executor.get([refs.flat[0]])
        if type(value) is np.ndarray and value.dtype == leaf.dtype \
                and value.shape == leaf.shape:
            return value.copy()
        return np.array(value, dtype=leaf.dtype, copy=True).reshape(leaf.shape)
    values = session.executor.get(list(refs.ravel()))
    out = np.empty(leaf.shape, dtype=leaf.dtype)
    for index, value in zip(leaf.grid.indices(), values):
        out[leaf.grid.block_slices(index)] = value
    return out


def leaf_from_blocks(grid: ArrayGrid, dtype: np.dtype, array: np.ndarray, copy: bool,
                     session: Session | None = None) -> Leaf:
    """Put the blocks of a NumPy ``array`` on their devices (block-cyclic)."""
    session = session or current()
    placement = session.placement
    devices = placement.output_devices(grid.grid_shape)
    sizes = block_nbytes(grid, np.dtype(dtype).itemsize)
    put = session.executor.put
    is_local = getattr(session.executor, "is_local", None)  # SPMD: only own blocks are kept
    refs = np.empty(grid.grid_shape, dtype=object)
    for index in grid.indices():
        block = array[grid.block_slices(index)]
        d = placement.fixed(int(devices[index]), float(sizes[index]))
        device = session.devices[d]
        if (copy or not block.flags.c_contiguous) and (is_local is None or is_local(device)):
            block = np.array(block, dtype=dtype, order="C", copy=True)
        refs[index] = put(block, device)
    leaf = Leaf(grid, dtype, refs, devices.copy(), placement.release_leaf)
    placement.settle(leaf)
    return leaf
