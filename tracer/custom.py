"""``tt.custom_gradient``: TensorFlow semantics, built on the ``custom_vjp`` primitive.

The decorated function returns ``(y, grad_fn)``. When a gradient may be needed (a tape
watches an input, or we are tracing) ``grad_fn`` is called once, right away, on a symbolic
upstream gradient, so its gradient is an expression in primitives: the upstream ``dy``,
the inputs ``xs``, and *external* values it closed over. The result is the node
``custom_vjp(*xs, *externals, y)`` whose rule substitutes the actual cotangent and inputs
into that expression. Being self-contained, the rule survives graph rewrites and splicing,
and the expression can itself be differentiated (second order and beyond).

Limitations: one output tensor ``y``; closed-over values and Variables read inside are
constants to the custom gradient (TensorFlow's ``variables=`` argument is not supported).
"""
import functools

from compiler import primitives as P
from compiler.ir import toposort
from tracer.convert import convert_to_tensor
from tracer.ops import cast
from tracer.recording import commit, make, node_of, traced_result, watching
from tracer.shape_ops import broadcast_to
from tracer.state import STATE
from tracer.tape import GradientTape
from tracer.tensor import Tensor
from tracer.tracing import substitute
from tracer.variable import Variable


class _GradContext:
    """The trace state while ``grad_fn`` runs on the symbolic upstream gradient."""

    def __init__(self, name, parent, private):
        self.name = name
        self.parent = parent        # enclosing trace (traced call) or None (eager call)
        self.private = private      # the tape that recorded the eager forward pass
        self.values = {}            # leaf -> eager value, for captured eager tensors
        self._memo = {}

    def __enter__(self):
        # eager call: the private tape keeps recording, so values computed from the inputs
        # inside grad_fn (e.g. ``1 + e``) stay expressions of the inputs, not constants
        self.saved = STATE.trace, STATE.tapes
        STATE.trace, STATE.tapes = self, [self.private] if self.private is not None else []
        return self

    def __exit__(self, *exc):
        STATE.trace, STATE.tapes = self.saved
        return False

    def capture(self, t):
        if self.parent is not None:
            return self.parent.capture(t)
        n = t._node
        if n is not None and n in self.private.active:
            return n                # computed from the inputs by the forward pass
        hit = self._memo.get(id(t))
        if hit is None:
            leaf = P.input(shape=t.shape, dtype=t.dtype)
            hit = self._memo[id(t)] = (t, leaf)
            self.values[leaf] = t._value
        return hit[1]

    def capture_variable(self, v):
        if self.parent is not None:
            return self.parent.capture_variable(v)
        return make(None, self.capture(v._tensor))

    def describe(self, node):
        return f"the upstream gradient of custom_gradient function {self.name}"


def _split(out, name):
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and callable(out[1])):
        raise TypeError(f"custom_gradient: {name} must return a pair (y, grad_fn) with "
                        f"grad_fn callable, got {type(out).__name__}")
    y, grad_fn = out
    if type(y) is not Tensor:
        y = convert_to_tensor(y, op="custom_gradient")
    return y, grad_fn


def _grad_nodes(grad_fn, ctx, dy, xs):
    """Call ``grad_fn`` on the symbolic ``dy``; one node (or None) per input."""
    with ctx:
        res = grad_fn(make(None, dy))
        if len(xs) == 1 and not isinstance(res, (list, tuple)):
            res = [res]
        res = list(res)
        if len(res) != len(xs):
            raise ValueError(f"custom_gradient: {ctx.name}'s grad_fn returned {len(res)} "
                             f"gradients for {len(xs)} inputs; return one per input")
        return [_fit(r, x, i, ctx.name) for i, (r, x) in enumerate(zip(res, xs))]


def _fit(g, x, i, name):
    if g is None or x.dtype.kind != "f":
        return None
    g = convert_to_tensor(g, op="custom_gradient") if type(g) is not Tensor else g
    if g.shape != x.shape:
        try:
            g = broadcast_to(g, x.shape)
        except ValueError:
            raise ValueError(f"custom_gradient: {name}'s grad_fn returned a gradient of shape "
                             f"{g.shape} for input {i} of shape {x.shape}; shapes must "
                             f"match") from None
    if g.dtype != x.dtype:
        g = cast(g, x.dtype)
    return node_of(g)


