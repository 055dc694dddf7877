"""Graph rewrites: hash-consing CSE, constant folding, IEEE-safe identities, DCE.

Each local rewrite takes a node whose inputs are already canonical and returns a
replacement node or ``None``; ``@on(...)`` names the primitives (or kinds) it can fire
on, so the walk only tries the rules that apply. Identities keep IEEE semantics:
``x * 1 -> x`` is exact for every x (NaN and -0.0 included), ``x * 0 -> 0`` is not
(NaN * 0 is NaN), so it is absent; neither is ``x + 0 -> x`` (-0.0 + 0.0 is +0.0).
"""
import numpy as np

from compiler import primitives as P
from compiler.ir import Graph, slots, toposort


def on(*names, kinds=()):
    """Declare the primitive names (and kinds) a rule applies to; undecorated rules apply to
    every node."""
    def mark(rule):
        rule.prims, rule.kinds = frozenset(names), frozenset(kinds)
        return rule
    return mark


_FILLS = frozenset(["broadcast_to", "reshape"])


def full_value(node):
    """The scalar a node is filled with (a literal, or a literal through any chain of
    broadcasts and reshapes, as a reduction's seed ``broadcast_to(reshape(1.0))``), else
    None."""
    while node.prim.name in _FILLS:
        node = node.inputs[0]
    if node.prim.name == "literal":
        return node.params["value"]
    return None


def _is(node, value):
    v = full_value(node)
    return v is not None and v == value and not isinstance(v, bool)


@on("mul")
def fold_mul_by_one(n):
    # x * 1 = x and 1 * x = x, exactly
    if n.prim.name == "mul":
        x, y = n.inputs
        if _is(y, 1) and y.shape == n.shape:
            return x
        if _is(x, 1) and x.shape == n.shape:
            return y
    return None


@on("div")
def fold_div_by_one(n):
    # x / 1 = x
    if n.prim.name == "div" and _is(n.inputs[1], 1):
        return n.inputs[0]
    return None


@on("sub")
def fold_sub_zero(n):
    # x - 0 = x (x - (+0) keeps -0.0 as -0.0)
    if n.prim.name == "sub" and _is(n.inputs[1], 0) and not _negzero(n.inputs[1]):
        return n.inputs[0]
    return None


def _negzero(node):
    v = full_value(node)
    return isinstance(v, float) and np.signbit(v)


@on("neg")
def fold_double_neg(n):
    # -(-x) = x
    if n.prim.name == "neg" and n.inputs[0].prim.name == "neg":
        return n.inputs[0].inputs[0]
    return None


@on("reshape", "broadcast_to", "cast", "transpose", "reduce_max", "reduce_min",
    "reduce_prod", "select")
def fold_noop_shape(n):
    # reshape/broadcast_to/cast to what it already is, identity transpose, max/min/prod over
    # no axes (not sum: NumPy's sum adds to +0.0, so -0.0 becomes 0.0), select between a
    # value and itself
    name, x = n.prim.name, n.inputs[0]
    if name in ("reshape", "broadcast_to", "cast") and \
            x.shape == n.shape and x.dtype == n.dtype:
        return x
    if name == "transpose" and n.params["perm"] == tuple(range(n.ndim)):
        return x
    if name.startswith("reduce_") and n.params["axes"] == ():
        return x
    if name == "select" and n.inputs[1] is n.inputs[2]:
        return n.inputs[1]
    return None


@on("pow")
def fold_pow_by_one_or_zero(n):
    # x ** 1 = x exactly; x ** 0 = 1 for every x, NaN and inf included (IEEE pow)
    x, y = n.inputs
    if _is(y, 1):
        return x
    if _is(y, 0):
        return P.full(1, n.shape, n.dtype)
    return None


@on("select")
def fold_select_known(n):
    # select(True, x, y) = x and select(False, x, y) = y
    c = full_value(n.inputs[0])
    if c is True:
        return n.inputs[1]
    if c is False:
        return n.inputs[2]
    return None


