"""The driver: straight-line Python that calls a graph's kernels and NumPy calls in order.

Kernels (``K<j>``) are compiled Numba functions and calls (``C<j>``) NumPy implementations,
both bound in the driver's globals by the runtime; this module only writes the text.
The text names no extent and no literal value: kernel j's extents are the globals
``e<j>_<k>`` and literal operands the globals ``L<i>`` (``Driver.values``, with the
constants ``ONE_<dtype>``), so graphs of one structure at other shapes share the
driver's code and differ only in those values.
"""
from dataclasses import dataclass

import numpy as np

from compiler.codegen import constant
from compiler.donation import aliases
from compiler.fusion import Call


# a kernel's 0-d float result (a Python float holding a value of the dtype) becomes a
# NumPy scalar by multiplying with the dtype's one: NEP 50 casts the Python float to the
# dtype (exactly: the value is representable) and x * 1 is x, bit for bit (-0.0, inf, nan)
_ONES = {"float32": np.float32(1), "float64": np.float64(1)}


@dataclass(frozen=True)
class Driver:
    """A driver's source, the values of its extent and literal globals, and the literal
    node each ``L<i>`` holds."""
    source: str
    values: dict
    literals: dict


def literal_value(node):
    """The NumPy scalar a driver passes for a literal node."""
    return np.asarray(eval(constant(node.params["value"], node.dtype), {"np": np}))[()]


def driver_source(graph, steps, kernel_args, kernel_extents=None, kernel_dests=None):
    """A plain-Python function ``run(*inputs)`` calling kernels ``K<j>`` and calls ``C<j>``
    in order and returning the list of outputs, owned arrays (``OWN`` copies those that
    are not fresh), as a ``Driver``. ``kernel_args[j]`` lists the nodes kernel j reads
    (and ``kernel_extents[j]`` the integers passed after them); the driver's globals must
    hold ``np``, ``OWN`` and ``Driver.values``. Temporaries are deleted after their last
    use, so memory is reused while it is still in cache (an unrolled loop would otherwise
    keep every step's arrays alive until the end). ``kernel_dests[j]``: kernel j's
    (stored position, input index) pairs (``compiler.donation``): it receives those
    inputs' arrays after its extents and the driver returns them for those outputs."""
    names = {id(n): f"x{i}" for i, n in enumerate(graph.inputs)}
    made, body, nk, nc = set(), [], 0, 0
    values, lits = {}, {}                     # lits: id(literal node) -> (name, node)
    donated = {}                              # id(output stored in place) -> input name
    for i, n in enumerate(graph.nodes):
        if id(n) not in names:
            names[id(n)] = f"t{i}"
    for st in steps:
        if isinstance(st, Call):
            ins = [_call_operand(x, names, made, lits) for x in st.node.inputs]
            reads = [names[id(x)] for x in st.node.inputs if not _inlined(x, names)]
            body.append((f"{names[id(st.node)]} = C{nc}({', '.join(ins)})", reads,
                         [names[id(st.node)]]))
            nc += 1
            continue
        outs = [names[id(m)] for m in st.stored]
        made.update(id(m) for m in st.stored if m.shape == ())
        reads = [names[id(x)] for x in kernel_args[nk]]
        dest = [f"x{j}" for _, j in kernel_dests[nk]] if kernel_dests else []
        donated.update((id(st.stored[pos]), f"x{j}") for pos, j in
                       (kernel_dests[nk] if kernel_dests else ()))
        ext = [f"e{nk}_{k}" for k in range(len(kernel_extents[nk]))] if kernel_extents else []
        values.update(zip(ext, kernel_extents[nk] if kernel_extents else ()))
        lhs = ", ".join(outs) + ("," if len(outs) == 1 else "") + " = " if outs else ""
        body.append((f"{lhs}K{nk}({', '.join(reads + dest + ext)})", reads, outs))
        nk += 1
    bound = {id(n) for n in graph.inputs}
    fresh = {id(m) for st in steps if not isinstance(st, Call) for m in st.stored}
    given = set().union(*aliases(graph, steps).values()) if graph.donate else ()
    rets = [donated[id(o)] if id(o) in donated else
            f"OWN(np.array({names[id(o)]}), np.{o.dtype.name})" if id(o) in given else
            _output(o, names, made, bound, fresh, lits) for o in graph.outputs]
    keep = {names[id(o)] for o in graph.outputs}
    args = ", ".join(f"x{i}" for i in range(len(graph.inputs)))
    source = "\n".join([f"def run({args}):"] + _with_deletes(body, keep) +
                        [f"    return [{', '.join(rets)}]", ""])
    literals = dict(lits.values())
    values.update((name, literal_value(n)) for name, n in literals.items())
    values.update((f"ONE_{name}", one) for name, one in _ONES.items())
    return Driver(source, values, literals)


def _literal(x, lits):
    """The global holding literal x's value (one per literal node)."""
    if id(x) not in lits:
        lits[id(x)] = (f"L{len(lits)}", x)
    return lits[id(x)][0]


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


def _output(o, names, made, bound, fresh, lits):
    """An output's source: kernel outputs are fresh arrays (returned as they are, once);
    anything else goes through ``OWN`` (a copy when it is a view, an input, another
    output or of another dtype)."""
    if id(o) not in bound and o.prim.name == "literal":
        return _literal(o, lits)
    if id(o) in made:                         # a NumPy scalar of the node's dtype
        if o.dtype.name in _ONES:             # exact, and ~4x cheaper than np.float32(t)
            return f"{names[id(o)]} * ONE_{o.dtype.name}"
        return f"np.{o.dtype.name}({names[id(o)]})"
    if id(o) in fresh:
        fresh.discard(id(o))
        return names[id(o)]
    return f"OWN({names[id(o)]}, np.{o.dtype.name})"


def _inlined(x, names):
    """A literal operand written into the call (it has no variable of its own)."""
    return x.prim.name == "literal" and not x.inputs and names[id(x)].startswith("t")


def _call_operand(x, names, made, lits):
    if _inlined(x, names):
        return _literal(x, lits)
    if id(x) in made:                         # kernels return 0-d values as scalars
        return f"np.asarray({names[id(x)]}, np.{x.dtype.name})"
    return names[id(x)]
