"""Batching rules (``vmap``) of the control-flow primitives (see ``compiler.regions``).

A region rule returns one ``(node, batched)`` pair per output of the region (the batching
pass hands them to the region's ``tuple_get`` nodes), so outputs that do not depend on the
batch stay unbatched. Bodies are batched with the same pass as the enclosing graph:

- ``cond``: with a shared index, the branches are batched and the cond is kept (only the
  chosen branch runs). With a batched index every branch runs on the whole batch and
  ``select`` picks each example's result (as JAX does: a per-example branch cannot be one
  control-flow decision). Each branch reads its operands through ``stop_gradient`` in the
  examples that do not take it, so its derivative there (NaN for ``sqrt`` of a negative)
  never reaches their gradients.
- ``scan``: the body is batched; a carry is batched when its initial value is or when the
  body makes it depend on the batch (found by a fixed point over the carries); batched xs
  and ys carry the batch on their second axis inside the loop.
- ``while_loop`` and ``while_grad``: with a shared predicate the bodies are batched as for
  scan. With a batched predicate the loop runs while any example's predicate holds, and
  each step keeps the carry of the examples whose predicate is false (``select``), so each
  example stops where it would alone (the steps it no longer takes are cut from its
  gradient, as untaken branches); the gradient loop masks its steps the same way.
"""
import numpy as np

from compiler import primitives as P
from compiler.batching import batch
from compiler.primitives.batch_rules import lift, move_axis
from compiler.ir import Graph
from compiler.regions import Body, instantiate, leaves_like

INT32 = np.dtype("int32")


def _spec(x, size=None):
    shape = tuple(x.shape)
    return ((size,) + shape if size is not None else shape), x.dtype.str


def _leaves(body, size, in_batched):
    return [P.input(shape=(size,) + tuple(x.shape), dtype=x.dtype) if b else x
            for x, b in zip(body.inputs, in_batched)]


def batch_body(body, size, in_batched, force=None):
    """``(Body, out_batched)``: ``body`` with inputs ``in_batched`` carrying a leading batch
    axis; outputs flagged in ``force`` are batched even when they do not depend on it."""
    leaves = _leaves(body, size, in_batched)
    mapping = {id(x): leaf for x, leaf, b in zip(body.inputs, leaves, in_batched) if b}
    outs, flags = batch(list(body.outputs), mapping, size)
    if force is not None:
        outs = [lift(o, size) if f and not b else o for o, b, f in zip(outs, flags, force)]
        flags = [b or f for b, f in zip(flags, force)]
    return Body(Graph(leaves, outs)), flags


def out_flags(body, size, in_batched):
    """Which outputs of ``body`` depend on the batch, given which inputs carry it."""
    return batch_body(body, size, in_batched)[1]


def _carry_fixpoint(body, size, consts_b, carry_b, rest_b=()):
    """Carry flags closed under the body: a carry the body makes batched is batched."""
    carry_b = list(carry_b)
    while True:
        flags = out_flags(body, size, list(consts_b) + carry_b + list(rest_b))
        new = [a or b for a, b in zip(carry_b, flags[:len(carry_b)])]
        if new == carry_b:
            return carry_b
        carry_b = new


def _outputs(region, batched):
    return [(P.tuple_get(region, index=i), b) for i, b in enumerate(batched)]


def _mask_like(pred, x):
    """A batched bool ``(size,)`` broadcast to the batched shape of ``x``."""
    if x.ndim > 1:
        pred = P.reshape(pred, shape=pred.shape + (1,) * (x.ndim - 1))
        pred = P.broadcast_to(pred, shape=tuple(x.shape))
    return pred


# -- cond -----------------------------------------------------------------------------------

