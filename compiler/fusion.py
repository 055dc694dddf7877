"""Fusion: partition a graph into loop kernels and calls.

A *loop kernel* is one loop nest over an iteration shape. It computes a group of
elementwise nodes as scalar locals (each exactly once per element, so copies of a value
always agree), accumulates reductions of those values (``reduce_sum(x * y)`` is one loop,
no temporary) and stores only the values that something outside the group needs.
``broadcast_to`` and reshapes that only add or drop size-1 axes are *views*: index
arithmetic on the array they read, never a loop of their own unless their value is an
output. Every other node (matmul, gather, transpose, ...) is a *call* of its NumPy
implementation between kernels; matmul is a BLAS call either way.

Scheduling is by stage: a node's stage is the first point at which all its operands
exist. An elementwise node joins the group of a same-shape operand computed in the same
stage; reading a reduction, a call result or a broadcast needs the producer's loop to be
finished, so it starts one stage later. Steps of one stage never depend on each other.

Invariant: a group's key (its generated source) depends only on its own structure and
shapes, so kernels repeated across graphs or unrolled steps are compiled once.
"""
from compiler import ir

LOOP_REDUCTIONS = {"reduce_sum": "add", "reduce_prod": "mul", "reduce_max": "max",
                   "reduce_min": "min"}


class Kernel:
    """One loop nest: ``members`` (topological) computed over ``shape``; ``stored`` are
    the members whose values leave the kernel (its return values, in order)."""

    def __init__(self, shape, stage, bound):
        self.shape = shape
        self.stage = stage
        self.bound = bound              # ids of graph inputs: views stop there
        self.members = []
        self.stored = []

    @property
    def reductions(self):
        return [n for n in self.members if n.prim.name in LOOP_REDUCTIONS]

    def __repr__(self):
        names = ", ".join(n.prim.name for n in self.members)
        return f"Kernel(shape={self.shape}, stage={self.stage}, [{names}])"


class Call:
    """A node run through its NumPy implementation."""

    def __init__(self, node, stage):
        self.node = node
        self.stage = stage

    def __repr__(self):
        return f"Call({self.node.prim.name}, stage={self.stage})"


def is_view(node):
    """broadcast_to, and reshapes that only insert or remove size-1 axes."""
    if node.prim.name == "broadcast_to":
        return True
    if node.prim.name == "reshape":
        x = node.inputs[0]
        return [d for d in x.shape if d != 1] == [d for d in node.shape if d != 1]
    return False


def is_loop(node):
    """Computed inside loop kernels (elementwise, or a reduction with a loop pattern)."""
    return node.prim.kind == "elementwise" or node.prim.name in LOOP_REDUCTIONS


def view_root(node, bound=frozenset()):
    """The node a chain of views reads from (a graph input ends the chain)."""
    while is_view(node) and id(node) not in bound:
        node = node.inputs[0]
    return node


def partition(graph):
    """Steps (Kernels and Calls) in an order that respects every dependency."""
    bound = frozenset(id(n) for n in graph.inputs)
    stage, groups, group_of, calls = {}, {}, {}, []

    def dep(x, shape):
        # the stage from which x can be read by a loop over ``shape`` (local if same group)
        if id(x) in bound or x.prim.kind == "leaf":
            return 0
        if id(x) in group_of and is_view(x) and shape == "call":
            return stage[id(x)] + 1
        if is_view(x):
            return dep(view_root(x, bound), None)
        if is_loop(x) and x.prim.name not in LOOP_REDUCTIONS and x.shape == shape:
            return stage[id(x)]
        return stage[id(x)] + 1

    def join(n, s, shape):
        stage[id(n)] = s
        k = groups.get((s, shape))
        if k is None:
            k = groups[(s, shape)] = Kernel(shape, s, bound)
        k.members.append(n)
        group_of[id(n)] = k

    for n in graph.nodes:
        if id(n) in bound or n.prim.kind == "leaf" or is_view(n):
            continue
        if is_loop(n):
            shape = n.inputs[0].shape if n.prim.name in LOOP_REDUCTIONS else n.shape
            join(n, max((dep(x, shape) for x in n.inputs), default=0), shape)
            continue
        for x in n.inputs:                     # views a call reads become stored arrays
            if is_view(x) and id(x) not in bound and id(x) not in group_of:
                join(x, dep(x, None), x.shape)
        stage[id(n)] = max((dep(x, "call") for x in n.inputs), default=0)
        calls.append(Call(n, stage[id(n)]))
    for o in graph.outputs:
        if is_view(o) and id(o) not in bound and id(o) not in group_of:
            join(o, dep(o, None), o.shape)
    _mark_stored(graph, group_of)
    steps = list({id(k): k for k in groups.values()}.values()) + calls
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    steps.sort(key=lambda st: (st.stage, _first_index(st, order)))
    return steps


