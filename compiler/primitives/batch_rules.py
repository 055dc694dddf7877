"""Batching rules (``vmap``): how each primitive runs on a batch of its inputs at once.

Convention: a batched node carries the batch as its *leading* axis. A rule is called as
``rule(node, size, xs, batched)`` with the original (per-example) ``node``, the batch
``size``, the new inputs ``xs`` and, per input, whether it is batched (leading axis of
length ``size``) or not (the per-example shape, shared by every example). It returns one
node batched along its leading axis. Rules build primitives only, so batched graphs are
ordinary graphs: optimised, compiled, differentiated and batched again.

Rules are shared by kind where the kind fixes the answer: ``elementwise`` (broadcast the
unbatched operands, apply the same primitive), ``shift_axes``/``shift_axis`` (reductions
and axis-attribute data movement: every axis moves up by one). The rest are specific.
"""
from compiler import primitives as P
from compiler.batching import batch_graph


def lift(x, size):
    """An unbatched operand broadcast along a new leading batch axis (a view when fused)."""
    return P.broadcast_to(x, shape=(size,) + x.shape)


def all_batched(size, xs, batched):
    return [x if b else lift(x, size) for x, b in zip(xs, batched)]


def move_axis(x, src, dst):
    """``x`` with axis ``src`` moved to position ``dst`` (a transpose, or ``x`` itself)."""
    if src == dst:
        return x
    perm = [i for i in range(x.ndim) if i != src]
    perm.insert(dst, src)
    return P.transpose(x, perm=tuple(perm))


# -- shared rules ------------------------------------------------------------------------

def elementwise(node, size, xs, batched):
    """Equal-shape primitives: batch every operand, apply the same primitive."""
    return node.prim(*all_batched(size, xs, batched), **node.params)


def shift_axes(attr):
    """Rule for primitives whose ``attr`` is a tuple of axes of their (single) input."""
    def rule(node, size, xs, batched):
        params = node.params
        params[attr] = tuple(a + 1 for a in params[attr])
        return node.prim(*all_batched(size, xs, batched), **params)
    return rule


def shift_axis(attr):
    """Rule for primitives whose ``attr`` is one axis (argmax, concat): the axis moves up."""
    def rule(node, size, xs, batched):
        params = node.params
        params[attr] = params[attr] + 1
        return node.prim(*all_batched(size, xs, batched), **params)
    return rule


# -- data movement ---------------------------------------------------------------------

def broadcast_to(node, size, xs, batched):
    (x,) = xs
    shape = node.params["shape"]
    # align the per-example shape to the right of the target before adding the batch
    lead = len(shape) - (x.ndim - 1)
    if lead:
        x = P.reshape(x, shape=(size,) + (1,) * lead + x.shape[1:])
    return P.broadcast_to(x, shape=(size,) + shape)


def reshape(node, size, xs, batched):
    return P.reshape(xs[0], shape=(size,) + node.params["shape"])


def transpose(node, size, xs, batched):
    perm = node.params["perm"]
    return P.transpose(xs[0], perm=(0,) + tuple(p + 1 for p in perm))


def slice_(node, size, xs, batched):
    p = node.params
    return P.slice(xs[0], starts=(0,) + p["starts"], stops=(size,) + p["stops"],
                   steps=(1,) + p["steps"])


def pad(node, size, xs, batched):
    return P.pad(xs[0], config=((0, 0, 0),) + node.params["config"])


def _normalized(idx, n):
    """Indices in 0..n-1 (negative ones count from the end, as gather takes them)."""
    zero = P.full(0, idx.shape, idx.dtype)
    return P.select(P.less(idx, zero), P.add(idx, P.full(n, idx.shape, idx.dtype)), idx)


def _offsets(idx, size, n):
    """``idx`` (batched) plus ``b * n`` for example b: indices into the flattened batch."""
    rows = P.iota(shape=idx.shape, axis=0, dtype=idx.dtype.str)
    return P.add(_normalized(idx, n), P.mul(rows, P.full(n, idx.shape, idx.dtype)))


def gather(node, size, xs, batched):
    x, idx = xs
    bx, bi = batched
    axis = node.params["axis"]
    if not bi:
        return P.gather(x, idx, axis=axis + 1)
    if not bx:
        return move_axis(P.gather(x, idx, axis=axis), axis, 0)
    # both batched: fold the batch into the gathered axis and offset each example's indices
    n = x.shape[axis + 1]
    flat = move_axis(x, 0, axis)
    flat = P.reshape(flat, shape=flat.shape[:axis] + (size * n,) + flat.shape[axis + 2:])
    out = P.gather(flat, _offsets(idx, size, n), axis=axis)
    return move_axis(out, axis, 0)


