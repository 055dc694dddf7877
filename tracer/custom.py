"""``tt.custom_gradient``: TensorFlow semantics, built on the ``custom_vjp`` primitive.

The decorated function returns ``(y, grad_fn)``. When a gradient may be needed (a tape
watches an input, or we are tracing) ``grad_fn`` is called once, right away, on a symbolic
upstream gradient, so its gradient is an expression in primitives: the upstream ``dy``,
the inputs ``xs``, and *external* values it closed over. The result is the node
``custom_vjp(*xs, *externals, y)`` whose rule substitutes the actual cotangent and inputs
into that expression. Being self-contained, the rule survives graph rewrites and splicing,
and the expression can itself be differentiated (second order and beyond).

Several outputs: ``f`` returns ``(ys, grad_fn)`` with ``ys`` a list or tuple, and
``grad_fn(*dys)``; each output becomes its own node whose rule is ``grad_fn`` with the
other outputs' upstream gradients zero (a gradient is linear in the upstream gradients).
Variables: trainable Variables read by ``f`` are found while it runs; ``grad_fn`` is then
called as ``grad_fn(*dys, variables=[...])`` and returns ``(input_grads, variable_grads)``
(TensorFlow's protocol), and the Variables are inputs of the nodes, so tapes (and tapes
inside ``tt.function``) get their gradients.
"""
import functools
import inspect

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
        return make(None, self.capture(v._share()))

    def read_variable(self, v):
        if self.parent is not None:
            return self.parent.read_variable(v)
        return self.capture_variable(v)

    def assign_variable(self, v, value):
        raise RuntimeError(f"custom_gradient: {self.name}'s grad_fn assigns Variable {v.name}; "
                           f"a gradient function may read Variables but not update them")

    def describe(self, node):
        return f"the upstream gradient of custom_gradient function {self.name}"


def _split(out, name):
    """(output tensors, rebuild, grad_fn) from ``f``'s ``(ys, grad_fn)``."""
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and callable(out[1])):
        raise TypeError(f"custom_gradient: {name} must return a pair (y, grad_fn) with "
                        f"grad_fn callable, got {type(out).__name__}")
    ys, grad_fn = out
    if isinstance(ys, (list, tuple)):
        kind = type(ys)
        return [_tensor(y) for y in ys], (lambda ts: kind(ts)), grad_fn
    return [_tensor(ys)], (lambda ts: ts[0]), grad_fn


def _tensor(y):
    if isinstance(y, Variable):
        return y._read()
    return y if type(y) is Tensor else convert_to_tensor(y, op="custom_gradient")


def _takes_variables(grad_fn):
    try:
        params = inspect.signature(grad_fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "variables" or p.kind == p.VAR_KEYWORD for p in params)


def _call_grad_fn(grad_fn, dys, variables, name, n_inputs):
    """(input gradients, variable gradients) as returned by ``grad_fn``."""
    if not variables:
        res = grad_fn(*dys)
        # one gradient not in a list: the one input's (or, for several inputs, a miscount
        # that _grad_nodes names)
        return (list(res) if isinstance(res, (list, tuple)) else [res]), []
    if not _takes_variables(grad_fn):
        raise TypeError(f"custom_gradient: {name} reads Variables "
                        f"({', '.join(v.name for v in variables)}), so its grad_fn must accept "
                        f"a keyword argument 'variables' and return (input_grads, "
                        f"variable_grads)")
    res = grad_fn(*dys, variables=list(variables))
    if not (isinstance(res, (list, tuple)) and len(res) == 2):
        raise TypeError(f"custom_gradient: {name}'s grad_fn was given variables, so it must "
                        f"return a pair (input_grads, variable_grads)")
    gx, gv = res
    gx = list(gx) if isinstance(gx, (list, tuple)) else [gx]
    gv = [gv] if len(variables) == 1 and not isinstance(gv, (list, tuple)) else list(gv)
    if len(gv) != len(variables):
        raise ValueError(f"custom_gradient: {name}'s grad_fn returned {len(gv)} variable "
                         f"gradients for {len(variables)} variables; return one per variable")
    return gx, gv


def _grad_nodes(grad_fn, ctx, dys, xs, variables):
    """Call ``grad_fn`` on the symbolic ``dys``; one node (or None) per input and per
    Variable."""
    with ctx:
        gx, gv = _call_grad_fn(grad_fn, [make(None, d) for d in dys], variables, ctx.name,
                               len(xs))
        if len(gx) != len(xs):
            raise ValueError(f"custom_gradient: {ctx.name}'s grad_fn returned {len(gx)} "
                             f"gradients for {len(xs)} inputs; return one per input")
        targets = list(xs) + list(variables)        # shapes and dtypes
        return [_fit(r, x, i, ctx.name) for i, (r, x) in enumerate(zip(gx + gv, targets))]


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


