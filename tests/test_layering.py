"""Layers point one way: tracer -> runtime -> compiler.

compiler imports neither tracer nor runtime (nor numba: it emits source text); runtime
never imports tracer. Checked on the source with ``ast`` so lazy imports count too.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORBIDDEN = {"compiler": {"tracer", "runtime", "numba"}, "runtime": {"tracer"}}


def imported_packages(path):
    """Top-level package names imported anywhere in a file (absolute imports)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" \
                and node.args and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value).split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_point_one_way(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    offenders = []
    for path in files:
        bad = imported_packages(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, f"{package} must not import {sorted(FORBIDDEN[package])}: " \
                          f"{offenders}"


def test_import_scanner_sees_nested_and_from_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import os.path\nfrom numba import njit\n"
                   "def f():\n    import tracer.tape\n    return __import__('runtime')\n"
                   "from . import sibling\n")
    assert imported_packages(src) == {"os", "numba", "tracer", "runtime"}
