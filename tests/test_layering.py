"""The layers import only downward (DESIGN.md): the IR never imports a backend, the runtime
and the optimizer never import the IR, the API or a backend, kernels never import the IR,
the API or a backend, and ``runtime`` and ``kernels`` do not import each other at run time
(type hints under ``TYPE_CHECKING`` do not count)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"nums.ir": ROOT / "nums" / "ir", "nums.runtime": ROOT / "nums" / "runtime",
           "nums.optimizer": ROOT / "nums" / "optimizer", "nums.kernels": ROOT / "kernels"}
FORBIDDEN = {
    "nums.ir": ("nums.backends", "nums.numpy"),
    # the session holds the placement, so nums.runtime.session may import the optimizer
    "nums.runtime": ("nums.backends", "nums.ir", "nums.array", "nums.numpy", "nums.kernels"),
    "nums.optimizer": ("nums.backends", "nums.ir", "nums.array", "nums.numpy"),
    "nums.kernels": ("nums.backends", "nums.ir", "nums.array", "nums.numpy", "nums.optimizer"),
}


def runtime_imports(path: Path) -> list[str]:
    """Modules imported by ``path``, leaving out ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and getattr(block.test, "id", None) == "TYPE_CHECKING"
               for node in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


@pytest.mark.parametrize("package", list(FOLDERS))
def test_layers_import_downward(package):
    bad = [(path.name, name) for path in sorted(FOLDERS[package].glob("*.py"))
           for name in runtime_imports(path)
           if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package])]
    assert not bad, f"{package} imports a higher layer: {bad}"
