"""The IR: array-level nodes, fusion, lowering to per-block tasks, data-movement plans."""