def _custom_nodes(x_nodes, y_nodes, dys, grads):
    """One ``custom_vjp(*xs, *externals, y_k)`` per output, and the externals. The rule of
    output k substitutes its cotangent for ``dys[k]`` and zeros for the other outputs'."""
    ext = _externals(grads, dys + x_nodes)
    orig = x_nodes + ext
    live = [g for g in grads if g is not None]

    def rule_for(k):
        def rule(g, out, inputs):
            mapping = {id(d): P.full(0, d.shape, d.dtype) for d in dys}
            mapping[id(dys[k])] = g
            mapping.update({id(o): n for o, n in zip(orig, inputs)})
            new = iter(substitute(live, mapping)[0])
            gx = [next(new) if gr is not None else None for gr in grads]
            return gx + [None] * len(ext)
        return rule
    return [P.custom_vjp(*orig, y, rule=rule_for(k)) for k, y in enumerate(y_nodes)], ext


class _VariableSpy:
    """Stands in for the active trace context while ``f`` runs, noting the Variables read
    (the context itself memoises captures, so it cannot tell what ``f`` read)."""

    def __init__(self, trace):
        self._trace = trace
        self.read = {}

    def capture_variable(self, v):
        t = self._trace.capture_variable(v)
        if v.trainable:
            self.read.setdefault(id(v), (v, t))
        return t

    def read_variable(self, v):
        t = self._trace.read_variable(v)
        if v.trainable:
            self.read.setdefault(id(v), (v, t))
        return t

    def __getattr__(self, name):
        return getattr(self._trace, name)

    def __setattr__(self, name, value):
        # the trace's own state (control flow sets ``assigned`` and ``regions``) is the
        # trace's: setting it on the spy would hide it from the trace
        if name in ("_trace", "read"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._trace, name, value)


def _traced(f, xs, kwargs, name):
    trace = STATE.trace
    spy = STATE.trace = _VariableSpy(trace)
    try:
        ys, rebuild, grad_fn = _split(f(*xs, **kwargs), name)
    finally:
        STATE.trace = trace
    if all(y._value is not None for y in ys):
        return rebuild(ys)          # depends on nothing traced: constants
    variables = [v for v, _ in spy.read.values()]
    x_nodes = [node_of(x) for x in xs] + [t._node for _, t in spy.read.values()]
    dys = [P.input(shape=y.shape, dtype=y.dtype) for y in ys]
    grads = _grad_nodes(grad_fn, _GradContext(name, trace, None), dys, xs, variables)
    nodes, _ = _custom_nodes(x_nodes, [node_of(y) for y in ys], dys, grads)
    return rebuild([traced_result(n, xs, [n]) for n in nodes])


def _forward_on_private_tape(f, xs, kwargs, name):
    """Run ``f`` recorded only by a private tape that watches the inputs and the trainable
    Variables ``f`` reads; the enclosing tapes then watch those Variables as if read."""
    private = GradientTape(persistent=True, watch_accessed_variables=True)
    saved, STATE.tapes = STATE.tapes, [private]
    try:
        for x in xs:
            if x.dtype.kind == "f":
                private.watch(x)
        out = f(*xs, **kwargs)
    finally:
        STATE.tapes = saved
    variables = [v for v in private.watched_variables() if v.dtype.kind == "f"]
    for v in variables:
        v._read()                    # auto-watching enclosing tapes watch it now
    return private, _split(out, name), variables


def _taped(f, xs, kwargs, name):
    private, (ys, rebuild, grad_fn), variables = _forward_on_private_tape(f, xs, kwargs, name)
    var_ts = [v._share() for v in variables]
    hit = watching(list(xs) + var_ts)
    if not hit:
        return rebuild([make(y._value) for y in ys])
    x_nodes = [node_of(x) for x in xs] + [node_of(t) for t in var_ts]
    dys = [P.input(shape=y.shape, dtype=y.dtype) for y in ys]
    ctx = _GradContext(name, None, private)
    grads = _grad_nodes(grad_fn, ctx, dys, xs, variables)
    y_inner = [y._node if y._node is not None and y._node in private.active else
               P.input(shape=y.shape, dtype=y.dtype) for y in ys]
    nodes, ext = _custom_nodes(x_nodes, y_inner, dys, grads)
    known = dict(private.values)
    known.update(ctx.values)
    missing = [n for n in ext if n not in known]
    if missing:
        raise RuntimeError(f"custom_gradient: {name}'s grad_fn uses a value the forward pass "
                           f"did not record ({missing[0]!r})")
    args = list(xs) + var_ts + [make(known[n], n) for n in ext]
    outs = []
    for node, y, yi in zip(nodes, ys, y_inner):
        out = make(y._value)
        commit(hit, node, out, args + [make(y._value, yi)], [node])
        outs.append(out)
    return rebuild(outs)


def custom_gradient(f):
    """Decorate ``f(*xs) -> (y, grad_fn)`` so that the gradient of ``y`` with respect to
    ``xs`` is ``grad_fn(upstream)`` (one gradient, or a list with one per input). ``y`` may
    be a list of outputs (``grad_fn(*upstreams)``); when ``f`` reads trainable Variables,
    ``grad_fn(*upstreams, variables=vs)`` returns ``(input_grads, variable_grads)``.

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
        if STATE.tapes:
            return _taped(f, xs, kwargs, name)
        ys, rebuild, _ = _split(f(*xs, **kwargs), name)
        return rebuild(ys)
    return wrapper
