"""The block VM's instruction set and native source (see ``compiler.vm``).

Opcodes below ``FIRST_OP`` move data: ``LOADV``/``LOADS``/``CONST`` fill a register from
a buffer (per element / its single element) or a literal, ``STORE`` writes a register to
a buffer, ``RED_*`` fold a register into an accumulator. Every elementwise primitive
with a ``Scalar`` lowering is one opcode per operand kinds ("f": the VM's float dtype,
"b": bool kept as 0/1), numbered in a fixed order from the registry; its body is the
lowering's own source. The VM is one Numba function per float dtype, written here as
text; ``runtime.vm`` compiles it.
"""
import hashlib
import itertools

import numpy as np

from compiler.codegen import ctor
from compiler.ir import Node
from compiler.primitives.core import PRIMITIVES, Scalar

BLOCK = 256
DTYPES = (np.dtype("float64"), np.dtype("float32"))
LOADV, LOADS, CONST, STORE = 0, 1, 2, 3
REDUCE = {"add": 4, "mul": 5, "max": 6, "min": 7}
FIRST_OP = 16
BOOL = np.dtype("bool")


def _signatures():
    """(primitive, operand kinds, result kind) for every elementwise opcode: kinds are
    "f" (the VM's float dtype) or "b" (bool); in a fixed order, so numbering is stable."""
    rows = []
    for name in sorted(PRIMITIVES):
        p = PRIMITIVES[name]
        if p.kind != "elementwise" or not isinstance(p.lowering, Scalar) or not p.cases:
            continue
        arity = len(p.cases[0].shapes)
        for kinds in itertools.product("fb", repeat=arity):
            for out in _results(p, kinds):
                rows.append((name, "".join(kinds), out))
    return rows


def _results(p, kinds):
    """Result kinds the primitive gives for operand kinds (none: it does not take them)."""
    outs = []
    for dt in (np.dtype("float64"),):
        leaves = [Node(PRIMITIVES["literal"], (), {}, (), dt if k == "f" else BOOL)
                  for k in kinds]
        attrs = [{"dtype": d} for d in (dt, BOOL)] if p.name == "cast" else [{}]
        for a in attrs:
            try:
                _, out = p.infer(*leaves, **a)
            except (TypeError, ValueError):
                continue
            kind = "b" if np.dtype(out) == BOOL else "f" if np.dtype(out) == dt else None
            if kind and kind not in outs:
                outs.append(kind)
    return outs


_TABLE = None


def table():
    """{(primitive, operand kinds, result kind): opcode}."""
    global _TABLE
    if _TABLE is None:
        _TABLE = {sig: FIRST_OP + i for i, sig in enumerate(_signatures())}
    return _TABLE


# -- the VM's source ------------------------------------------------------------------

_HEADER = ("import math\nimport numpy as np\nfrom numba import njit, carray\n"
           "from runtime.vecmath import *\nfrom runtime.vmsupport import as_pointer\n")


def vm_source(dtype):
    """The module source of the VM for ``dtype`` (function ``kernel``)."""
    dtype = np.dtype(dtype)
    step = _data_bodies() + _fold_bodies() + _elementwise_bodies(dtype)
    tag = hashlib.sha256("\n".join(step).encode()).hexdigest()[:16]
    return "\n".join(_prologue(dtype, tag) + [" " * 16 + x for x in step] + _epilogue())


def _elementwise_bodies(dtype):
    """One branch per opcode: the lowering's source over a block of registers."""
    c, lines = ctor(dtype), []
    for (name, kinds, out), op in table().items():
        args = [f"r{k}[j]" if kind == "f" else f"(r{k}[j] != 0)"
                for k, kind in enumerate(kinds)]
        last = dtype if kinds[-1] == "f" else BOOL
        expr = PRIMITIVES[name].lowering.source(args, last)
        value = f"{c}({expr})" if out == "f" else f"({c}(1) if ({expr}) else {c}(0))"
        lines += [f"elif op == {op}:   # {name} {kinds}->{out}",
                  "    " + "; ".join(["rd = R[d]"] + [f"r{k} = R[{'abe'[k]}]"
                                                     for k in range(len(kinds))]),
                  "    for j in range(bl):", f"        rd[j] = {value}"]
    return lines


