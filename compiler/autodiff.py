"""Reverse-mode differentiation over the IR.

``vjp`` returns cotangent *nodes*: the gradient is an ordinary graph of primitives, so it
can be optimised, compiled, and differentiated again. Fan-out accumulates with ``add``;
integer/bool values, ``stop_gradient`` and primitives without a gradient rule cut the flow;
sources the outputs do not depend on get ``None``.
"""
import numpy as np

from compiler import primitives as P
from compiler.ir import toposort


def _float(node):
    kind = node.dtype.kind
    if kind == "V":                 # a region: differentiable if any output is a float
        return any(np.dtype(d).kind == "f" for _, d in node.params["out_types"])
    return kind == "f"


def vjp(outputs, cotangents, sources, active=None):
    """Cotangents of ``sources`` given ``cotangents`` of ``outputs``.

    ``active(node)`` false makes a node a constant: the walk does not differentiate through
    it (a tape's boundary). Returns a list with a node or ``None`` per source.
    """
    is_active = active or (lambda n: True)
    order = toposort(outputs, expand=active)
    # nodes are hashed by identity: the sets and dicts below hold them (and so keep every
    # node alive while the walk runs)
    reach = _reach(order, set(sources), is_active)
    forward = set(order)
    tagged = set()
    ct = {}
    for out, g in zip(outputs, cotangents):
        if out in reach and g is not None:
            _accumulate(ct, out, g)
    for n in reversed(order):
        g = ct.get(n)
        if g is None or not n.inputs or not is_active(n) or not n.prim.differentiable:
            continue
        ins = n.inputs
        if len(ins) == 1:                   # (no comprehension for 1-2 inputs: see ir.slots)
            needed = (ins[0] in reach,)
        elif len(ins) == 2:
            needed = (ins[0] in reach, ins[1] in reach)
        else:
            needed = tuple([x in reach for x in ins])
        if True not in needed:
            continue
        if n.prim is P.tuple_get:   # one output's cotangent, kept for the region's rule
            _accumulate_part(ct, n.inputs[0], n.params["index"], g)
            continue
        grads = _rule(n, g, needed)
        _tag_origin(list(grads), n, forward, tagged)
        for x, gx, need in zip(n.inputs, grads, needed):
            if gx is not None and need:
                _accumulate(ct, x, gx)
    return [ct.get(s) for s in sources]


def _reach(order, sources, is_active):
    """The float nodes of ``order`` on a path from a source: only they carry gradient."""
    reach = set()
    for n in order:
        if n in sources:
            hit = True
        else:
            hit = False
            for x in n.inputs:
                if x in reach:
                    hit = is_active(n)
                    break
        if hit and _float(n):
            reach.add(n)
    return reach


_NO_PARAMS = {}     # the params of every node without attrs (only ever unpacked)


def _rule(n, g, needed):
    """The cotangents of ``n``'s inputs from its primitive's gradient rule."""
    if n.dtype.kind == "V":          # a region's rule takes one cotangent per output
        g = [g.get(i) for i in range(len(n.params["out_types"]))]
    params = n.params if n.attrs else _NO_PARAMS
    if n.prim.vjp_needs:
        grads = n.prim.vjp(g, n, *n.inputs, needed=needed, **params)
    else:
        grads = n.prim.vjp(g, n, *n.inputs, **params)
    if len(grads) != len(n.inputs):
        raise RuntimeError(f"{n.prim.name}: gradient rule returned {len(grads)} values for "
                           f"{len(n.inputs)} inputs")
    return grads


def _tag_origin(grads, node, forward, seen):
    """Mark the nodes the gradient rule of ``node`` just built with its op's name, so a
    NaN found later in the gradient can name the operation whose gradient it was. ``seen``
    is shared by the whole walk: each node is looked at once (linear in the gradient)."""
    stack, name = grads, None
    while stack:
        m = stack.pop()
        if m is None or m in seen or m in forward or not m.inputs or m.origin is not None:
            continue
        seen.add(m)
        if name is None:
            name = node.op_name
        m.origin = name
        stack.extend(m.inputs)


def _accumulate_part(ct, region, index, g):
    parts = ct.setdefault(region, {})
    prev = parts.get(index)
    parts[index] = g if prev is None else P.add(prev, g)


def _accumulate(ct, x, g):
    if g.shape != x.shape or g.dtype != x.dtype:
        raise RuntimeError(f"gradient of {x.prim.name}: cotangent has shape {g.shape} "
                           f"{g.dtype}, expected {x.shape} {x.dtype}")
    prev = ct.get(x)
    ct[x] = g if prev is None else P.add(prev, g)
