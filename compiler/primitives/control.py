"""Control-flow primitives: regions holding sub-graphs (see ``compiler.regions``).

- ``cond(index, *operands, branches)``: runs ``branches[clip(index)]`` on the operands.
- ``scan(*consts, *init, *xs, body, ...)``: ``body(consts, carry, x_t) -> (carry, y_t)``
  for t in order (reversed when ``reverse``); returns the final carry and the stacked ys.
- ``while_loop(*consts, *init, cond, body, ...)``: carries while ``cond`` is true.
- ``while_grad``: reverse mode of ``while_loop`` (per-iteration history, see below).
- ``tuple_get(region, index)``: one output of a region.

Gradients are regions again: the VJP of a cond is a cond of the branches' VJPs; the VJP of a
scan is a forward scan storing the carry each step starts from (everything else in the
body is recomputed from it) and a scan in the other direction over those carries, the xs
and the ys' cotangents, carrying the carry's cotangent and the captured values' summed
cotangents. So gradients of gradients are scans of scans, to any order. The VJP of a
while_loop is a ``while_grad`` (the loop again, keeping each iteration's carry, then the
body's VJP in reverse order); the VJP of a ``while_grad`` is the tangent loop (forward mode)
and that loop's own ``while_grad``, so while loops are differentiable to any order too.
"""
import numpy as np

from compiler import primitives as P
from compiler.ir import Graph, toposort
from compiler.primitives import region_batch
from compiler.primitives.core import declare
from compiler.regions import TUPLE, Body, instantiate, leaves_like, run, typed


def _float(x):
    return np.dtype(x.dtype if hasattr(x, "dtype") else x[1]).kind == "f"


def _zeros(spec):
    return P.full(0, spec[0], np.dtype(spec[1]))


def _spec(node):
    return (tuple(node.shape), node.dtype.str)


def _check_body(name, what, body, specs):
    if not isinstance(body, Body):
        raise TypeError(f"{name}: {what} must be a Body, got {type(body).__name__}")
    got = [_spec(n) for n in body.inputs]
    if got != list(specs):
        raise TypeError(f"{name}: {what} takes inputs {got}, but is given {list(specs)}")


def _check_outputs(name, what, body, specs):
    got = [_spec(n) for n in body.outputs]
    if got != list(specs):
        raise TypeError(f"{name}: {what} returns {got}; expected {list(specs)}")


def _body_vjp(body, diff_in, diff_out):
    """Fresh leaves for the body's inputs, cotangent leaves for outputs ``diff_out``, and
    the cotangents of inputs ``diff_in`` (zeros where unconnected), as nodes."""
    from compiler import autodiff
    prim = leaves_like(body.inputs)
    outs = instantiate(body.graph, prim)
    gs = leaves_like([outs[k] for k in diff_out])
    cts = autodiff.vjp([outs[k] for k in diff_out], gs, [prim[k] for k in diff_in])
    cts = [c if c is not None else P.full(0, prim[k].shape, prim[k].dtype)
           for c, k in zip(cts, diff_in)]
    return prim, gs, cts


def outputs(node):
    """The output nodes of a region node."""
    return [tuple_get(node, index=i) for i in range(len(node.params["out_types"]))]


# -- tuple_get -------------------------------------------------------------------------------

def _get_infer(t, *, index):
    if t.dtype != TUPLE:
        raise TypeError(f"tuple_get: the operand must be a region node, got {t!r}")
    types = t.params["out_types"]
    if not 0 <= index < len(types):
        raise ValueError(f"tuple_get: index {index} out of range for {len(types)} outputs")
    return types[index]


# one output of a region node (autodiff routes its cotangent to the region's gradient rule)
tuple_get = declare("tuple_get", infer=_get_infer, impl=lambda t, *, index: t[index],
                    kind="region", batch=region_batch.tuple_get)


# -- cond ---------------------------------------------------------------------------------

