"""Fusion: partition a graph into loop kernels and calls.

A *loop kernel* is one loop nest over an iteration shape. It computes a group of
elementwise nodes as scalar locals (each exactly once per element, so copies of a value
always agree), accumulates reductions of those values (``reduce_sum(x * y)`` is one loop,
no temporary), adds them into a scatter_add's output where their indices say (a
*sink*: the gradient of a gather, ``scatter_add(2 * x[idx], idx)``, is one loop over the
updates) and stores only the values that something outside the group needs.
``broadcast_to``, reshapes that only add or drop size-1 axes, ``pad``, ``gather`` (of
checked indices, ``compiler.pipeline``), and ``slice``, ``rev`` and ``transpose`` read
only by loops are *views*: index arithmetic on the array they read (a pad is a
conditional read, a gather reads its index array), never a loop of their own unless their
value is an output or a call's operand. A slice, rev or transpose that a call or the
caller reads stays a NumPy call (a free strided view, which BLAS takes as it is; the
native tier copies a transpose that many matrix products read, see ``runtime.native``).
Every other node (matmul, ...) is a *call* of its NumPy implementation between kernels.

Scheduling is by stage: a node's stage is the first point at which all its operands
exist. An elementwise node joins the group of a same-shape operand computed in the same
stage; reading a reduction, a call result or a broadcast needs the producer's loop to be
finished, so it starts one stage later. Steps of one stage never depend on each other.

Invariant: a group's key (its generated source) depends only on its own structure and
shapes, so kernels repeated across graphs or unrolled steps are compiled once.
"""
from compiler import ir
from compiler.primitives import PRIMITIVES
from compiler.primitives.core import Reduce

# reductions with a loop pattern, from their declarations: name -> "add" | "mul" | "max" | ...
LOOP_REDUCTIONS = {name: p.lowering.op for name, p in PRIMITIVES.items()
                   if isinstance(p.lowering, Reduce)}


class Kernel:
    """One loop nest: ``members`` (topological) computed over ``shape``; ``stored`` are
    the members whose values leave the kernel (its return values, in order)."""

    def __init__(self, shape, stage, bound, inputs=frozenset()):
        self.shape = shape
        self.stage = stage
        self.bound = bound              # ids of graph inputs and called views: views stop
        self.inputs = inputs            # ids of graph inputs
        self.members = []
        self.stored = []
        self.alias = None               # the kernel this one was merged into

    @property
    def reductions(self):
        return [n for n in self.members if n.prim.name in LOOP_REDUCTIONS]

    @property
    def sinks(self):
        return [n for n in self.members if is_sink(n)]

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
    """A primitive declared with a ``View`` lowering that applies to this node: aliases
    (broadcast_to, unit-axis reshapes) and index views that move elements (partition keeps
    some of those as calls by putting them in ``bound``)."""
    v = node.prim.view
    return v is not None and (v.applies is None or v.applies(node))


def view_operands(node):
    """The inputs a view reads whole besides the one it maps (a gather's indices)."""
    v = node.prim.view
    return node.inputs[1:] if v is not None and v.operands else ()


def moves(node):
    """An index view that moves elements (slice, pad, rev, transpose)."""
    return node.prim.view is not None and node.prim.view.moves


def is_loop(node):
    """Computed inside loop kernels (elementwise, a reduction with a loop pattern, or a
    scatter_add sink)."""
    return node.prim.kind == "elementwise" or node.prim.name in LOOP_REDUCTIONS or \
        is_sink(node)


# dtypes a loop adds in place as scatter_add does (np.add.at's sums)
_SINK_DTYPES = frozenset(("float32", "float64", "int32", "int64"))


def is_sink(node):
    """A scatter_add computed in the loop over its updates, each added where its
    (checked, non-negative) index says, in order: its producers fuse into that loop
    and the updates are never stored (the native lowering checks the indices,
    ``compiler.pipeline``)."""
    return node.prim.name == "scatter_add" and node.dtype.name in _SINK_DTYPES and \
        node.inputs[1].prim.name == "checked_index"


def iteration_shape(node):
    """The shape of the loop computing a loop node: a reduction's or a sink's input's."""
    if node.prim.name in LOOP_REDUCTIONS or is_sink(node):
        return node.inputs[0].shape
    return node.shape


def view_chain(node, bound=frozenset()):
    """The views from ``node`` down to (not including) the node they read."""
    while is_view(node) and id(node) not in bound:
        yield node
        node = node.inputs[0]


