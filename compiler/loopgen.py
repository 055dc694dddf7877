"""Native loops: a scan or while_loop region as one ``@njit`` function whose loop calls
the body's fused kernels directly (no Python between iterations or between kernels).

The body is partitioned like any graph (``compiler.fusion``); its kernels are bound in the
loop module's globals as ``_k<j>`` by the runtime. Matrix products become ``np.dot`` and
transposes and reshapes their Numba equivalents; a body with any other call (gather, a
nested region, ...) has no loop source (``None``) and runs from Python instead.

Loop-carried values are rebound from one iteration's outputs to the next's inputs (arrays
are never copied); stacked outputs are allocated once. Values of shape () are scalars.
Emits text only: the runtime compiles it.
"""
import math
import re

from compiler.codegen import constant, ctor, scalar_source
from compiler.fusion import Call

_HEADER = "import numpy as np\nfrom numba import njit\n"


class Unsupported(Exception):
    """The body has a step the loop cannot call from compiled code."""


def _call_line(node, args):
    name = node.prim.name
    if name == "matmul" and node.ndim == 2:
        return f"np.dot({args[0]}, {args[1]})"
    if name == "transpose":
        perm = node.params["perm"]
        return f"{args[0]}.T" if perm == (1, 0) else f"np.transpose({args[0]}, {perm!r})"
    if name == "reshape":
        return f"np.ascontiguousarray({args[0]}).reshape({node.shape!r})"
    raise Unsupported(name)


def _operand(x, names):
    if x.prim.name == "literal" and not x.inputs and id(x) not in names:
        return constant(x.params["value"], x.dtype)
    return names[id(x)]


def body_lines(graph, steps, kernel_args, names, kernels, extents=None):
    """Statements computing ``graph``'s outputs (given ``names`` for its inputs); kernel
    j of ``steps`` is called as ``kernels[j]`` with the nodes ``kernel_args[j]`` and then
    the scalars ``extents[j]``. Returns (lines, output sources)."""
    lines, nk = [], 0
    for i, n in enumerate(graph.nodes):
        if n.prim.name != "literal" and id(n) not in names:
            names[id(n)] = f"t{i}"
    for st in steps:
        if isinstance(st, Call):
            args = [_operand(x, names) for x in st.node.inputs]
            lines.append(f"{names[id(st.node)]} = {_call_line(st.node, args)}")
            continue
        outs = [names[id(m)] for m in st.stored]
        reads = ", ".join([_operand(x, names) for x in kernel_args[nk]] +
                          [_extent(e) for e in (extents[nk] if extents else ())])
        lines.append(f"{', '.join(outs)}, = {kernels[nk]}({reads})")
        nk += 1
    strided = {id(st.node) for st in steps
               if isinstance(st, Call) and st.node.prim.name == "transpose"}
    return lines, [_output(o, names, strided) for o in graph.outputs]


def _extent(v):
    """Source of an extent or literal value passed to a kernel, typed as a call from
    Python types it (int64, bool, float64): a bare ``2`` would be ``Literal[int](2)`` to
    Numba, which compiles the kernel again for that signature (one more compile per
    kernel and per shape, though the loop inlines the kernel with constant extents
    either way)."""
    if isinstance(v, bool):
        return f"np.bool_({v!r})"
    if isinstance(v, int):
        return f"np.int64({v!r})"
    return scalar_source(v)


def _output(o, names, strided):
    if o.prim.name == "literal" and not o.inputs and id(o) not in names:
        return constant(o.params["value"], o.dtype)
    src = names[id(o)]
    if id(o) in strided:            # carries keep one (C) layout from step to step
        return f"np.ascontiguousarray({src})"
    return src


