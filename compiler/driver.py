"""The driver: straight-line Python that calls a graph's kernels and NumPy calls in order.

Kernels (``K<j>``) are compiled Numba functions and calls (``C<j>``) NumPy implementations,
both bound in the driver's globals by the runtime; this module only writes the text.
"""
from compiler.codegen import constant, scalar_source
from compiler.fusion import Call


def driver_source(graph, steps, kernel_args, kernel_extents=None):
    """A plain-Python function ``run(*inputs)`` calling kernels ``K<j>`` and calls ``C<j>``
    in order and returning the list of outputs, owned arrays (``OWN`` copies those that
    are not fresh). ``kernel_args[j]`` lists the nodes kernel j reads (and
    ``kernel_extents[j]`` the integers passed after them); the driver's globals must hold
    ``np`` and ``OWN``. Temporaries are deleted after their last use, so memory is reused
    while it is still in cache (an unrolled loop would otherwise keep every step's arrays
    alive until the end)."""
    names = {id(n): f"x{i}" for i, n in enumerate(graph.inputs)}
    made, body, nk, nc = set(), [], 0, 0
    for i, n in enumerate(graph.nodes):
        if id(n) not in names:
            names[id(n)] = f"t{i}"
    for st in steps:
        if isinstance(st, Call):
            ins = [_call_operand(x, names, made) for x in st.node.inputs]
            reads = [names[id(x)] for x in st.node.inputs if not _inlined(x, names)]
            body.append((f"{names[id(st.node)]} = C{nc}({', '.join(ins)})", reads,
                         [names[id(st.node)]]))
            nc += 1
            continue
        outs = [names[id(m)] for m in st.stored]
        made.update(id(m) for m in st.stored if m.shape == ())
        reads = [names[id(x)] for x in kernel_args[nk]]
        ext = [scalar_source(e) for e in kernel_extents[nk]] if kernel_extents else []
        lhs = ", ".join(outs) + ("," if len(outs) == 1 else "")
        body.append((f"{lhs} = K{nk}({', '.join(reads + ext)})", reads, outs))
        nk += 1
    bound = {id(n) for n in graph.inputs}
    fresh = {id(m) for st in steps if not isinstance(st, Call) for m in st.stored}
    rets = [_output(o, names, made, bound, fresh) for o in graph.outputs]
    keep = {names[id(o)] for o in graph.outputs}
    args = ", ".join(f"x{i}" for i in range(len(graph.inputs)))
    return "\n".join([f"def run({args}):"] + _with_deletes(body, keep) +
                     [f"    return [{', '.join(rets)}]", ""])


def _with_deletes(body, keep):
    """Driver lines with ``del`` of each temporary after the step that last reads it."""
    last = {}
    for j, (_, reads, writes) in enumerate(body):
        for name in writes + reads:
            last[name] = j
    lines = []
    for j, (line, reads, writes) in enumerate(body):
        lines.append("    " + line)
        dead = sorted({nm for nm in reads + writes
                       if last[nm] == j and nm.startswith("t") and nm not in keep})
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    return lines


def _output(o, names, made, bound, fresh):
    """An output's source: kernel outputs are fresh arrays (returned as they are, once);
    anything else goes through ``OWN`` (a copy when it is a view, an input, another
    output or of another dtype)."""
    if id(o) not in bound and o.prim.name == "literal":
        return f"np.asarray({constant(o.params['value'], o.dtype)})[()]"
    if id(o) in made:                         # a NumPy scalar of the node's dtype
        return f"np.{o.dtype.name}({names[id(o)]})"
    if id(o) in fresh:
        fresh.discard(id(o))
        return names[id(o)]
    return f"OWN({names[id(o)]}, np.{o.dtype.name})"


def _inlined(x, names):
    """A literal operand written into the call (it has no variable of its own)."""
    return x.prim.name == "literal" and not x.inputs and names[id(x)].startswith("t")


def _call_operand(x, names, made):
    if _inlined(x, names):
        return f"np.asarray({constant(x.params['value'], x.dtype)})[()]"
    if id(x) in made:                         # kernels return 0-d values as scalars
        return f"np.asarray({names[id(x)]}, np.{x.dtype.name})"
    return names[id(x)]