def _cond_infer(index, *ops, branches, out_types):
    if index.shape != () or index.dtype != np.dtype("int32"):
        raise TypeError(f"cond: the branch index must be an int32 scalar, got {index.shape} "
                        f"{index.dtype}")
    if not branches:
        raise ValueError("cond: needs at least one branch")
    for k, b in enumerate(branches):
        _check_body("cond", f"branch {k}", b, [_spec(x) for x in ops])
        _check_outputs("cond", f"branch {k}", b, out_types)
    return (), TUPLE


def _cond_impl(index, *ops, branches, out_types):
    k = int(np.clip(int(index), 0, len(branches) - 1))
    return tuple(typed(v, s) for v, s in zip(run(branches[k], list(ops)), out_types))


def _cond_vjp(cts, out, index, *ops, branches, out_types):
    fin = [k for k, x in enumerate(ops) if _float(x)]
    fout = [k for k, s in enumerate(out_types) if _float(s)]
    grad_branches = []
    for b in branches:
        prim, gs, grads = _body_vjp(b, fin, fout)
        grad_branches.append(Body(Graph(prim + gs, grads)))
    if not fin:
        return (None,) * (1 + len(ops))
    gvals = [cts[k] if cts[k] is not None else _zeros(out_types[k]) for k in fout]
    node = cond(index, *ops, *gvals, branches=tuple(grad_branches),
                out_types=tuple(_spec(ops[k]) for k in fin))
    res = [None] * (1 + len(ops))
    for j, k in enumerate(fin):
        res[1 + k] = tuple_get(node, index=j)
    return tuple(res)


# run one of several branch bodies on the operands, chosen by an index (clamped)
cond = declare("cond", infer=_cond_infer, impl=_cond_impl, vjp=_cond_vjp, kind="region",
               regions=("branches",), batch=region_batch.cond)


# -- scan ------------------------------------------------------------------------------------

def _scan_infer(*ins, body, n_consts, n_carry, length, reverse, out_types):
    nc, nk = n_consts, n_carry
    xs = ins[nc + nk:]
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise ValueError(f"scan: xs have shapes {[x.shape for x in xs]}; each needs the "
                             f"leading dimension length={length}")
    specs = [_spec(x) for x in ins[:nc + nk]] + [(x.shape[1:], x.dtype.str) for x in xs]
    _check_body("scan", "the body", body, specs)
    outs = [_spec(o) for o in body.outputs]
    if outs[:nk] != specs[nc:nc + nk]:
        raise TypeError(f"scan: the body returns carries {outs[:nk]} for carries "
                        f"{specs[nc:nc + nk]}; they must keep shapes and dtypes")
    want = outs[:nk] + [((length,) + s, d) for s, d in outs[nk:]]
    if list(out_types) != want:
        raise TypeError(f"scan: out_types {out_types} do not match the body ({want})")
    return (), TUPLE


def _scan_impl(*ins, body, n_consts, n_carry, length, reverse, out_types):
    nc, nk = n_consts, n_carry
    consts, carry, xs = list(ins[:nc]), list(ins[nc:nc + nk]), ins[nc + nk:]
    ys = [np.empty(s, d) for s, d in out_types[nk:]]
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        outs = run(body, consts + carry + [x[t] for x in xs])
        carry = [typed(v, s) for v, s in zip(outs[:nk], out_types)]
        for y, v in zip(ys, outs[nk:]):
            y[t] = v
    return tuple(carry + ys)


