"""Registers the NumPy (cpu) kernel set through the ``nums_kernel_sets`` hook."""

from __future__ import annotations

from nums.kernels import creation, fused, linalg, movement, random, reduce, select

from nums.runtime.hookspecs import KernelSet, hookimpl

CPU_KERNELS = {
    "fused_map": fused.fused_map,
    "fused_reduce": reduce.fused_reduce,
    "reduce_merge": reduce.reduce_merge,
    "reduce_finalize": reduce.reduce_finalize,
    "contract_sum": linalg.contract_sum,
    "add_blocks": linalg.add_blocks,
    "take_slice": movement.take_slice,
    "assemble": movement.assemble,
    "flat_assemble": movement.flat_assemble,
    "update_region": movement.update_region,
    "reshape_block": movement.reshape_block,
    "full": creation.full,
    "arange": creation.arange,
    "linspace": creation.linspace,
    "eye": creation.eye,
    "diag_from_vector": creation.diag_from_vector,
    "diag_of_block": creation.diag_of_block,
    "random_block": random.random_block,
    "count_nonzero_block": select.count_nonzero_block,
    "nonzero_block": select.nonzero_block,
    "flatnonzero_block": select.flatnonzero_block,
    "masked_block": select.masked_block,
}


@hookimpl
def nums_kernel_sets() -> list[KernelSet]:
    """The NumPy kernels, for cpu devices."""
    return [KernelSet("cpu", CPU_KERNELS)]
