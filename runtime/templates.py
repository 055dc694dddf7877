"""Shape templates: a graph's lowering reused for the same structure at other shapes.

Lowering (``compiler.pipeline.lower``: partition, kernel sources, driver) looks at
shapes only through equalities between extents and sizes, comparisons with 0 and 1, the
parallel threshold and ``codegen.NEAR_MIN_SIZE``; kernel sources and the driver text
name no extent (they are parameters and driver globals). So a graph ``g2`` whose
structure (primitives, wiring, ranks, dtypes) equals that of an already lowered ``g1``
and whose extents and sizes correspond one to one (``_Match``: a bijection that fixes 0
and 1 and keeps each value on the same side of both thresholds, the second only where
sin or cos runs) lowers to the same kernels and driver; only the extent and literal
values differ. ``instantiate`` then binds those values (mapped through the
correspondence) instead of lowering again.

What the correspondence cannot see is excluded, so those graphs are lowered afresh:
attributes must be equal (a ``shape`` attribute equal to the node's shape, a slice's
``stops`` and a literal's value excepted), views whose index arithmetic reads extents
(rev, pad, ... : all but broadcast_to, reshape, slice, transpose and gather) must have equal
shapes, a literal read by ``pow`` (written into the kernel source) must be equal, and
literal values passed to kernels must map as a function.
"""
import threading
from collections import OrderedDict

from compiler import fusion, pipeline
from compiler.codegen import NEAR_MIN_SIZE
from compiler.driver import literal_value
from compiler.primitives.elementwise import NEAR

# views whose index code reads attributes only (never an extent's value; a gather's
# reads its index array, whose checked_index call takes its size from its own node)
_SAFE_VIEWS = frozenset({"broadcast_to", "reshape", "slice", "transpose", "gather"})
_MAX_STRUCTURES = 256
_PER_STRUCTURE = 4

_templates = OrderedDict()          # (structure key, parallel threshold) -> [Template]
_lock = threading.Lock()


def _scalar_key(v):
    return (type(v).__name__, v.hex() if isinstance(v, float) else v)


class _Match:
    """The correspondence of ``g1``'s extents, sizes and literal values to ``g2``'s;
    ``ok`` is False where the lowerings could differ."""

    def __init__(self, g1, g2, threshold, near=True):
        self.ints, self.back, self.lits = {}, {}, {}
        self.limit = max(threshold, 2)
        self.near = near                  # g1 has sin/cos: NEAR_MIN_SIZE splits too
        self.changed = set()                      # ids of g2's literals of another value
        self.shapes = set()                       # (shape in g1, shape in g2) matched
        self.ok = len(g1.nodes) == len(g2.nodes) and self._walk(g1.nodes, g2.nodes)

    def _int(self, a, b):
        got = self.ints.get(a)
        if got is not None:
            return got == b
        if self.back.get(b, a) != a or (a < 2 or b < 2) and a != b or \
                (a >= self.limit) != (b >= self.limit) or \
                self.near and (a >= NEAR_MIN_SIZE) != (b >= NEAR_MIN_SIZE):
            return False
        self.ints[a], self.back[b] = b, a
        return True

    def _shape(self, n1, n2):
        s1, s2 = n1.shape, n2.shape
        if (s1, s2) in self.shapes:
            return True
        ok = len(s1) == len(s2) and all(self._int(a, b) for a, b in zip(s1, s2)) and \
            self._int(_size(s1), _size(s2))
        if ok:
            self.shapes.add((s1, s2))
        return ok

    def _walk(self, nodes1, nodes2):
        for n1, n2 in zip(nodes1, nodes2):
            if n1.prim is not n2.prim or n1.dtype != n2.dtype or not self._shape(n1, n2):
                return False
            if n1.prim.name == "literal" and not self._literal(n1, n2):
                return False
            if n1.sig[1] != n2.sig[1] and not self._attrs(n1, n2):   # attrs, floats by bits
                return False
            view = n1.prim.view
            if view is not None and n1.prim.name not in _SAFE_VIEWS and (
                    n1.shape != n2.shape or
                    any(x.shape != y.shape for x, y in zip(n1.inputs, n2.inputs))):
                return False
            if n1.prim.name == "pow" and any(id(_root(x)) in self.changed for x in n2.inputs):
                return False
        return True

    def _attrs(self, n1, n2):
        p1, p2 = dict(n1.sig[1]), dict(n2.sig[1])
        if p1.keys() != p2.keys():
            return False
        for k, v in p1.items():
            w = p2[k]
            if v == w and type(v) is type(w):
                continue
            if k == "shape" and v == n1.shape and w == n2.shape:
                continue
            if k == "stops" and n1.prim.name == "slice":
                continue                          # slice code reads starts and steps only
            if k == "value" and n1.prim.name == "literal":
                continue                          # mapped by _literal
            return False
        return True

    def _literal(self, n1, n2):
        """Every literal of g1 maps to g2's: kernels take one parameter per distinct
        value (as ``codegen`` passes it), so equal values must stay equal."""
        a, b = _python_scalar(n1), _python_scalar(n2)
        key, new = _scalar_key(a), _scalar_key(b)
        got = self.lits.setdefault(key, b)
        if _scalar_key(got) != new:
            return False
        if key != new:
            self.changed.add(id(n2))
        return True

    def literal(self, v):
        """g2's value for g1's literal value ``v`` (None: no literal has it)."""
        return self.lits.get(_scalar_key(v))


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _python_scalar(node):
    """A literal's value as kernels receive it (``codegen`` passes Python scalars)."""
    v, kind = node.params["value"], node.dtype.kind
    return bool(v) if kind == "b" else float(v) if kind == "f" else int(v)