def _scan_vjp(cts, out, *ins, body, n_consts, n_carry, length, reverse, out_types):
    nc, nk = n_consts, n_carry
    consts, init, xs = ins[:nc], ins[nc:nc + nk], ins[nc + nk:]
    g = body.graph
    fc = [j for j in range(nc) if _float(consts[j])]
    fk = [j for j in range(nk) if _float(init[j])]
    fx = [j for j in range(len(xs)) if _float(xs[j])]
    fy = [j for j in range(nk, len(out_types)) if _float(out_types[j])]
    prim, gs, grads = _body_vjp(body, fc + [nc + j for j in fk] + [nc + nk + j for j in fx],
                                fk + fy)
    # the forward scan again, storing the carry each step starts from and the step's
    # matrix products the gradient reads; everything else is recomputed from them
    kept, keep_leaves, grads = _saved_products(prim, gs, nc, grads)
    saved = Body(Graph(g.inputs, g.outputs + g.inputs[nc:nc + nk] +
                       instantiate(Graph(prim, kept), g.inputs)))
    fwd = scan(*ins, body=saved, n_consts=nc, n_carry=nk, length=length, reverse=reverse,
               out_types=tuple(out_types) + tuple(((length,) + s, d) for s, d in
                                                   (_spec(x) for x in list(init) + kept)))
    stacked = [tuple_get(fwd, index=len(out_types) + j) for j in range(nk)]
    products = [tuple_get(fwd, index=len(out_types) + nk + j) for j in range(len(kept))]
    acc = leaves_like([prim[j] for j in fc])
    g_consts, g_carry = grads[:len(fc)], grads[len(fc):len(fc) + len(fk)]
    gbody = Graph(prim[:nc] + gs[:len(fk)] + acc + prim[nc:] + gs[len(fk):] + keep_leaves,
                  g_carry + [P.add(a, c) for a, c in zip(acc, g_consts)] +
                  grads[len(fc) + len(fk):])
    ct = [cts[j] if cts[j] is not None else _zeros(out_types[j]) for j in fk + fy]
    carry0 = ct[:len(fk)] + [P.full(0, consts[j].shape, consts[j].dtype) for j in fc]
    back_types = [_spec(n) for n in carry0] + [((length,) + xs[j].shape[1:], xs[j].dtype.str)
                                               for j in fx]
    back = scan(*consts, *carry0, *stacked, *xs, *ct[len(fk):], *products, body=Body(gbody),
                n_consts=nc, n_carry=len(carry0), length=length, reverse=not reverse,
                out_types=tuple(back_types))
    res = [None] * len(ins)
    for i, j in enumerate(fk):
        res[nc + j] = tuple_get(back, index=i)
    for i, j in enumerate(fc):
        res[j] = tuple_get(back, index=len(fk) + i)
    for i, j in enumerate(fx):
        res[nc + nk + j] = tuple_get(back, index=len(carry0) + i)
    return tuple(res)


def _saved_products(prim, gs, nc, grads):
    """The matrix products of a scan step that its gradient reads and that depend on the
    step (a carry or an x_t), with leaves standing for them in ``grads``: storing one
    product per step spares the backward scan recomputing it (an RNN step's two products
    of four). Returns (products over ``prim``, their leaves, the rewritten ``grads``)."""
    step = set(map(id, prim[nc:]))
    bound = set(map(id, prim))
    varying, kept = set(), []
    for n in toposort(grads, stop=lambda m: id(m) in bound):
        if id(n) in step or any(id(x) in varying for x in n.inputs):
            varying.add(id(n))
            if n.prim.name == "matmul" and _forward_only(n, bound):
                kept.append(n)
    if not kept:
        return [], [], grads
    leaves = leaves_like(kept)
    return kept, leaves, instantiate(Graph(prim + gs + kept, grads), prim + gs + leaves)


def _forward_only(node, bound):
    """Whether ``node`` is computed from the step's primal inputs alone (a value of the
    forward body, not of its gradient, which reads cotangent leaves)."""
    return all(id(m) in bound or m.inputs or m.prim.name != "input"
               for m in toposort([node], stop=lambda m: id(m) in bound))


# a loop over the leading axis of xs threading a carry; returns the final carry and the
# stacked per-step outputs
scan = declare("scan", infer=_scan_infer, impl=_scan_impl, vjp=_scan_vjp, kind="region",
               regions=("body",), batch=region_batch.scan)


# -- while_loop ---------------------------------------------------------------------------