def inlinable(node, inputs, limit=8):
    """node is an elementwise expression of at most ``limit`` ops over graph inputs and
    literals (through views): cheap enough to recompute wherever an index view reads it,
    so an index view of it needs no stored array (``x[1:] * v[1:]`` reads x and v)."""
    if node.prim.kind != "elementwise" or id(node) in inputs:
        return False
    ops, stack = 0, [node]
    while stack:
        n = stack.pop()
        if id(n) in inputs or n.prim.kind == "leaf":
            continue
        ops += n.prim.kind == "elementwise"
        if ops > limit or not (n.prim.kind == "elementwise" or is_view(n)) or \
                any(id(y) not in inputs for y in view_operands(n)):
            return False
        stack.extend(n.inputs[:1] if is_view(n) else n.inputs)
    return True


def inline_read(x, bound, inputs):
    """x is read through views that move elements from an expression it recomputes."""
    chain = list(view_chain(x, bound))
    return (any(moves(v) for v in chain) and
            inlinable(chain[-1].inputs[0], inputs))


def view_root(node, bound=frozenset()):
    """The node a chain of views reads from (a graph input ends the chain)."""
    while is_view(node) and id(node) not in bound:
        node = node.inputs[0]
    return node


def called_views(graph):
    """ids of the slices, revs and transposes that stay NumPy calls (free strided views;
    BLAS reads transposes as they are): all but those that only loops read and that
    read an expression the loop recomputes. Kernels reading a view of a stored array then
    do not depend on its offsets, so the steps of an unrolled loop share them."""
    inputs = {id(n) for n in graph.inputs}
    readers = {}
    for n in graph.nodes:
        for x in n.inputs:
            readers.setdefault(id(x), []).append(n)
    outputs, called = {id(o) for o in graph.outputs}, set()
    for n in reversed(graph.nodes):
        if id(n) in inputs or n.prim.view is None or not n.prim.view.strided:
            continue
        chain = list(view_chain(n, inputs))
        if id(n) in outputs or not inlinable(chain[-1].inputs[0], inputs) or any(
                not is_loop(r) and not (is_view(r) and id(r) not in called)
                for r in readers.get(id(n), ())):
            called.add(id(n))
    return called


def partition(graph):
    """Steps (Kernels and Calls) in an order that respects every dependency."""
    return _Partition(graph).steps


class _Partition:
    """Kernels are connected groups: a loop node joins the kernels (same stage and
    shape) of the operands it reads locally and of the graph inputs it reads, merging
    them; unrelated work of one stage (the steps of an unrolled loop) stays in separate,
    identical kernels that compile once."""

    def __init__(self, graph):
        self.inputs = frozenset(id(n) for n in graph.inputs)
        called = called_views(graph)
        self.bound = self.inputs | called                    # views stop at these
        self.stage, self.group_of, self.anchors, calls = {}, {}, {}, []
        for n in graph.nodes:
            if id(n) in self.inputs or n.prim.kind == "leaf" or self.view(n):
                continue
            if is_loop(n):
                shape = iteration_shape(n)
                self.join(n, max((self.dep(x, shape) for x in n.inputs), default=0), shape)
                continue
            for x in n.inputs:                 # views a call reads become stored arrays
                if self.view(x) and id(x) not in self.group_of:
                    self.join(x, self.dep(x, None), x.shape)
            # a called view costs nothing: readers may run as soon as its input exists
            early = id(n) in called
            self.stage[id(n)] = max((self.dep(x, "call") for x in n.inputs), default=0) - early
            calls.append(Call(n, self.stage[id(n)]))
        for o in graph.outputs:
            if self.view(o) and id(o) not in self.group_of:
                self.join(o, self.dep(o, None), o.shape)
        self.steps = self._order(graph, calls)

    def view(self, x):
        return is_view(x) and id(x) not in self.bound

    def dep(self, x, shape):
        """The stage from which x can be read by a loop over ``shape`` (local if the
        same stage), or by a call (``shape == "call"``)."""
        if id(x) in self.inputs or x.prim.kind == "leaf":
            return 0
        if id(x) in self.group_of and self.view(x) and shape == "call":
            return self.stage[id(x)] + 1
        if self.view(x):
            # the arrays the views read whole (a gather's indices) must exist too
            ops = max((self.dep(y, "call") for v in view_chain(x, self.bound)
                       for y in view_operands(v)), default=0)
            if inline_read(x, self.bound, self.inputs):
                return ops
            return max(ops, self.dep(view_root(x, self.bound), None))
        if is_loop(x) and x.prim.name not in LOOP_REDUCTIONS and not is_sink(x) and \
                x.shape == shape:
            return self.stage[id(x)]
        return self.stage[id(x)] + 1

    def join(self, n, s, shape):
        found = []
        for key in self._anchor_keys(n, s, shape):
            k = _find(self.anchors.get(key))
            if k is not None and all(k is not f for f in found):
                found.append(k)
        k = found[0] if found else Kernel(shape, s, self.bound, self.inputs)
        for other in found[1:]:                # n connects them: one loop nest
            k.members += other.members
            other.alias = k
        self.stage[id(n)] = s
        k.members.append(n)
        self.group_of[id(n)] = k
        for key in self._anchor_keys(n, s, shape) + [("node", id(n))]:
            self.anchors[key] = k

    def _anchor_keys(self, n, s, shape):
        keys = []
        for x in (n.inputs[:1] if self.view(n) else n.inputs):
            k = _find(self.group_of.get(id(x)))
            if k is not None and k.stage == s and k.shape == shape and not self.view(x):
                keys.append(("node", id(x)))
                continue
            if self.view(x) and not inline_read(x, self.bound, self.inputs):
                x = view_root(x, self.bound)
            if id(x) in self.inputs and x.shape != ():
                keys.append(("input", s, shape, id(x)))
        return keys

    def _order(self, graph, calls):
        order = {id(n): i for i, n in enumerate(graph.nodes)}
        self.group_of = {i: _find(k) for i, k in self.group_of.items()}
        kernels = {id(k): k for k in self.group_of.values()}.values()
        for k in kernels:
            k.members.sort(key=lambda m: order[id(m)])
        kernels = [c for k in kernels for c in _split(k, self.group_of)]
        _mark_stored(graph, self.group_of, self.bound)
        steps = [k for k in kernels if k.stored] + calls      # unread kernels are dead
        steps.sort(key=lambda st: (st.stage, _first_index(st, order)))
        return steps