def _externals(grads, sources):
    """Nodes the gradient expression uses that do not depend on ``sources`` but do on
    some input leaf: they become inputs of the custom_vjp node."""
    src = {id(n) for n in sources}
    outs = [g for g in grads if g is not None]
    dep, leafy, found, ext = set(src), set(), set(), []
    for n in toposort(outs, stop=lambda m: id(m) in src):
        if id(n) in src:
            continue
        if any(id(x) in dep for x in n.inputs):
            dep.add(id(n))
        if n.prim is P.input or any(id(x) in leafy for x in n.inputs):
            leafy.add(id(n))
        if id(n) in dep:
            for x in n.inputs:
                if id(x) not in dep and id(x) in leafy and id(x) not in found:
                    found.add(id(x))
                    ext.append(x)
    for g in outs:
        if id(g) not in dep and id(g) in leafy and id(g) not in found:
            found.add(id(g))
            ext.append(g)
    return ext


def _custom_node(x_nodes, y_node, dy, grads):
    """``custom_vjp(*xs, *externals, y)`` and the externals."""
    ext = _externals(grads, [dy] + x_nodes)
    orig = x_nodes + ext
    live = [g for g in grads if g is not None]

    def rule(g, out, inputs):
        mapping = {id(dy): g}
        mapping.update({id(o): n for o, n in zip(orig, inputs)})
        new = iter(substitute(live, mapping)[0])
        gx = [next(new) if gr is not None else None for gr in grads]
        return gx + [None] * len(ext)
    return P.custom_vjp(*orig, y_node, rule=rule), ext


def _traced(f, xs, kwargs, name):
    y, grad_fn = _split(f(*xs, **kwargs), name)
    if y._value is not None:
        return y                    # does not depend on anything traced: a constant
    x_nodes = [node_of(x) for x in xs]
    dy = P.input(shape=y.shape, dtype=y.dtype)
    grads = _grad_nodes(grad_fn, _GradContext(name, STATE.trace, None), dy, xs)
    node, _ = _custom_node(x_nodes, y._node, dy, grads)
    return traced_result(node, xs, [node])


def _taped(f, xs, kwargs, name, hit):
    private = GradientTape(persistent=True, watch_accessed_variables=False)
    saved, STATE.tapes = STATE.tapes, [private]
    try:
        for x in xs:
            if x.dtype.kind == "f":
                private.watch(x)
        out = f(*xs, **kwargs)
    finally:
        STATE.tapes = saved
    y, grad_fn = _split(out, name)
    x_nodes = [node_of(x) for x in xs]
    dy = P.input(shape=y.shape, dtype=y.dtype)
    ctx = _GradContext(name, None, private)
    grads = _grad_nodes(grad_fn, ctx, dy, xs)
    y_inner = y._node if y._node is not None and y._node in private.active else \
        P.input(shape=y.shape, dtype=y.dtype)
    node, ext = _custom_node(x_nodes, y_inner, dy, grads)
    known = dict(private.values)
    known.update(ctx.values)
    missing = [n for n in ext if n not in known]
    if missing:
        raise RuntimeError(f"custom_gradient: {name}'s grad_fn uses a value the forward pass "
                           f"did not record ({missing[0]!r})")
    out = make(y._value)
    args = list(xs) + [make(known[n], n) for n in ext] + [make(y._value, y_inner)]
    commit(hit, node, out, args, [node])
    return out


def custom_gradient(f):
    """Decorate ``f(*xs) -> (y, grad_fn)`` so that the gradient of ``y`` with respect to
    ``xs`` is ``grad_fn(upstream)`` (one gradient, or a list with one per input).

    >>> @tt.custom_gradient
    ... def log1pexp(x):
    ...     e = tt.exp(x)
    ...     return tt.math.log1p(e), lambda dy: dy * (1 - 1 / (1 + e))
    """
    name = getattr(f, "__name__", type(f).__name__)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        xs = [a if type(a) is Tensor else a._read() if isinstance(a, Variable) else
              convert_to_tensor(a, op="custom_gradient") for a in args]
        if STATE.trace is not None:
            return _traced(f, xs, kwargs, name)
        hit = watching(xs) if STATE.tapes else None
        if hit:
            return _taped(f, xs, kwargs, name, hit)
        return _split(f(*xs, **kwargs), name)[0]
    return wrapper