def _while_infer(*ins, cond, body, n_consts, max_iter, out_types):
    specs = [_spec(x) for x in ins]
    _check_body("while_loop", "cond", cond, specs)
    _check_outputs("while_loop", "cond", cond, [((), "|b1")])
    _check_body("while_loop", "the body", body, specs)
    _check_outputs("while_loop", "the body", body, specs[n_consts:])
    if list(out_types) != specs[n_consts:]:
        raise TypeError(f"while_loop: out_types {out_types} differ from the carries")
    return (), TUPLE


def _while_impl(*ins, cond, body, n_consts, max_iter, out_types):
    consts, carry = list(ins[:n_consts]), list(ins[n_consts:])
    i = 0
    while (max_iter < 0 or i < max_iter) and bool(run(cond, consts + carry)[0]):
        carry = [typed(v, s) for v, s in zip(run(body, consts + carry), out_types)]
        i += 1
    return tuple(carry)


def _while_vjp(cts, out, *ins, cond, body, n_consts, max_iter, out_types):
    return _while_reverse(cts, ins, cond, body, n_consts, max_iter, out_types, n_consts)


def _while_reverse(cts, ins, cond, body, nc, max_iter, out_types, n_wrt):
    """Cotangents of a while_loop's inputs (a ``while_grad`` node) given its outputs'
    cotangents ``cts``; of the captured values only the first ``n_wrt`` get one."""
    fc = [j for j in range(n_wrt) if _float(ins[j])]
    fk = [j for j in range(len(out_types)) if _float(out_types[j])]
    prim, gs, grads = _body_vjp(body, [nc + j for j in fk] + fc, fk)
    gbody = Body(Graph(prim + gs, grads))
    ct = [cts[j] if cts[j] is not None else _zeros(out_types[j]) for j in fk]
    types = tuple(_spec(ins[nc + j]) for j in fk) + tuple(_spec(ins[j]) for j in fc)
    node = while_grad(*ins, *ct, cond=cond, body=body, body_vjp=gbody, n_consts=nc,
                      max_iter=max_iter, out_types=types)
    res = [None] * len(ins)
    for i, j in enumerate(fk + [j - nc for j in fc]):
        res[nc + j] = tuple_get(node, index=i)
    return tuple(res)


# repeat the body on the carry while cond holds (at most max_iter times unless it is -1)
while_loop = declare("while_loop", infer=_while_infer, impl=_while_impl, vjp=_while_vjp,
                     kind="region", regions=("cond", "body"), batch=region_batch.while_loop)


# -- while_grad: reverse mode of while_loop --------------------------------------------------
# The forward loop runs again and pushes the carry each iteration starts from onto a stack
# that grows by one entry per iteration (memory: trip count x carry size, as TensorFlow's
# while_v2 accumulators); the backward loop pops it, applying the body's VJP, and sums the
# captured values' cotangents.

def _while_grad_infer(*ins, cond, body, body_vjp, n_consts, max_iter, out_types):
    return (), TUPLE


def _while_grad_impl(*ins, cond, body, body_vjp, n_consts, max_iter, out_types):
    nc, nk = n_consts, len(body.outputs)
    consts, carry = list(ins[:nc]), list(ins[nc:nc + nk])
    g = list(ins[nc + nk:])
    specs = [_spec(o) for o in body.outputs]
    stack, i = [], 0
    while (max_iter < 0 or i < max_iter) and bool(run(cond, consts + carry)[0]):
        stack.append(carry)
        carry = [typed(v, s) for v, s in zip(run(body, consts + carry), specs)]
        i += 1
    nf = len(g)
    acc = [np.zeros(s, d) for s, d in out_types[nf:]]
    while stack:
        outs = run(body_vjp, consts + stack.pop() + g)
        g = [typed(v, s) for v, s in zip(outs[:nf], out_types)]
        acc = [a + v for a, v in zip(acc, outs[nf:])]
    return tuple(g + [typed(a, s) for a, s in zip(acc, out_types[nf:])])