def scatter_add(node, size, xs, batched):
    g, idx = xs
    bg, bi = batched
    axis, n = node.params["axis"], node.params["size"]
    if not bi:
        return P.scatter_add(g, idx, axis=axis + 1, size=n)
    if not bg:
        g = lift(g, size)
    # updates (B, pre, I..., post): move the batch next to the index axes, scatter into the
    # flattened (B * n) axis, then split it again
    moved = move_axis(g, 0, axis)
    out = P.scatter_add(moved, _offsets(idx, size, n), axis=axis, size=size * n)
    out = P.reshape(out, shape=out.shape[:axis] + (size, n) + out.shape[axis + 1:])
    return move_axis(out, axis, 0)


def matmul(node, size, xs, batched):
    a, b = xs
    ba, bb = batched
    if ba and bb:
        if a.shape[-1] == 1:
            # per-example outer products are an elementwise product (fused, no BLAS call)
            shape = a.shape[:-1] + b.shape[-1:]
            return P.mul(P.broadcast_to(a, shape=shape), P.broadcast_to(b, shape=shape))
        return P.matmul(a, b)
    if ba:
        # a (B, *batch, m, k) @ b (*batch, k, n): fold B into the rows, one product
        nb = a.ndim - 3
        m, k = a.shape[-2:]
        a = move_axis(a, 0, nb)
        a = P.reshape(a, shape=a.shape[:nb] + (size * m, k))
        out = P.matmul(a, b)
        out = P.reshape(out, shape=out.shape[:nb] + (size, m, out.shape[-1]))
        return move_axis(out, nb, 0)
    # a (*batch, m, k) @ b (B, *batch, k, n): fold B into the columns
    nb = b.ndim - 3
    k, n = b.shape[-2:]
    b = move_axis(b, 0, nb + 1)                     # (*batch, k, B, n)
    b = P.reshape(b, shape=b.shape[:nb] + (k, size * n))
    out = P.matmul(a, b)                            # (*batch, m, B * n)
    out = P.reshape(out, shape=out.shape[:nb] + (out.shape[-2], size, n))
    return move_axis(out, nb + 1, 0)


def custom_vjp(node, size, xs, batched):
    """The forward value is batched like any input; the gradient rule is batched by
    running it per example on stand-ins and batching the graph it builds."""
    rule = node.params["rule"]
    xs = all_batched(size, xs, batched)

    def batched_rule(g, out, inputs):
        stand = [P.input(shape=x.shape[1:], dtype=x.dtype) for x in inputs]
        g1 = P.input(shape=g.shape[1:], dtype=g.dtype)
        o1 = P.input(shape=out.shape[1:], dtype=out.dtype)
        grads = list(rule(g1, o1, stand))
        live = [gr for gr in grads if gr is not None]
        mapping = {id(s): x for s, x in zip(stand, inputs)}
        mapping[id(g1)], mapping[id(o1)] = g, out
        new = iter(batch_graph(live, mapping, size))
        return [next(new) if gr is not None else None for gr in grads]
    return P.custom_vjp(*xs, rule=batched_rule)



# -- per-example NHWC primitives: the batch folds into N ---------------------------------

def _fold(x, size):
    """(B, N, ...) -> (B * N, ...)."""
    return P.reshape(x, shape=(size * x.shape[1],) + x.shape[2:])


def _unfold(y, size):
    """(B * N, ...) -> (B, N, ...)."""
    return P.reshape(y, shape=(size, y.shape[0] // size) + y.shape[1:])


def fold_leading(node, size, xs, batched):
    """Single-input primitives acting on each entry of their leading axis independently
    (windows of NHWC images): the batch folds into that axis."""
    (x,) = xs
    params = node.params
    if "shape" in params:                # patches_transpose: the target shape's N grows
        params["shape"] = (size * params["shape"][0],) + tuple(params["shape"][1:])
    return _unfold(node.prim(_fold(x, size), **params), size)


def conv2d(node, size, xs, batched):
    x, w = xs
    bx, bw = batched
    if not bw:
        return _unfold(P.conv2d(_fold(x, size), w, **node.params), size)
    # per-example filters: each example's windows (im2col of its images) times its own
    # filters, one batched product (the work of B convolutions, no loop)
    x = lift(x, size) if not bx else x                  # (B, N, H, W, C)
    n, c = x.shape[1], x.shape[4]
    kh, kw, _, o = w.shape[1:]
    (pt, pb), (pl, pr) = node.params["padding"]
    xf = _fold(x, size)
    if pt or pb or pl or pr:
        xf = P.pad(xf, config=((0, 0, 0), (pt, pb, 0), (pl, pr, 0), (0, 0, 0)))
    win = P.patches(xf, ksize=(kh, kw), strides=node.params["strides"],
                    dilations=node.params["dilations"])          # (B * N, OH, OW, KH, KW, C)
    oh, ow = win.shape[1:3]
    cols = P.reshape(win, shape=(size, n * oh * ow, kh * kw * c))
    out = P.matmul(cols, P.reshape(w, shape=(size, kh * kw * c, o)))
    return P.reshape(out, shape=(size, n, oh, ow, o))
