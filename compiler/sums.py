"""Sums of many matrix products as one product.

The gradient of a weight used at many places (the steps of an unrolled RNN, shared
layers) is a sum of one product per use, ``dW = sum_t h_t^T @ dz_t``: one small BLAS call
per term, added one by one. Stacking the operands by rows gives the same sum as a single
product, ``concat(h_t)^T @ concat(dz_t)``: one BLAS call on all the rows, for the cost of
copying the operands once. ``merge`` finds trees of adds (each add read only by the next)
whose terms include at least ``MIN_TERMS`` products ``transpose(a) @ b`` of 2-D operands
that nothing else reads, and replaces those terms by such products of up to ``CHUNK``
terms each (bounding the arguments of one concatenation).
"""
from compiler import primitives as P
from compiler.ir import Graph

MIN_TERMS = 3
CHUNK = 64


def _product_term(t, uses):
    """(a, b) when ``t`` is ``transpose(a) @ b`` with 2-D ``a`` and ``b`` read only by
    the sum, else None."""
    if t.prim.name != "matmul" or uses.get(id(t), 0) != 1 or len(t.shape) != 2:
        return None
    a, b = t.inputs
    if a.prim.name != "transpose" or a.params["perm"] != (1, 0) or len(b.shape) != 2:
        return None
    return a.inputs[0], b


def _terms(root, uses, claimed):
    """The terms of the add tree under ``root`` (adds read once, same shape and dtype)."""
    terms, stack = [], [root]
    while stack:
        node = stack.pop()
        for x in reversed(node.inputs):
            if x.prim.name == "add" and uses.get(id(x), 0) == 1 and \
                    x.shape == root.shape and x.dtype == root.dtype:
                claimed.add(id(x))
                stack.append(x)
            else:
                terms.append(x)
    return terms


def _merged(root, terms, uses):
    """The sum of ``terms`` with its products merged, or None when too few qualify."""
    pairs = [(t, _product_term(t, uses)) for t in terms]
    prods = [ab for _, ab in pairs if ab is not None]
    if len(prods) < MIN_TERMS:
        return None
    rest = [t for t, ab in pairs if ab is None]
    for i in range(0, len(prods), CHUNK):
        part = prods[i:i + CHUNK]
        a = P.concat(*[x for x, _ in part], axis=0) if len(part) > 1 else part[0][0]
        b = P.concat(*[y for _, y in part], axis=0) if len(part) > 1 else part[0][1]
        rest.append(P.matmul(P.transpose(a, perm=(1, 0)), b))
    total = rest[0]
    for t in rest[1:]:
        total = P.add(total, t)
    return total


def merge(graph):
    """``graph`` with its sums of many ``transpose(a) @ b`` products as single products."""
    nodes = graph.nodes
    if sum(n.prim.name == "matmul" and n.inputs[0].prim.name == "transpose"
           for n in nodes) < MIN_TERMS:
        return graph                        # the common case: one cheap walk
    uses = {}
    for n in nodes:
        for x in n.inputs:
            uses[id(x)] = uses.get(id(x), 0) + 1
    for o in graph.outputs:
        uses[id(o)] = uses.get(id(o), 0) + 1
    bound = {id(n) for n in graph.inputs}
    claimed, replace = set(), {}
    for n in reversed(nodes):               # consumers first: a tree's root comes first
        if n.prim.name != "add" or id(n) in claimed or id(n) in bound or \
                n.dtype.kind not in "fc":
            continue
        new = _merged(n, _terms(n, uses, claimed), uses)
        if new is not None:
            replace[id(n)] = new
    if not replace:
        return graph
    done = dict(replace)
    for n in nodes:
        if id(n) in done or id(n) in bound:
            continue
        ins = [done.get(id(x), x) for x in n.inputs]
        if any(a is not b for a, b in zip(ins, n.inputs)):
            done[id(n)] = n.rebuild(ins)
    return Graph(graph.inputs, [done.get(id(o), o) for o in graph.outputs],
                 donate=graph.donate)