def _data_bodies():
    """Loads (per element, broadcast, literal) and stores over a block."""
    view = "carray(as_pointer(ptrs[{}], acc), sizes[{}])[s:s + bl]"
    return [f"if op == {LOADV}:", f"    v = {view.format('a', 'a')}", "    rd = R[d]",
            "    for j in range(bl):", "        rd[j] = v[j]",
            f"elif op == {LOADS}:", "    x = carray(as_pointer(ptrs[a], acc), 1)[0]",
            "    rd = R[d]", "    for j in range(bl):", "        rd[j] = x",
            f"elif op == {CONST}:", "    x = consts[a]", "    rd = R[d]",
            "    for j in range(bl):", "        rd[j] = x",
            f"elif op == {STORE}:", f"    v = {view.format('d', 'd')}", "    r0 = R[a]",
            "    for j in range(bl):", "        v[j] = r0[j]"]


def _fold_bodies():
    lines = []
    for red, code in REDUCE.items():
        lines += [f"elif op == {code}:", "    t = acc[d]", "    r0 = R[a]",
                  "    for j in range(bl):", f"        t = {_FOLD[red]}(t, r0[j])",
                  "    acc[d] = t"]
    return lines


def _prologue(dtype, tag):
    """The function head: arena and registers, then per kernel (a header row ``-1, n,
    count``) its accumulators opened and the loop over blocks."""
    c = ctor(dtype)
    inits = []
    for red, code in REDUCE.items():
        inits += [f"{'if' if not inits else 'elif'} code[q, 0] == {code}:",
                  f"    acc[code[q, 1]] = {c}({_IDENTITY[red]})"]
    return ([_HEADER, f"# opcodes {tag}", "",
             "@njit(error_model='numpy', cache=False)",
             "def kernel(code, consts, addrs, sizes, arena_size, nregs, nacc):",
             f"    arena = np.empty(max(arena_size, 1), {c})",
             "    base = arena.ctypes.data",
             "    ptrs = addrs.copy()",
             "    for k in range(ptrs.shape[0]):",
             "        if ptrs[k] < 0:",
             f"            ptrs[k] = base + (-ptrs[k] - 1) * {dtype.itemsize}",
             f"    R = np.empty((max(nregs, 1), {BLOCK}), {c})",
             f"    acc = np.empty(max(nacc, 1), {c})",
             "    pc = 0",
             "    while pc < code.shape[0]:",
             "        n, first, last = code[pc, 1], pc + 1, pc + 1 + code[pc, 2]",
             "        for q in range(first, last):"] +
            ["            " + x for x in inits] +
            ["        s = 0",
             "        while s < n:",
             f"            bl = min({BLOCK}, n - s)",
             "            for q in range(first, last):",
             "                op, d, a, b, e = code[q, 0], code[q, 1], code[q, 2], "
             "code[q, 3], code[q, 4]"])


def _epilogue():
    """After the blocks: accumulators stored to their buffers; the arena held alive."""
    return [f"            s += {BLOCK}",
            "        for q in range(first, last):",
            f"            if {min(REDUCE.values())} <= code[q, 0] <= "
            f"{max(REDUCE.values())} and code[q, 3] >= 0:",
            "                v = carray(as_pointer(ptrs[code[q, 3]], acc), 1)",
            "                v[0] = acc[code[q, 1]]",
            "        pc = last",
            "    return arena.size    # holds the arena (its memory is read by address)",
            ""]


_FOLD = {"add": "acc_add", "mul": "acc_mul", "max": "max_nan", "min": "min_nan"}
_IDENTITY = {"add": "0", "mul": "1", "max": "-np.inf", "min": "np.inf"}


