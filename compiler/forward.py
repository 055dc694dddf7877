"""Forward mode over the IR, derived from the reverse-mode rules (no JVP rule per primitive).

The cotangents ``vjp(outputs, u, sources)`` are linear in the seed ``u``: they are
``J^T u``. Differentiating ``<J^T u, t>`` with respect to ``u`` gives ``J t``, the
tangents of the outputs, as a graph of primitives. Because gradient graphs here are
symbolic, this is exact (no numerical transposition), and the result no longer involves
``u``: every node that did is either dead or multiplied away, so ``u`` is bound to zeros
and the rewrites fold it out. Any primitive with a gradient rule whose gradient graph is
itself differentiable (the registry test checks both) has forward mode.
"""
from compiler import autodiff
from compiler import primitives as P
from compiler.ir import toposort


def _float(n):
    return n.dtype.kind == "f"


def jvp(outputs, sources, tangents):
    """Tangent nodes of ``outputs`` given ``tangents`` of ``sources`` (same shapes and
    dtypes as the sources). An output that depends on no source gets zeros; integer and
    bool outputs get zeros of their dtype."""
    for s, t in zip(sources, tangents):
        if t.shape != s.shape or t.dtype != s.dtype:
            raise ValueError(f"jvp: a tangent has shape {t.shape} {t.dtype} for a primal of "
                             f"shape {s.shape} {s.dtype}; they must be equal")
    live = [o for o in outputs if _float(o)]
    seeds = [P.input(shape=o.shape, dtype=o.dtype) for o in live]
    cts = autodiff.vjp(live, seeds, sources) if live else [None] * len(sources)
    pairs = [(c, t) for c, t in zip(cts, tangents) if c is not None]
    if pairs:
        outs = autodiff.vjp([c for c, _ in pairs], [t for _, t in pairs], seeds)
    else:
        outs = [None] * len(seeds)
    outs = _zero_seeds([o for o in outs if o is not None], seeds, outs)
    it = iter(outs)
    result = []
    for o in outputs:
        jt = next(it) if _float(o) else None
        result.append(jt if jt is not None else P.full(0, o.shape, o.dtype))
    return result


def _zero_seeds(live, seeds, outs):
    """``outs`` with any remaining use of a seed replaced by zeros (the value is linear in
    the seeds, so it does not depend on them)."""
    ids = {id(s) for s in seeds}
    mapping = {id(s): P.full(0, s.shape, s.dtype) for s in seeds}
    if not any(id(n) in ids for n in toposort(live, stop=lambda m: id(m) in ids)):
        return outs
    new = dict(mapping)
    for n in toposort(live, stop=lambda m: id(m) in ids):
        if id(n) in new:
            continue
        ins = tuple(new[id(x)] for x in n.inputs)
        new[id(n)] = n if all(a is b for a, b in zip(ins, n.inputs)) else n.rebuild(ins)
    return [None if o is None else new[id(o)] for o in outs]