def scan_source(node, body_graph, steps, kernel_args, kernel_extents=None):
    """Source of the function ``kernel(*consts, *carries, *xs) -> (*carries, *ys)`` for a
    scan node (``module`` makes it a module), or None when the body has a step that cannot run inside compiled code."""
    p = node.params
    nc, nk, length, types = p["n_consts"], p["n_carry"], p["length"], p["out_types"]
    nx = len(body_graph.inputs) - nc - nk
    names = {}
    for i, leaf in enumerate(body_graph.inputs):
        names[id(leaf)] = f"a{i}" if i < nc else f"c{i - nc}" if i < nc + nk else \
            f"s{i - nc - nk}"
    try:
        lines, outs = body_lines(body_graph, steps, kernel_args, names,
                                 [f"_k{j}" for j in range(len(kernel_args))], kernel_extents)
    except Unsupported:
        return None
    args = [f"a{i}" for i in range(nc)] + [f"c{j}" for j in range(nk)] + \
        [f"x{k}" for k in range(nx)]
    rng = f"range({length - 1}, -1, -1)" if p["reverse"] else f"range({length})"
    pad = "        "
    src = [f"def kernel({', '.join(args)}):"]
    src += [f"    ys{j} = np.empty({s!r}, {ctor(d)})" for j, (s, d) in enumerate(types[nk:])]
    pre, stores = _stores(types[nk:], outs[nk:], length, pad)
    src += pre + [f"    for t in {rng}:"]
    src += [f"{pad}s{k} = x{k}[t]" for k in range(nx)]
    src += [pad + ln for ln in lines]
    src += stores           # ys first: an output may be a carry's value at the step's start
    if nk:
        src.append(f"{pad}{', '.join(f'c{j}' for j in range(nk))}, = "
                   f"{', '.join(_carry(o, types[j]) for j, o in enumerate(outs[:nk]))},")
    rets = [f"c{j}" for j in range(nk)] + [f"ys{j}" for j in range(len(types) - nk)]
    src.append(f"    return ({', '.join(rets)},)")
    return "\n".join(src + [""])


def _stores(types, outs, length, pad):
    """(lines before the loop, lines in it) storing a step's ys. Rows of arrays go
    through a (length, row size) view of the stacked buffer, element by element:
    ``ys[t] = row`` compiles Numba's broadcasting check, whose shape error message costs
    ~3.5 s of string-formatting compiles in a process's first scan (~1 s per rank after)."""
    pre, lines = [], []
    for j, ((shape, _), o) in enumerate(zip(types, outs)):
        if len(shape) < 2:
            lines.append(f"{pad}ys{j}[t] = {o}")
            continue
        n = math.prod(shape[1:])
        pre.append(f"    yf{j} = ys{j}.reshape(({length}, {n}))")
        lines += [f"{pad}r{j} = np.ascontiguousarray({o}).reshape({n})",
                  f"{pad}for k in range({n}):", f"{pad}    yf{j}[t, k] = r{j}[k]"]
    return pre, lines


def _carry(src, spec):
    # a carry keeps its dtype as a typed scalar or array from iteration to iteration
    return f"{ctor(spec[1])}({src})" if spec[0] == () else src


def while_source(node, cond_graph, cond_steps, cond_args, body_graph, steps, kernel_args,
                 cond_extents=None, kernel_extents=None):
    """Source of ``kernel(*consts, *carries) -> (*carries,)`` for a while_loop node, or
    None when a body has a step that cannot run inside compiled code."""
    p = node.params
    nc, limit, types = p["n_consts"], p["max_iter"], p["out_types"]
    nk = len(types)

    def leaf_names(graph):
        return {id(leaf): (f"a{i}" if i < nc else f"c{i - nc}")
                for i, leaf in enumerate(graph.inputs)}
    try:
        c_lines, (pred,) = body_lines(cond_graph, cond_steps, cond_args, leaf_names(cond_graph),
                                      [f"_q{j}" for j in range(len(cond_args))],
                                      cond_extents)
        lines, outs = body_lines(body_graph, steps, kernel_args, leaf_names(body_graph),
                                 [f"_k{j}" for j in range(len(kernel_args))], kernel_extents)
    except Unsupported:
        return None
    args = [f"a{i}" for i in range(nc)] + [f"c{j}" for j in range(nk)]
    pad = "        "
    test = "True" if limit < 0 else f"i < {limit}"
    src = [f"def kernel({', '.join(args)}):", "    i = 0", f"    while {test}:"]
    src += [pad + ln for ln in _prefixed(c_lines + [f"if not {pred}:"], "q")]
    src += [f"{pad}    break"]
    src += [pad + ln for ln in lines]
    if nk:
        src.append(f"{pad}{', '.join(f'c{j}' for j in range(nk))}, = "
                   f"{', '.join(_carry(o, types[j]) for j, o in enumerate(outs))},")
    src += [f"{pad}i += 1", f"    return ({', '.join(f'c{j}' for j in range(nk))},)"]
    return "\n".join(src + [""])


def _prefixed(lines, prefix):
    """The cond body's temporaries renamed t<i> -> q<i> (the loop body uses t<i>)."""
    return [re.sub(r"\bt(\d+)\b", prefix + r"\1", ln) for ln in lines]


def module(function_source, prelude="", cache=False):
    """A loop module: ``prelude`` (e.g. imports binding the kernels) and the function."""
    return "\n".join([_HEADER + prelude, "", f"@njit(error_model='numpy', cache={cache!r})",
                      function_source])