def _tangent_body(body, body_vjp, nc, nf, n_acc):
    """The transpose of ``body_vjp`` in its cotangent inputs, next to the forward body: one
    step of the forward loop's tangent, ``t' = B t + C a`` (B, C: the body's Jacobians in
    the carries and the captured values; ``body_vjp`` computes ``B^T g, C^T g``). Inputs:
    consts, a (captured values' tangents), carries, t; outputs: carries', t'."""
    from compiler import autodiff
    nk = len(body.outputs)
    lc, lk = leaves_like(body_vjp.inputs[:nc]), leaves_like(body_vjp.inputs[nc:nc + nk])
    lg = leaves_like(body_vjp.inputs[nc + nk:])
    outs = instantiate(body_vjp.graph, lc + lk + lg)
    lt, la = leaves_like(outs[:nf]), leaves_like(outs[nf:nf + n_acc])
    tang = autodiff.vjp(outs, lt + la, lg)
    tang = [t if t is not None else P.full(0, g.shape, g.dtype) for t, g in zip(tang, lg)]
    # linear in g: what still reads g reads zeros
    tang = instantiate(Graph(lc + lk + lg + lt + la, tang),
                       lc + lk + [P.full(0, g.shape, g.dtype) for g in lg] + lt + la)
    step = instantiate(body.graph, lc + lk)
    return lc + la + lk + lt, step + tang, lc + lk


def _while_grad_vjp(cts, out, *ins, cond, body, body_vjp, n_consts, max_iter, out_types,
                    needed):
    """``while_grad(x, g) = J(x)^T g`` for the loop ``F`` (x: captured values and initial
    carries, J its Jacobian). With cotangents ``w`` of the outputs, ``<w, J^T g> = <J w, g>``:
    the tangent loop (the forward loop carrying ``J w``, the transpose of ``body_vjp``)
    gives the cotangent of ``g`` as its tangent output, and that of ``x`` as its own
    reverse mode with cotangent ``g`` on the tangent output and zero on the carries, ``w``
    held fixed (Hessian-vector products). That is a ``while_grad`` again: any order."""
    nc, nk = n_consts, len(body.outputs)
    nf = len(ins) - nc - nk
    n_acc = len(out_types) - nf
    seeds = [cts[i] if cts[i] is not None else _zeros(out_types[i]) for i in range(nf)]
    acc = [cts[nf + i] if cts[nf + i] is not None else _zeros(out_types[nf + i])
           for i in range(n_acc)]
    inputs, outputs, cond_inputs = _tangent_body(body, body_vjp, nc, nf, n_acc)
    cond_graph = Graph(inputs, instantiate(cond.graph, cond_inputs))
    types = tuple(_spec(x) for x in list(ins[nc:nc + nk]) + seeds)
    loop_ins = list(ins[:nc]) + acc + list(ins[nc:nc + nk]) + seeds
    loop_cond, loop_body = Body(cond_graph), Body(Graph(inputs, outputs))
    res = [None] * len(ins)
    if any(needed[:nc + nk]):
        # gradient of <g, tangent output> w.r.t. the captured values and initial carries
        back = _while_reverse((None,) * nk + tuple(ins[nc + nk:]), loop_ins, loop_cond,
                              loop_body, nc + n_acc, max_iter, types, nc)
        res[:nc] = back[:nc]
        res[nc:nc + nk] = back[nc + n_acc:nc + n_acc + nk]
    if any(needed[nc + nk:]):
        loop = while_loop(*loop_ins, cond=loop_cond, body=loop_body, n_consts=nc + n_acc,
                          max_iter=max_iter, out_types=types)
        res[nc + nk:] = [tuple_get(loop, index=nk + i) for i in range(nf)]
    return tuple(res)


# reverse mode of while_loop: cotangents of the carries and captured values from the final
# carry's cotangent
while_grad = declare("while_grad", infer=_while_grad_infer, impl=_while_grad_impl,
                     vjp=_while_grad_vjp, vjp_needs=True, kind="region",
                     regions=("cond", "body", "body_vjp"),
                     batch=region_batch.while_grad)

