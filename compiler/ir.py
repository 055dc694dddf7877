"""The IR: nodes, leaves and graphs.

Invariants:
- A node is ``(prim, inputs, attrs, shape, dtype)``; shape is a tuple of ints and dtype a
  ``numpy.dtype``. Nodes are immutable symbols compared by identity (never overload ``==``).
- Leaves are graph inputs (``P.input``: values bound at run time) and scalar literals
  (``P.literal``: a Python number in ``attrs``, part of the structural key).
- ``attrs`` is a tuple of ``(name, value)`` pairs sorted by name, with hashable values, so
  it can enter structural keys directly.
- Every walk is iterative: graphs of 10^5 nodes must work.
"""
import itertools
import struct

import numpy as np

_serial = itertools.count()


class Node:
    # ``origin``: for gradient nodes, the name of the forward operation whose gradient rule
    # built them (error messages only; never part of a key)
    # ``public``: the public composite op (tt.reduce_mean, ...) this node is a step of, when
    # it was recorded with tt.config.debug_nans on (error messages only)
    # ``serial``: creation order (a region's tracing tells the nodes its body built from the
    # enclosing ones it reads)
    __slots__ = ("prim", "inputs", "attrs", "shape", "dtype", "_sig", "origin", "public",
                 "serial", "__weakref__")

    def __init__(self, prim, inputs, attrs, shape, dtype):
        self.prim = prim
        self.inputs = inputs
        self.attrs = attrs
        self.shape = shape
        self.dtype = dtype
        self._sig = None
        self.origin = None
        self.public = None
        self.serial = next(_serial)

    def rebuild(self, inputs):
        """The same operation on other inputs (keeps the origin and public tags)."""
        n = Node(self.prim, tuple(inputs), self.attrs, self.shape, self.dtype)
        n.origin = self.origin
        n.public = self.public
        return n

    @property
    def op_name(self):
        """The operation as the user called it: ``reduce_mean (its divide step)`` for a
        step of a public composite op (see ``public``), else the primitive's name."""
        name, public = self.prim.name, self.public
        return name if public is None or public == name else f"{public} (its {name} step)"

    @property
    def params(self):
        """attrs as a dict (for calling impl/vjp/lowering rules)."""
        return dict(self.attrs)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def sig(self):
        """The node's own structural signature (inputs excluded)."""
        s = self._sig
        if s is None:
            attrs = self.attrs
            s = self._sig = (self.prim.name, _key_attrs(attrs) if attrs else (), self.shape,
                             dtype_str(self.dtype))
        return s

    def __repr__(self):
        a = ", ".join(f"{k}={v!r}" for k, v in self.attrs)
        return (f"Node({self.prim.name}{', ' + a if a else ''}, shape={self.shape}, "
                f"dtype={self.dtype})")


_DTYPE_STR = {}


def dtype_str(dtype):
    """``dtype.str`` (NumPy builds that string anew at every access; this is a lookup)."""
    s = _DTYPE_STR.get(dtype)
    if s is None:
        s = _DTYPE_STR[dtype] = dtype.str
    return s


def float_key(v):
    """A Python float's bits as a hashable key: ``0.0`` and ``-0.0`` differ, every NaN
    equals itself and NaNs of other sign or payload differ (``float.hex`` keeps the sign
    of zero but not of NaN)."""
    return v.hex() if v == v else struct.pack("<d", v).hex()


def _key_value(v):
    # floats enter keys by their bits: 0.0 == -0.0 and nan != nan would otherwise merge
    # distinct literals (x + -0.0 is not x + 0.0) and make NaN literals never match
    if isinstance(v, float):
        return ("float", float_key(v))
    if isinstance(v, tuple):
        return tuple(_key_value(x) for x in v)
    return v


_PLAIN = frozenset([int, str, bool, type(None)])


def _key_attrs(attrs):
    # the common attrs (ints, strings, tuples of ints) are their own key: no copy
    for _, v in attrs:
        t = type(v)
        if t in _PLAIN:
            continue
        if t is tuple and all([type(x) in _PLAIN for x in v]):
            continue
        return tuple([(k, _key_value(v)) for k, v in attrs])
    return attrs


def freeze_attrs(attrs):
    """Canonical attrs tuple from a dict (values must already be hashable)."""
    return tuple(sorted(attrs.items())) if attrs else ()


def slots(mapping, nodes):
    """``tuple(mapping[n] for n in nodes)``. One- and two-input nodes, most of any graph,
    skip the comprehension (in CPython 3.11 each comprehension is a function call, about
    twice the cost of these lookups)."""
    k = len(nodes)
    if k == 1:
        return (mapping[nodes[0]],)
    if k == 2:
        return (mapping[nodes[0]], mapping[nodes[1]])
    return tuple([mapping[n] for n in nodes])


