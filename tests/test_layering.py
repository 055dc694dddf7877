"""Layers point one way: tracer -> runtime -> compiler; inside tracer/, one order.

compiler imports neither tracer nor runtime (nor numba: it emits source text); runtime
never imports tracer. Checked on the source with ``ast`` so lazy imports count too.
Inside tracer/ every module imports only modules before it in ``TRACER_ORDER``, never
inside a function, so ``import tracer`` works in any order of its __init__ imports.
"""
import ast
import os
import pathlib
import shutil
import subprocess
import sys

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


# -- inside tracer/: one order, no cycles ------------------------------------------------------

# Each module may import only modules listed before it (tracer/__init__ and tracer/testing
# sit on top). A new module goes where its imports put it; say why in a comment if unclear.
TRACER_ORDER = [
    "errors", "dtypes",
    "checkpoint_policies",  # tt.checkpoint's save policies (imports nothing of tracer)
    "state",            # per-thread tapes and trace context; the two protocols
    "tensor",           # data and Python protocols, no operators
    "recording",        # make, node_of, bind; watching/commit (the recording protocol)
    "convert",          # convert_to_tensor
    "literals",         # shared literal nodes for Python scalars on tapes
    "engine",           # operands, broadcasting and promotion, elementwise
    "shape_ops", "ops",
    "matrix",           # tt.linalg's factorizations and solves (re-exported by linalg)
    "linalg", "creation",
    "array_ops", "norms", "indexing",   # more array ops; indexing is what x[key] calls
    "operators",        # Tensor's arithmetic operators, attached once the ops exist
    "variable",
    "random_ops", "conv", "nn_ops",   # training ops, imported by nn
    "special_math",     # tf.math compositions (safe division, inverse hyperbolics, segments)
    "nn", "math", "nest",
    "argvars",          # stand-ins for Variables passed to traced functions
    "tracing",
    "batch_jacobian",   # GradientTape.batch_jacobian's rows (uses the tape's gradients)
    "recorder",         # what a GradientTape records: watched nodes, values, its log
    "gradient_plans",   # how a tape's gradient runs: seeds, sources, cached plans
    "tape", "custom",
    "serialize",        # pickling of staged functions (recipes, tokens)
    "signature",        # what keys a tt.function call's trace; the fast keys
    "entry",            # one traced signature: its graph, bindings and how calls run it
    "function", "transforms",
    "vectorize", "forward", "rematerialize",   # vmap; jvp, vjp, jacfwd...; checkpoint
    "eager_functions",
    "distributed",      # data-parallel gradients on Dask (imported on use)
    "region_trace",     # control flow traced into region nodes
    "control",          # tt.cond, tt.switch, tt.while_loop, tt.fori_loop, tt.scan
]


def tracer_imports(path):
    """The tracer modules a file imports (``from tracer import x`` counts as tracer.x)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "tracer":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("tracer."))
    return found


def test_tracer_modules_are_all_placed():
    on_disk = {p.stem for p in (ROOT / "tracer").glob("*.py")} - {"__init__"}
    assert on_disk == set(TRACER_ORDER), \
        f"place new tracer modules in TRACER_ORDER: missing {sorted(on_disk - set(TRACER_ORDER))}, " \
        f"gone {sorted(set(TRACER_ORDER) - on_disk)}"


@pytest.mark.parametrize("module", TRACER_ORDER)
def test_tracer_imports_point_down(module):
    rank = {m: i for i, m in enumerate(TRACER_ORDER)}
    later = sorted(m for m in tracer_imports(ROOT / "tracer" / f"{module}.py")
                   if m not in rank or rank[m] >= rank[module])
    assert not later, f"tracer/{module}.py imports {later}, which come after it (or are " \
                      f"not ordered) in TRACER_ORDER"


def test_no_function_level_imports_in_tracer():
    offenders = []
    for path in sorted((ROOT / "tracer").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        offenders.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert not offenders, f"imports inside functions or classes: {offenders}"


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_tracer_imports_in_any_init_order(tmp_path, order):
    """``import tracer`` works whatever the order of tracer/__init__'s imports."""
    src = (ROOT / "tracer" / "__init__.py").read_text()
    tree = ast.parse(src)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    lines = src.splitlines()
    texts = ["\n".join(lines[n.lineno - 1:n.end_lineno]) for n in imports]
    texts = sorted(texts) if order == "sorted" else list(reversed(texts))
    body = [n for n in tree.body if n not in imports and not (
        isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    rest = "\n".join("\n".join(lines[n.lineno - 1:n.end_lineno]) for n in body)
    shutil.copytree(ROOT / "tracer", tmp_path / "tracer",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "tracer" / "__init__.py").write_text("\n".join(texts) + "\n" + rest + "\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    code = "import tracer as tt; assert tt.__file__.startswith(%r); " \
           "print((tt.constant([1.0, 2.0]) * 2 + 1).numpy())" % str(tmp_path)
    run = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "[3. 5.]" in run.stdout
