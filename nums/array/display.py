"""Notebook display: the block grid of an array, coloured by the device holding each block."""

from __future__ import annotations

import html

__all__ = ["html_grid"]

_PALETTE = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
            "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f")


def html_grid(array) -> str:
    """An HTML table of the array's blocks (first two grid axes), one colour per device."""
    from nums.runtime.session import current

    session = current()
    grid = array.grid
    node = array._node
    if node.leaf is not None:
        devices = node.leaf.devices
    else:
        devices = session.placement.output_devices(grid.grid_shape)
    title = html.escape(f"BlockArray shape={array.shape} dtype={array.dtype} "
                        f"block_shape={array.block_shape} grid={grid.grid_shape} "
                        f"({'computed' if node.leaf is not None else 'deferred'})")
    if grid.ndim == 0:
        return f"<div>{title}</div>"
    rows_n = min(grid.grid_shape[0], 16)
    cols_n = min(grid.grid_shape[1], 16) if grid.ndim > 1 else 1
    rest = (0,) * max(grid.ndim - 2, 0)
    cells = []
    for i in range(rows_n):
        row = []
        for j in range(cols_n):
            index = (i, j) + rest if grid.ndim > 1 else (i,)
            d = int(devices[index])
            label = html.escape(str(session.devices[d]))
            row.append(f'<td style="background:{_PALETTE[d % len(_PALETTE)]};'
                       f'padding:2px 6px;font:10px monospace" title="block {index}">'
                       f"{label}</td>")
        cells.append("<tr>" + "".join(row) + "</tr>")
    return (f"<div><div style='font:12px monospace'>{title}</div>"
            f"<table style='border-collapse:collapse'>{''.join(cells)}</table></div>")