@on("reshape", "broadcast_to")
def fold_shape_chains(n):
    # reshape(reshape(x)) = reshape(x); broadcast_to(broadcast_to(x)) = broadcast_to(x)
    name = n.prim.name
    if name in ("reshape", "broadcast_to") and n.inputs[0].prim.name == name:
        return n.prim(n.inputs[0].inputs[0], **n.params)
    return None


@on(kinds=("elementwise",))
def fold_constants(n):
    # elementwise op over fills = a fill of the op applied to the scalars
    if n.prim.kind != "elementwise" or not n.inputs:
        return None
    values = []
    for x in n.inputs:
        v = full_value(x)
        if v is None:
            return None
        values.append(v)
    args = [np.array(v, dtype=x.dtype)[()] for v, x in zip(values, n.inputs)]
    try:
        with np.errstate(all="ignore"):
            out = n.prim.impl(*args, **n.params)
    except (ValueError, ArithmeticError):
        return None  # e.g. int ** negative int: leave the error to run time
    return P.full(np.asarray(out).item(), n.shape, n.dtype)


RULES = [fold_mul_by_one, fold_div_by_one, fold_sub_zero, fold_double_neg, fold_noop_shape,
         fold_pow_by_one_or_zero, fold_select_known, fold_shape_chains, fold_constants]


_APPLICABLE = {}    # primitive name -> the rules of RULES that can fire on it


def rules_for(prim, rules):
    return [r for r in rules if not hasattr(r, "prims") or
            prim.name in r.prims or prim.kind in r.kinds]


def rewrite(graph, rules=RULES):
    """One forward walk: rebuild each node on canonical inputs, apply ``rules`` until none
    fires, then hash-cons (CSE). Unreached nodes drop out (DCE)."""
    # ``known`` maps each node seen (hashed by identity) to its canonical node, keeping
    # both alive while the walk runs
    table, known = {}, {}
    applicable = _APPLICABLE if rules is RULES else {}
    for n in graph.inputs:
        known[n] = n
    for n in graph.nodes:
        if n in known:
            continue
        node = _canonical(n, table, known)
        for _ in range(8):
            rs = applicable.get(node.prim.name)
            if rs is None:
                rs = applicable[node.prim.name] = rules_for(node.prim, rules)
            new = None
            for rule in rs:
                new = rule(node)
                if new is not None:
                    break
            if new is None or new is node or _crosses_inputs(new, known):
                break
            node = _intern(new, table, known)
        known[n] = node
    return Graph(graph.inputs, [known[o] for o in graph.outputs])


def _crosses_inputs(node, known):
    """Whether a rule looked through a bound input (neg(neg(x)) -> x where neg(x) is a graph
    input): the result would reach an input leaf the graph does not bind."""
    if node in known:
        return False
    return any(m.prim.name == "input" and m not in known
               for m in toposort([node], stop=known.__contains__))


def _canonical(n, table, known):
    """The canonical node for ``n``, whose inputs are all already known. ``table`` maps a
    signature to {inputs: canonical node}: nodes never overload ==, so tuple equality and
    hashing are identity here, and a node already on canonical inputs is keyed by its own
    inputs tuple (no new objects for the garbage collector to trace)."""
    old = n.inputs
    ins = slots(known, old)
    if ins == old:
        ins = old
    sig = n.sig
    by_inputs = table.get(sig)
    if by_inputs is None:
        by_inputs = table[sig] = {}
    c = by_inputs.get(ins)
    if c is None:
        c = n if ins is old else n.rebuild(ins)
        by_inputs[ins] = c
        known[c] = c
    known[n] = c
    return c


def _intern(node, table, known):
    """The canonical node equal to ``node`` (same primitive, attrs, inputs), registering
    ``node`` and any fresh nodes under it."""
    if node in known:
        return known[node]
    for n in toposort([node], stop=known.__contains__):
        if n not in known:
            _canonical(n, table, known)
    return known[node]