# Numba's compile time grows faster than linearly with a function's size (a 600-op loop
# body took 30 s, 6,000 ops 7 minutes): longer kernels are cut into consecutive pieces,
# which in the long chains where this happens are mostly identical and compile once.
MAX_KERNEL_OPS = 48


def _split(k, group_of, limit=MAX_KERNEL_OPS):
    """``k`` as kernels of at most ``limit`` members (in order; later pieces read what
    earlier ones store)."""
    if len(k.members) <= limit:
        return [k]
    pieces = []
    for start in range(0, len(k.members), limit):
        piece = Kernel(k.shape, k.stage, k.bound, k.inputs)
        piece.members = k.members[start:start + limit]
        for m in piece.members:
            group_of[id(m)] = piece
        pieces.append(piece)
    return pieces


def _find(k):
    while k is not None and k.alias is not None:
        k = k.alias
    return k


def _first_index(step, order):
    return order[id(step.node)] if isinstance(step, Call) else order[id(step.members[0])]


def _mark_stored(graph, group_of, bound):
    outside = {id(o) for o in graph.outputs}
    inputs = {id(n) for n in graph.inputs}
    readers = [n for n in graph.nodes if id(n) in group_of or (
        n.inputs and id(n) not in inputs and (id(n) in bound or not is_view(n)))]
    for n in readers:
        k = group_of.get(id(n))
        loop_reader = k is not None
        srcs = [n.inputs[0]] if (loop_reader and is_view(n)) else n.inputs
        if loop_reader:                        # arrays views read whole (gather indices)
            for h in [n] + list(n.inputs):
                for y in (y for v in view_chain(h, bound) for y in view_operands(v)):
                    if id(y) in group_of and group_of[id(y)] is not k:
                        outside.add(id(y))
        for x in srcs:
            if loop_reader and is_view(x) and id(x) not in bound:
                if inline_read(x, bound, inputs):
                    continue                   # recomputed from inputs where read
                x = view_root(x, bound)        # loops read views by index arithmetic
            if id(x) in group_of and group_of[id(x)] is not k:
                outside.add(id(x))
    for k in {id(k): k for k in group_of.values()}.values():
        k.stored = [m for m in k.members
                    if id(m) in outside or m.prim.name in LOOP_REDUCTIONS or is_sink(m)]


def rematerialize(graph, max_ops=24):
    """The same function with cheap elementwise *input* values recomputed from the inputs
    they derive from (eager tapes pass forward values such as sin(x) as inputs): loops are
    memory-bound, so recomputing from x beats reading sin(x). Reductions, calls and
    anything costlier than ``max_ops`` stay inputs, so values whose copies must agree (a
    softmax max) are never recomputed. Only primitives whose compiled code reproduces
    NumPy bit for bit (``exact``) are recomputed: a tie mask ``x == reduce_min(x)`` with a
    recomputed x that is one ulp off the x the minimum saw would match nothing."""
    bound = {id(n) for n in graph.inputs}
    cheap = lambda m: (m.prim.kind == "elementwise" and m.prim.exact) or is_view(m) or \
        m.prim.name == "literal"
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
    return ir.Graph(graph.inputs, outs, donate=graph.donate)


__all__ = ["Call", "Kernel", "LOOP_REDUCTIONS", "called_views", "inline_read",
           "inlinable", "is_loop", "is_sink", "is_view", "iteration_shape", "moves",
           "partition", "rematerialize",
           "view_chain", "view_operands", "view_root"]
