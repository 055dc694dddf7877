"""Regions: sub-graphs held by control-flow nodes (cond, scan, while_loop).

Invariants:
- A region node's attrs hold its bodies as ``Body`` objects: a ``Graph`` whose inputs are
  fresh leaves (what the body reads: captured values, carries, per-step slices) and whose
  outputs are what it returns. A body never refers to a node of the enclosing graph; what
  it captures is an explicit operand of the region node.
- ``Body`` compares and hashes by the graph's structural key, so a region node's
  signature (and every enclosing key) covers its bodies.
- A region node returns several values: its own shape is ``()`` and its dtype ``TUPLE``;
  ``out_types`` (in attrs) gives each output's shape and dtype, and ``P.tuple_get`` nodes
  read them. Autodiff gives region gradient rules one cotangent per output (None: zero).
- Walks over a body's nodes are iterative; passes recurse into nested bodies only as deep
  as regions nest (a handful of levels), never per node.
"""
import numpy as np

from compiler.ir import Graph, Node, toposort

TUPLE = np.dtype("V1")          # the dtype of a node whose value is a tuple of arrays


class Body:
    """A sub-graph in a region node's attrs (equal and hashed by structure)."""
    __slots__ = ("graph", "_hash", "plan")

    def __init__(self, graph):
        self.graph = graph
        self._hash = None
        self.plan = None            # cached evaluation steps (see ``run``)

    @property
    def inputs(self):
        return self.graph.inputs

    @property
    def outputs(self):
        return self.graph.outputs

    def __eq__(self, other):
        return isinstance(other, Body) and (self is other or self.graph.key == other.graph.key)

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self.graph.key)
        return self._hash

    def __repr__(self):
        g = self.graph
        return f"<body {len(g.inputs)} in -> {len(g.outputs)} out, {len(g.nodes)} nodes>"


def out_types(nodes):
    """The ``out_types`` attr for a region returning ``nodes``' shapes and dtypes."""
    return tuple((tuple(n.shape), n.dtype.str) for n in nodes)


def is_region(node):
    return node.dtype == TUPLE


def leaves_like(nodes):
    """Fresh input leaves with the shapes and dtypes of ``nodes``."""
    from compiler import primitives as P
    return [P.input(shape=tuple(n.shape), dtype=n.dtype) for n in nodes]


def instantiate(graph, inputs):
    """The outputs of ``graph`` rebuilt on ``inputs`` (nodes standing for its inputs)."""
    new = {id(a): b for a, b in zip(graph.inputs, inputs)}
    for n in graph.nodes:
        if id(n) in new:
            continue
        ins = [new.get(id(x), x) for x in n.inputs]
        new[id(n)] = n if all(a is b for a, b in zip(ins, n.inputs)) else n.rebuild(ins)
    return [new[id(o)] for o in graph.outputs]


def constant_ids(order, bound):
    """ids of nodes computed from literals only (kept inside bodies: they cost nothing
    and keep their values in the structural key)."""
    const = set()
    for n in order:
        if id(n) in bound:
            continue
        if (not n.inputs and n.prim.name == "literal") or \
                (n.inputs and all(id(x) in const for x in n.inputs)):
            const.add(id(n))
    return const


def close(inputs, outputs, start=0, hoist=True):
    """A body over ``inputs`` computing ``outputs``, and the outer nodes it captures.

    Nodes created before serial ``start`` (and input leaves) belong to the enclosing graph:
    the body reads them as extra input leaves, listed first. With ``hoist``, work the body
    built that does not depend on ``inputs`` (loop-invariant code) is computed outside too
    and read the same way; without it (branches: only the chosen one runs) it stays inside.
    Returns ``(captured outer nodes, Graph)``; the graph's inputs are the capture leaves
    followed by ``inputs``."""
    bound = {id(n) for n in inputs}

    def outer(n):
        return id(n) not in bound and (n.serial < start or n.prim.name == "input")
    order = toposort(outputs, stop=lambda n: id(n) in bound or outer(n))
    const = constant_ids([n for n in order if not outer(n)], bound)
    inside = set(bound)
    for n in order:
        if id(n) in bound or outer(n) or id(n) in const:
            continue
        if not hoist or any(id(x) in inside for x in n.inputs):
            inside.add(id(n))
    captured, leaf_of = [], {}

    def capture(x):
        if id(x) not in inside and id(x) not in const and id(x) not in leaf_of:
            leaf_of[id(x)] = leaves_like([x])[0]
            captured.append(x)
    for n in order:
        if id(n) in inside and id(n) not in bound:
            for x in n.inputs:
                capture(x)
    for o in outputs:
        capture(o)
    new = dict(leaf_of)
    for n in order:
        if id(n) in inside and id(n) not in bound:
            ins = [new.get(id(x), x) for x in n.inputs]
            new[id(n)] = n.rebuild(ins) if any(a is not b for a, b in zip(ins, n.inputs)) \
                else n
    outs = [new.get(id(o), o) for o in outputs]
    return captured, Graph([leaf_of[id(c)] for c in captured] + list(inputs), outs)


# -- the reference evaluator (NumPy impls; used by region impls) ------------------------------

def _plan(graph):
    """(initial environment with the literals' values, input slots, steps, output slots):
    literals are evaluated once, not at every step of a loop."""
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    slots = [index.get(id(n)) for n in graph.inputs]
    bound = {s for s in slots if s is not None}
    env, steps = [None] * len(graph.nodes), []
    for i, n in enumerate(graph.nodes):
        if i in bound:
            continue
        if n.prim.name == "literal":
            env[i] = n.prim.impl(**n.params)
        else:
            steps.append((i, n.prim.impl, tuple(index[id(x)] for x in n.inputs), n.params))
    return env, slots, steps, [index[id(o)] for o in graph.outputs]


def run(body, args):
    """Evaluate a body on NumPy values with each primitive's reference ``impl``."""
    if body.plan is None:
        body.plan = _plan(body.graph)
    init, slots, steps, outs = body.plan
    env = list(init)
    for s, v in zip(slots, args):
        if s is not None:
            env[s] = v
    for i, impl, ins, params in steps:
        env[i] = impl(*[env[j] for j in ins], **params)
    return [env[i] for i in outs]


def typed(value, spec):
    """A body output as an array of its declared (shape, dtype)."""
    a = np.asarray(value)
    return a if a.dtype.str == spec[1] else a.astype(spec[1])


def region_node(prim, inputs, attrs, shape=(), dtype=TUPLE):
    """Build a region node directly (its rule already checked the bodies)."""
    from compiler.ir import freeze_attrs
    return Node(prim, tuple(inputs), freeze_attrs(attrs), shape, dtype)
