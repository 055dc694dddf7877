"""Vectorisation over the IR: the same graph, run on a batch of examples at once.

``batch(outputs, mapping, size)`` rebuilds the nodes between ``outputs`` and the nodes in
``mapping`` (each replaced by a node with a new leading batch axis of length ``size``).
Nodes that depend on no batched node are kept as they are (shared by every example); every
other node goes through its primitive's batching rule (``Primitive.batch``, see
``compiler.primitives.batch_rules``). A region's rule (``compiler.primitives.region_batch``)
gives one ``(node, batched)`` pair per output, which its ``tuple_get`` nodes take. The walk
is iterative; bodies are batched by the same function, as deep as regions nest.
"""
from compiler import primitives as P
from compiler.ir import toposort
from compiler.regions import is_region


def rule_of(prim):
    """The batching rule of a primitive, or None when it has none."""
    return getattr(prim, "batch", None)


def missing_rule(prim):
    return NotImplementedError(
        f"vmap: primitive {prim.name!r} has no batching rule; declare one with the primitive "
        f"(batch=..., see compiler/primitives/batch_rules.py: elementwise, shift_axes, ...)")


def batch(outputs, mapping, size):
    """(nodes, batched flags) for ``outputs`` with ``mapping``'s nodes batched."""
    new = {}
    for n in toposort(outputs, stop=lambda m: id(m) in mapping):
        if id(n) in mapping:
            new[id(n)] = (mapping[id(n)], True)
            continue
        ins = [new[id(x)] for x in n.inputs]
        if not any(b for _, b in ins):
            new[id(n)] = (n, False)         # unbatched inputs are the original nodes
            continue
        if n.prim is P.tuple_get:       # one output of a batched region (its rule's pairs)
            new[id(n)] = ins[0][0][n.params["index"]]
            continue
        rule = rule_of(n.prim)
        if rule is None:
            raise missing_rule(n.prim)
        out = rule(n, size, [x for x, _ in ins], [b for _, b in ins])
        if is_region(n):                # a region rule gives (node, batched) per output
            new[id(n)] = (list(out), True)
            continue
        expected = (size,) + n.shape
        if out.shape != expected or out.dtype != n.dtype:
            raise RuntimeError(f"vmap: the batching rule of {n.prim.name} gave {out.shape} "
                               f"{out.dtype}, expected {expected} {n.dtype}")
        new[id(n)] = (out, True)
    return [new[id(o)][0] for o in outputs], [new[id(o)][1] for o in outputs]


def batch_graph(outputs, mapping, size):
    """Batched ``outputs``; outputs that depend on no batched node are broadcast."""
    nodes, flags = batch(outputs, mapping, size)
    return [n if b else P.broadcast_to(n, shape=(size,) + n.shape)
            for n, b in zip(nodes, flags)]


def basis(n, shape, dtype):
    """The n unit vectors of a space of ``shape`` (n its size), stacked: (n,) + shape.
    Batching a VJP (JVP) over it gives every row (column) of a Jacobian in one sweep."""
    # a column and a row of indices compared by broadcasting: the n x n comparison fuses
    # into the kernel that reads it, instead of two n x n index arrays in memory
    rows = P.broadcast_to(P.iota(shape=(n, 1), axis=0, dtype="<i8"), shape=(n, n))
    cols = P.broadcast_to(P.iota(shape=(1, n), axis=1, dtype="<i8"), shape=(n, n))
    eye = P.cast(P.equal(rows, cols), dtype=dtype.str)
    return P.reshape(eye, shape=(n,) + tuple(shape))