_LIST = object()


def toposort(outputs, stop=None, expand=None):
    """Nodes reachable from ``outputs`` in dependency order (inputs first), iteratively.

    ``stop(node)`` true makes a node a leaf of the walk: it is listed but its inputs are
    not visited. ``expand(node)`` is the converse (inputs visited only where it is true);
    give one or neither.
    """
    # depth first, inputs in order; a node is listed once all its inputs are. Nodes are
    # hashed by identity (they never define __eq__), so the sets hold them directly. The
    # stack holds nodes only (no per-visit objects: a 10^5-deep walk allocates nothing the
    # garbage collector must trace): ``_LIST`` above a node means "its inputs are done".
    order, seen = [], set()
    append, mark = order.append, seen.add
    stack = list(reversed(outputs))
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if node is _LIST:
            append(pop())
            continue
        if node in seen:
            continue
        mark(node)
        ins = node.inputs
        if not ins or (stop is not None and stop(node)) or \
                (expand is not None and not expand(node)):
            append(node)                # a leaf of the walk: listed now
            continue
        push(node)
        push(_LIST)
        for i in range(len(ins) - 1, -1, -1):
            x = ins[i]
            if x not in seen:
                push(x)
    return order


class Graph:
    """Outputs computed from an ordered list of input leaves.

    ``inputs`` are the nodes whose values are bound at run time, in call order; any node
    may serve as an input (a forward value already known), and the walk stops there.
    ``nodes``: that walk's result when the caller already has it (``toposort(outputs,
    stop=<in inputs>)``), so it is not walked twice.
    ``donate``: pairs (output index, input index) whose input buffer the caller gives up
    for that output (``compiler.donation``); part of the key.
    """

    def __init__(self, inputs, outputs, nodes=None, donate=()):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.donate = tuple(donate)
        bound = set(self.inputs)
        self.nodes = toposort(self.outputs, stop=bound.__contains__) if nodes is None \
            else list(nodes)
        missing = [n for n in self.nodes
                   if not n.inputs and n.prim.name == "input" and n not in bound]
        if missing:
            raise ValueError(f"graph: {len(missing)} input leaf(s) reachable from the outputs "
                             f"are not bound, first {missing[0]!r}")
        self._key = None

    @property
    def key(self):
        """Canonical structural key: primitives, attrs, wiring, shapes, dtypes."""
        if self._key is None:
            index, rows = {}, []
            bound = {n: i for i, n in enumerate(self.inputs)}     # nodes hash by identity
            for i, n in enumerate(self.nodes):
                index[n] = i
                b = bound.get(n)
                if b is not None:
                    rows.append(("arg", b, n.shape, dtype_str(n.dtype)))
                else:
                    rows.append((n.sig, slots(index, n.inputs)))
            outs = tuple([index[o] for o in self.outputs])
            # the input count too: graphs that differ only in unused inputs take different
            # argument lists, so they must not share an executable
            self._key = (tuple(rows), outs, len(self.inputs))
            if self.donate:
                self._key += (self.donate,)
        return self._key

    def __repr__(self):
        return format_graph(self)


def format_graph(graph, indent="  "):
    """Readable listing, one node a line: ``%3 = mul(%1, %2) : (4,) float32``; the bodies
    of control-flow nodes follow their node, indented (as deep as regions nest)."""
    names, lines = {}, []
    bound = {id(n): i for i, n in enumerate(graph.inputs)}
    for i, n in enumerate(graph.nodes):
        names[id(n)] = f"%{i}"
        if id(n) in bound:
            rhs = f"arg{bound[id(n)]}"
        else:
            args = [names[id(x)] for x in n.inputs]
            args += [f"{k}={v!r}" for k, v in n.attrs]
            rhs = f"{n.prim.name}({', '.join(args)})"
        lines.append(f"{indent}%{i} = {rhs} : {n.shape} {n.dtype}")
        for attr in getattr(n.prim, "regions", ()):
            bodies = n.params[attr]
            for k, body in enumerate(bodies if isinstance(bodies, tuple) else (bodies,)):
                label = f"{attr}[{k}]" if isinstance(bodies, tuple) else attr
                sub = format_graph(body.graph, indent + "      ").split("\n")
                lines.append(f"{indent}    {label}: {sub[0]}")
                lines.extend(sub[1:])
    outs = ", ".join(names[id(o)] for o in graph.outputs)
    return "\n".join([f"graph({len(graph.inputs)} inputs) -> ({outs})"] + lines)


def next_serial():
    """The serial the next node will get."""
    return next(_serial) + 1