def cond(node, size, xs, batched):
    index, ops = xs[0], xs[1:]
    branches, out_types = node.params["branches"], node.params["out_types"]
    if not batched[0]:
        flags = [False] * len(out_types)
        for br in branches:
            flags = [a or b for a, b in zip(flags, out_flags(br, size, batched[1:]))]
        new = tuple(batch_body(br, size, batched[1:], force=flags)[0] for br in branches)
        types = tuple(((size,) + tuple(s) if f else tuple(s), d)
                      for (s, d), f in zip(out_types, flags))
        region = P.cond(index, *ops, branches=new, out_types=types)
        return _outputs(region, flags)
    ops = [o if b else lift(o, size) for o, b in zip(ops, batched[1:])]
    results = []
    for k, br in enumerate(branches):
        body, _ = batch_body(br, size, [True] * len(ops), force=[True] * len(out_types))
        results.append(instantiate(body.graph, _taken_only(index, k, len(branches), ops)))
    outs = []
    for j in range(len(out_types)):
        out = results[-1][j]
        for k in range(len(branches) - 2, -1, -1):
            # clamped index: branch k is chosen where index <= k (and no earlier branch is)
            chosen = P.less_equal(index, P.full(k, (size,), INT32))
            out = P.select(_mask_like(chosen, out), results[k][j], out)
        outs.append((out, True))
    return outs


def _chosen(index, k, n):
    """Where the clamped batched ``index`` picks branch ``k`` of ``n``."""
    size = index.shape[0]
    if k == 0:
        return P.less_equal(index, P.full(0, (size,), INT32))
    if k == n - 1:
        return P.greater_equal(index, P.full(k, (size,), INT32))
    return P.equal(index, P.full(k, (size,), INT32))


def _taken_only(index, k, n, ops):
    """Branch ``k``'s operands, differentiable only in the examples that take branch ``k``.

    Every branch runs on the whole batch, so an untaken branch's backward pass sees a zero
    cotangent, and 0 times its infinite or NaN derivative (``sqrt`` at a negative) is NaN:
    passing ``stop_gradient`` of the operand where the branch is not taken lets the
    ``select`` drop that NaN, so gradients are those of the branch each example takes (as
    JAX's batched cond)."""
    if n < 2:
        return ops
    chosen = _chosen(index, k, n)
    return [_where_differentiable(chosen, o) for o in ops]


def _where_differentiable(pred, x):
    """``x``'s values; its gradient only where the batched bool ``pred`` holds."""
    if x.dtype.kind != "f":
        return x
    return P.select(_mask_like(pred, x), x, P.stop_gradient(x))


# -- scan -------------------------------------------------------------------------------------

def scan(node, size, xs, batched):
    p = node.params
    nc, nk, length = p["n_consts"], p["n_carry"], p["length"]
    body = p["body"]
    consts_b, xs_b = batched[:nc], batched[nc + nk:]
    carry_b = _carry_fixpoint(body, size, consts_b, batched[nc:nc + nk], xs_b)
    in_b = list(consts_b) + carry_b + list(xs_b)
    new_body, flags = batch_body(body, size, in_b,
                                 force=carry_b + [False] * (len(body.outputs) - nk))
    ins = list(xs[:nc])
    ins += [c if b or not f else lift(c, size)
            for c, b, f in zip(xs[nc:nc + nk], batched[nc:nc + nk], carry_b)]
    ins += [move_axis(x, 0, 1) if b else x for x, b in zip(xs[nc + nk:], xs_b)]
    types = [((size,) + tuple(s) if f else tuple(s), d)
             for (s, d), f in zip(p["out_types"][:nk], carry_b)]
    types += [((length, size) + tuple(s)[1:] if f else tuple(s), d)
              for (s, d), f in zip(p["out_types"][nk:], flags[nk:])]
    region = P.scan(*ins, body=new_body, n_consts=nc, n_carry=nk, length=length,
                    reverse=p["reverse"], out_types=tuple(types))
    outs = _outputs(region, carry_b + flags[nk:])
    return outs[:nk] + [(move_axis(y, 1, 0), True) if f else (y, False) for y, f in outs[nk:]]


# -- while_loop ----------------------------------------------------------------------------

def _masked_body(cond_body, step_body, n_in, keep_from, n_keep, n_zero=0):
    """Batched ``step_body``, masked by the batched predicate ``cond_body``
    (which reads the first ``n_in`` inputs): where it is false, the first ``n_keep`` outputs
    keep the inputs from ``keep_from`` on (the carried values) and the next ``n_zero`` are
    zeros (accumulated cotangents)."""
    leaves = leaves_like(step_body.inputs)       # the bodies are batched already
    pred = instantiate(cond_body.graph, leaves[:n_in])[0]
    # a finished example's step is computed and dropped: its inputs are stop_gradient'ed
    # there, so its backward pass (0 times a derivative that may be NaN or infinite)
    # is dropped as well
    step = instantiate(step_body.graph, [_where_differentiable(pred, x) for x in leaves])
    kept = leaves[keep_from:keep_from + n_keep]
    outs = [P.select(_mask_like(pred, s), s, k) for s, k in zip(step[:n_keep], kept)]
    outs += [P.select(_mask_like(pred, s), s, P.full(0, s.shape, s.dtype))
             for s in step[n_keep:n_keep + n_zero]]
    return Body(Graph(leaves, outs))