def _first_index(step, order):
    return order[id(step.node)] if isinstance(step, Call) else order[id(step.members[0])]


def _mark_stored(graph, group_of):
    outside = {id(o) for o in graph.outputs}
    bound = {id(n) for n in graph.inputs}
    readers = [n for n in graph.nodes if id(n) in group_of or
               (n.inputs and not is_view(n) and id(n) not in bound)]
    for n in readers:
        k = group_of.get(id(n))
        loop_reader = k is not None
        srcs = [n.inputs[0]] if (loop_reader and is_view(n)) else n.inputs
        for x in srcs:
            if loop_reader and is_view(x) and id(x) not in bound:
                x = view_root(x, bound)        # loops read views by index arithmetic
            if id(x) in group_of and group_of[id(x)] is not k:
                outside.add(id(x))
    for k in {id(k): k for k in group_of.values()}.values():
        k.stored = [m for m in k.members
                    if id(m) in outside or m.prim.name in LOOP_REDUCTIONS]


def rematerialize(graph, max_ops=24):
    """The same function with cheap elementwise *input* values recomputed from the inputs
    they derive from (eager tapes pass forward values such as sin(x) as inputs): loops are
    memory-bound, so recomputing from x beats reading sin(x). Reductions, calls and
    anything costlier than ``max_ops`` stay inputs, so values whose copies must agree (a
    softmax max) are never recomputed."""
    bound = {id(n) for n in graph.inputs}
    cheap = lambda m: m.prim.kind == "elementwise" or is_view(m) or m.prim.name == "literal"
    res, cost = {}, {}
    for m in ir.toposort(graph.inputs, stop=lambda m: not cheap(m)):
        ins = [res.get(id(x)) for x in m.inputs]
        if cheap(m) and all(x is not None for x in ins):
            c = (m.prim.kind == "elementwise") + sum(cost[id(x)] for x in m.inputs)
            if c <= max_ops:
                changed = any(a is not b for a, b in zip(ins, m.inputs)) or id(m) in bound
                res[id(m)] = ir.Node(m.prim, tuple(ins), m.attrs, m.shape, m.dtype) \
                    if changed and m.inputs else m
                cost[id(m)] = c
                continue
        if id(m) in bound:
            res[id(m)], cost[id(m)] = m, 0
    if not any(res.get(id(n)) not in (None, n) for n in graph.inputs):
        return graph
    new = {}
    for n in graph.nodes:
        if id(n) in bound:
            new[id(n)] = res.get(id(n)) or n
        else:
            ins = tuple(new.get(id(x), x) for x in n.inputs)
            same = all(a is b for a, b in zip(ins, n.inputs))
            new[id(n)] = n if same else ir.Node(n.prim, ins, n.attrs, n.shape, n.dtype)
    outs = [o if id(o) in bound else new[id(o)] for o in graph.outputs]
    return ir.Graph(graph.inputs, outs)


def describe(steps):
    """One line per step (for compile logs and tests)."""
    return "; ".join(repr(s) for s in steps)


__all__ = ["Call", "Kernel", "LOOP_REDUCTIONS", "describe", "is_loop", "is_view",
           "partition", "rematerialize", "view_root", "ir"]