def _root(x):
    while fusion.is_view(x):
        x = x.inputs[0]
    return x


class Template:
    """A lowered graph kept for instantiating its structure at other shapes."""

    def __init__(self, graph, lowered, threshold):
        self.graph = graph                        # the optimised graph that was lowered
        # sin/cos kernels take their near-argument loops from NEAR_MIN_SIZE elements on
        # (codegen): only then does that bound split the shapes a lowering serves
        self.near = any(n.prim.name in NEAR for n in graph.nodes)
        self.lowered = lowered
        self.threshold = threshold
        index = {id(n): i for i, n in enumerate(lowered.graph.nodes)}
        self.call_index = [index[id(st.node)] for st in lowered.calls]
        self.literal_index = {name: index[id(n)]
                              for name, n in lowered.driver_literals.items()}
        self.extents = [(j, list(zip(ks.extent_names, ks.extents)))
                        for j, ks in enumerate(lowered.kernels)]

    def instantiate(self, graph):
        """(rematerialised graph, call nodes, driver values) for ``graph`` at its shapes,
        or None when its lowering could differ from this template's."""
        m = _Match(self.graph, graph, self.threshold, self.near)
        if not m.ok:
            return None
        lowered = pipeline.prepare(graph)
        nodes, mine = lowered.nodes, self.lowered.graph.nodes
        if len(nodes) != len(mine):
            return None
        values = {k: v for k, v in self.lowered.driver_values.items() if k[:4] == "ONE_"}
        for j, pairs in self.extents:
            for k, (name, v) in enumerate(pairs):
                if name[0] == "n":
                    v = m.ints.get(v)
                    if v is None:
                        return None
                else:
                    v = m.literal(v)
                    if v is None:
                        return None
                values[f"e{j}_{k}"] = v
        for name, i in self.literal_index.items():
            if nodes[i].prim is not mine[i].prim:
                return None
            values[name] = literal_value(nodes[i])
        calls = [nodes[i] for i in self.call_index]
        if any(a.prim is not b.prim for a, b in zip(calls, (mine[i] for i in self.call_index))):
            return None
        return lowered, calls, values


def remember(key, graph, lowered, threshold):
    """Keep ``lowered`` (of the optimised ``graph``) as a template for ``key``."""
    if any(len(ks.extent_names) != len(ks.extents) for ks in lowered.kernels):
        return
    t = Template(graph, lowered, threshold)
    with _lock:
        held = _templates.setdefault((key, threshold), [])
        held.insert(0, t)
        del held[_PER_STRUCTURE:]
        _templates.move_to_end((key, threshold))
        while len(_templates) > _MAX_STRUCTURES:
            _templates.popitem(last=False)


def find(key, graph, threshold):
    """(template, instantiation) for ``graph`` from a remembered lowering of the same
    structure and shape class, or None."""
    with _lock:
        held = list(_templates.get((key, threshold), ()))
    for i, t in enumerate(held):
        got = t.instantiate(graph)
        if got is not None:
            if i:           # most recently matched first: one batch size whose extents
                with _lock:     # coincide (batch == classes) costs later calls nothing
                    ts = _templates.get((key, threshold))
                    if ts is not None and t in ts:
                        ts.remove(t)
                        ts.insert(0, t)
            return t, got
    return None


def clear():
    with _lock:
        _templates.clear()