def _any_body(cond_body, n_in):
    leaves = leaves_like(cond_body.inputs)
    pred = instantiate(cond_body.graph, leaves[:n_in])[0]
    count = P.reduce_max(P.cast(pred, dtype=INT32), axes=(0,))
    return Body(Graph(leaves, [P.greater(count, P.full(0, (), INT32))]))


def _all_batched_cond(cond_body, size):
    return batch_body(cond_body, size, [True] * len(cond_body.inputs), force=[True])[0]


def while_loop(node, size, xs, batched):
    p = node.params
    nc, cond_body, body = p["n_consts"], p["cond"], p["body"]
    nk = len(xs) - nc
    carry_b = _carry_fixpoint(body, size, batched[:nc], batched[nc:])
    in_b = list(batched[:nc]) + carry_b
    if not out_flags(cond_body, size, in_b)[0]:
        new_cond, _ = batch_body(cond_body, size, in_b)
        new_body, _ = batch_body(body, size, in_b, force=carry_b)
        ins = [x if b or not f else lift(x, size) for x, b, f in zip(xs, batched, in_b)]
        types = tuple(_spec(x) for x in ins[nc:])
        region = P.while_loop(*ins, cond=new_cond, body=new_body, n_consts=nc,
                              max_iter=p["max_iter"], out_types=types)
        return _outputs(region, carry_b)
    # a per-example predicate: every carry is batched, finished examples keep their carry
    ins = [x if b else lift(x, size) for x, b in zip(xs, batched)]
    bc = _all_batched_cond(cond_body, size)
    bb, _ = batch_body(body, size, [True] * len(xs), force=[True] * nk)
    types = tuple(_spec(x) for x in ins[nc:])
    region = P.while_loop(*ins, cond=_any_body(bc, len(xs)),
                          body=_masked_body(bc, bb, len(xs), nc, nk),
                          n_consts=nc, max_iter=p["max_iter"], out_types=types)
    return _outputs(region, [True] * nk)


def while_grad(node, size, xs, batched):
    p = node.params
    nc, cond_body, body, body_vjp = p["n_consts"], p["cond"], p["body"], p["body_vjp"]
    nk = len(body.outputs)
    n_in = nc + nk
    nf = len(xs) - n_in
    n_acc = len(p["out_types"]) - nf
    carry_b = _carry_fixpoint(body, size, batched[:nc], batched[nc:n_in])
    in_b = list(batched[:nc]) + carry_b
    every = [True] * len(p["out_types"])
    if not out_flags(cond_body, size, in_b)[0]:
        # a shared trip count: the cotangents and accumulators are batched, the rest as is
        new_cond, _ = batch_body(cond_body, size, in_b)
        new_body, _ = batch_body(body, size, in_b, force=carry_b)
        new_vjp, _ = batch_body(body_vjp, size, in_b + [True] * nf, force=every)
        ins = [x if b or not f else lift(x, size)
               for x, b, f in zip(xs, batched, in_b + [True] * nf)]
    else:
        ins = [x if b else lift(x, size) for x, b in zip(xs, batched)]
        bc = _all_batched_cond(cond_body, size)
        bb, _ = batch_body(body, size, [True] * n_in, force=[True] * nk)
        bv, _ = batch_body(body_vjp, size, [True] * len(xs), force=every)
        new_cond = _any_body(bc, n_in)
        new_body = _masked_body(bc, bb, n_in, nc, nk)
        new_vjp = _masked_body(bc, bv, n_in, n_in, nf, n_acc)
    types = tuple((((size,) + tuple(s)), d) for s, d in p["out_types"])
    region = P.while_grad(*ins, cond=new_cond, body=new_body, body_vjp=new_vjp, n_consts=nc,
                          max_iter=p["max_iter"], out_types=types)
    return _outputs(region, every)


def tuple_get(node, size, xs, batched):
    raise RuntimeError("vmap: tuple_get is batched with its region (the batching pass reads "
                       "the region rule's outputs)")
