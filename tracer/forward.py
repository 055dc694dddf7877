"""Forward mode and function-style reverse mode: ``jvp``, ``linearize``, ``vjp``,
``jacfwd``, ``jacrev`` (JAX semantics).

Each is a ``Staged`` function (traced, optimised, compiled and cached per signature, and
spliced into an enclosing trace or recorded on tapes), so they compose with ``grad``,
``vmap``, ``function`` and each other to any order. Tangents come from
``compiler.forward.jvp`` (forward mode derived from the gradient rules); Jacobians batch
one tangent (``jacfwd``) or one cotangent (``jacrev``) over the standard basis with
``compiler.batching``, so a Jacobian is one batched sweep, not one sweep per column.
"""
import weakref

from compiler import autodiff, batching
from compiler import forward as fwd
from compiler import primitives as P
from compiler.ir import toposort
from compiler.primitives.batch_rules import move_axis
from tracer import nest, serialize
from tracer.convert import convert_to_tensor
from tracer.recording import make, node_of
from tracer.function import Staged
from tracer.tensor import Tensor
from tracer.variable import Variable
from tracer.tracing import substitute
from tracer.transforms import _argnums, _name, _prepare, _sources, grad

_STAGED = weakref.WeakKeyDictionary()
_SPECS = weakref.WeakKeyDictionary()


def _staged(fn, kind, build):
    """One ``Staged`` per (function, transform), so repeated eager calls reuse its cache."""
    try:
        per = _STAGED.setdefault(fn, {})
    except TypeError:                   # not weak-referenceable: no reuse across calls
        return Staged(fn, build(), f"{kind}({_name(fn)})", prepare=_tensors)
    st = per.get(kind)
    if st is None:
        st = per[kind] = Staged(fn, build(), f"{kind[0] if isinstance(kind, tuple) else kind}"
                                f"({_name(fn)})", prepare=_tensors)
    return st


def _tensor(x, op):
    if type(x) is Tensor:
        return x
    if isinstance(x, Variable):
        return x._read()
    return convert_to_tensor(x, op=op)


def _tensors(args):
    """Python numbers and arrays in the primal/tangent structures become tensors."""
    out = []
    for a in args:
        leaves, rebuild = nest.flatten(a)
        out.append(rebuild([x if type(x) is Tensor else _tensor(x, "transform")
                            for x in leaves]))
    return tuple(out)


def _out_tensors(out, op, name):
    leaves, rebuild = nest.flatten(out)
    try:
        return [_tensor(y, op) for y in leaves], rebuild
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must return tensors (or a structure of them)") from None


def _match(values, like, op, what):
    """Leaves of ``values``, checked against the leaves of ``like`` (structure, shapes)."""
    v_leaves, _ = nest.flatten(values)
    l_leaves, rebuild = nest.flatten(like)
    if len(v_leaves) != len(l_leaves) or repr(nest.flatten(values)[1](
            ["*"] * len(v_leaves))) != repr(rebuild(["*"] * len(l_leaves))):
        raise TypeError(f"{op}: {what} must have the structure of the "
                        f"{'primals' if what == 'tangents' else 'outputs'}, got "
                        f"{len(v_leaves)} leaves for {len(l_leaves)}")
    for i, (v, p) in enumerate(zip(v_leaves, l_leaves)):
        if v.shape != p.shape:
            raise ValueError(f"{op}: {what} leaf {i} has shape {v.shape}, expected {p.shape}")
        if v.dtype != p.dtype:
            raise TypeError(f"{op}: {what} leaf {i} has dtype {v.dtype}, expected {p.dtype}")
    return v_leaves


# -- jvp and linearize ---------------------------------------------------------------------

def _jvp_build(fn, op, has_aux=False):
    name = _name(fn)

    def build(args, kwargs):
        primals, tangents = args
        out, aux = _split_aux(fn(*primals), has_aux, op, name)
        ys, rebuild = _out_tensors(out, op, name)
        ps = nest.flatten(list(primals))[0]
        ts = _match(list(tangents), list(primals), op, "tangents")
        live = [(node_of(p), node_of(t)) for p, t in zip(ps, ts) if p.dtype.kind == "f"]
        jts = fwd.jvp([node_of(y) for y in ys], [p for p, _ in live], [t for _, t in live])
        res = rebuild(ys), rebuild([make(None, n) for n in jts])
        return res + (aux,) if has_aux else res
    return lambda: build


def _pair(primals, tangents, op):
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{op}: primals and tangents must be tuples or lists (one entry per "
                        f"argument), got {type(primals).__name__} and "
                        f"{type(tangents).__name__}")
    if len(primals) != len(tangents):
        raise TypeError(f"{op}: {len(primals)} primals but {len(tangents)} tangents; give one "
                        f"tangent per primal")


def jvp(fn, primals, tangents, has_aux=False):
    """``(fn(*primals), J tangents)``: the Jacobian-vector product, in forward mode (with
    ``has_aux``, ``fn`` returns ``(out, aux)`` and the result is ``(out, J tangents, aux)``,
    as JAX's).

    >>> y, dy = tt.jvp(tt.sin, (x,), (tt.ones_like(x),))        # dy = cos(x)
    """
    if not callable(fn):
        raise TypeError(f"jvp: expected a callable, got {type(fn).__name__}")
    _pair(primals, tangents, "jvp")
    kind = ("jvp", True) if has_aux else "jvp"
    return _staged(fn, kind, lambda: _jvp_build(fn, "jvp", has_aux)())(tuple(primals),
                                                                        tuple(tangents))


def _residuals(outputs, tangents):
    """Nodes the tangent computation reads that do not depend on the tangents (constants
    excepted): what the primal pass hands to the linear pass."""
    tids = {id(t) for t in tangents}
    dep, varying, seen, res = set(tids), set(), set(), []
    for n in toposort(outputs, stop=lambda m: id(m) in tids):
        if id(n) in tids:
            continue
        if any(id(x) in dep for x in n.inputs):
            dep.add(id(n))
            for x in n.inputs:
                if id(x) not in dep and id(x) in varying and id(x) not in seen:
                    seen.add(id(x))
                    res.append(x)
        elif n.prim is P.input or any(id(x) in varying for x in n.inputs):
            varying.add(id(n))
    return res + [o for o in outputs if id(o) in varying and id(o) not in seen]


def _signature(leaves):
    return tuple((x.shape, x.dtype.str) for x in leaves)


def _linearize_build(fn, specs):
    name = _name(fn)

    def build(args, kwargs):
        ys, rebuild = _out_tensors(fn(*args), "linearize", name)
        ps = nest.flatten(list(args))[0]
        live = [node_of(p) for p in ps if p.dtype.kind == "f"]
        ts = [P.input(shape=p.shape, dtype=p.dtype) for p in live]
        jts = fwd.jvp([node_of(y) for y in ys], live, ts)
        res = _residuals(jts, ts)
        specs[_signature(ps)] = (jts, ts, res, rebuild)
        return rebuild(ys), [make(None, r) for r in res]
    return lambda: build


def _linear_fn(spec, residuals, primals, name):
    """The JVP at the linearisation point: staged over the tangents alone, with the
    residuals bound as captured values (the primal pass does not run again)."""
    jts, ts, res, rebuild = spec

    def build(args, kwargs):
        leaves = _match(list(args), list(primals), "linearize", "tangents")
        floats = [t for t in leaves if t.dtype.kind == "f"]
        mapping = {id(t): node_of(x) for t, x in zip(ts, floats)}
        mapping.update({id(r): node_of(v) for r, v in zip(res, residuals)})
        outs, _ = substitute(jts, mapping)
        return rebuild([make(None, n) for n in outs])
    return Staged(lambda *tangents: None, build, f"linearize({name}).jvp", prepare=_tensors)


def linearize(fn, *primals):
    """``(fn(*primals), jvp_fn)``; ``jvp_fn(*tangents)`` is the JVP at ``primals``. The
    primal pass runs once; ``jvp_fn`` computes only the tangents, from what the primal
    pass kept for it (JAX's residuals)."""
    if not callable(fn):
        raise TypeError(f"linearize: expected a callable, got {type(fn).__name__}")
    primals = _tensors(primals)
    try:
        specs = _SPECS.setdefault(fn, {})       # the linear graphs, per signature
    except TypeError:
        specs = {}
    staged = _staged(fn, "linearize", _linearize_build(fn, specs))
    out, residuals = staged(*primals)
    spec = specs[_signature(nest.flatten(list(primals))[0])]
    return out, _LinearizedJvp(fn, primals, _linear_fn(spec, residuals, primals, _name(fn)))


class _LinearizedJvp:
    """``linearize``'s ``jvp_fn``: pickles as ``fn`` and the primals, linearised again
    where it is unpickled (``tracer.serialize``: a lambda travels by value)."""

    def __init__(self, fn, primals, staged):
        self.fn, self.primals, self.staged = fn, primals, staged

    def __call__(self, *tangents):
        _pair(self.primals, tangents, "linearize")
        return self.staged(*tangents)

    def __reduce__(self):
        return serialize.reduce_recipe(self, (_relinearized, (self.fn, self.primals), {}))


def _relinearized(fn, primals):
    return linearize(fn, *primals)[1]


# -- vjp -----------------------------------------------------------------------------------

def _forward(fn, has_aux):
    def build():
        def run(args, kwargs):
            return fn(*args)
        return run
    return _staged(fn, ("forward", has_aux), build)


def _split_aux(out, has_aux, op, name):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{op}: with has_aux=True, {name} must return a pair (out, aux), got "
                        f"{type(out).__name__}")
    return out[0], out[1]


def _vjp_build(fn, has_aux):
    name = _name(fn)

    def build(args, kwargs):
        primals, cts = args
        out, _ = _split_aux(fn(*primals), has_aux, "vjp", name)
        ys, _ = _out_tensors(out, "vjp", name)
        gs = _match(cts, out, "vjp", "cotangent")
        results = []
        for p in primals:
            leaves, rebuild = nest.flatten(p)
            pairs = [(node_of(y), node_of(g)) for y, g in zip(ys, gs) if y.dtype.kind == "f"]
            floats = [x for x in leaves if x.dtype.kind == "f"]
            cts_x = autodiff.vjp([y for y, _ in pairs], [g for _, g in pairs],
                                 [node_of(x) for x in floats]) if pairs else [None] * len(floats)
            it = iter(cts_x)
            grads = []
            for x in leaves:
                c = next(it) if x.dtype.kind == "f" else None
                grads.append(make(None, c if c is not None else P.full(0, x.shape, x.dtype)))
            results.append(rebuild(grads))
        return tuple(results)
    return lambda: build


def vjp(fn, *primals, has_aux=False):
    """``(out, vjp_fn)`` (with ``has_aux``: ``(out, vjp_fn, aux)``); ``vjp_fn(cotangent)``
    returns a tuple with the cotangent of each primal (zeros where unconnected)."""
    if not callable(fn):
        raise TypeError(f"vjp: expected a callable, got {type(fn).__name__}")
    res = _forward(fn, has_aux)(*primals)
    out, aux = _split_aux(res, has_aux, "vjp", _name(fn))
    vjp_fn = _VjpFn(fn, primals, has_aux)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


class _VjpFn:
    """``vjp``'s ``vjp_fn(cotangent)``: pickles as ``fn``, the primals and ``has_aux``
    (``tracer.serialize``)."""

    def __init__(self, fn, primals, has_aux):
        self.fn, self.primals, self.has_aux = fn, primals, has_aux
        self.staged = _staged(fn, ("vjp", has_aux), _vjp_build(fn, has_aux))

    def __call__(self, cotangent):
        return self.staged(tuple(self.primals), cotangent)

    def __reduce__(self):
        return serialize.reduce_recipe(self, (_VjpFn, (self.fn, self.primals, self.has_aux),
                                              {}))


# -- Jacobians -----------------------------------------------------------------------------

def _float_outputs(out, op, name):
    ys, rebuild = _out_tensors(out, op, name)
    for y in ys:
        if y.dtype.kind != "f" and op != "jacfwd":     # jacfwd: zeros (JAX's float0)
            raise TypeError(f"{op}: {name} must return float tensors, got dtype {y.dtype}")
    return ys, rebuild


def _jac_fwd(y_nodes, x):
    """d y / d x for each y, by forward mode batched over the basis of x's space."""
    xn = node_of(x)
    t = P.input(shape=xn.shape, dtype=xn.dtype)
    floats = [y for y in y_nodes if y.dtype.kind == "f"]
    jts = fwd.jvp(floats, [xn], [t])
    cols = iter(batching.batch_graph(
        jts, {id(t): batching.basis(xn.size, xn.shape, xn.dtype)}, xn.size) if jts else [])
    # an integer or bool output has no tangent: zeros of its dtype, as JAX's jacfwd
    return [P.reshape(move_axis(next(cols), 0, y.ndim), shape=y.shape + xn.shape)
            if y.dtype.kind == "f" else P.full(0, y.shape + xn.shape, y.dtype)
            for y in y_nodes]


def _jac_rev(y_nodes, x):
    """d y / d x for each y, by reverse mode batched over the basis of y's space."""
    xn = node_of(x)
    out = []
    for y in y_nodes:
        u = P.input(shape=y.shape, dtype=y.dtype)
        (ct,) = autodiff.vjp([y], [u], [xn])
        if ct is None:
            out.append(P.full(0, y.shape + xn.shape, xn.dtype))
            continue
        basis = batching.basis(y.size, y.shape, y.dtype)
        (rows,) = batching.batch_graph([ct], {id(u): basis}, y.size)
        out.append(P.reshape(rows, shape=y.shape + xn.shape))
    return out


def _jacobian_transform(fn, argnums, op, per_leaf, recipe, has_aux=False):
    if not callable(fn):
        raise TypeError(f"{op}: expected a callable, got {type(fn).__name__}")
    nums, name = _argnums(argnums, op), _name(fn)
    single = isinstance(argnums, int)

    def build(args, kwargs):
        out, aux = _split_aux(fn(*args, **kwargs), has_aux, op, name)
        ys, rebuild_out = _float_outputs(out, op, name)
        y_nodes = [node_of(y) for y in ys]
        per_arg = []
        for leaves, rebuild in _sources(args, nums, op, name):
            cols = [per_leaf(y_nodes, x) for x in leaves]    # [leaf][output]
            per_arg.append([rebuild([make(None, c[k]) for c in cols])
                            for k in range(len(ys))])
        results = [per_arg[0][k] if single else tuple(a[k] for a in per_arg)
                   for k in range(len(ys))]
        return (rebuild_out(results), aux) if has_aux else rebuild_out(results)
    return Staged(fn, build, f"{op}({name})", prepare=_prepare(nums, op, name),
                  recipe=(recipe, (fn, argnums, has_aux), {}))


def jacobian(fn, argnums=0, has_aux=False):
    """The Jacobian of ``fn`` (reverse mode, one VJP batched over the basis of each
    output's space, as ``jacrev``): for y = fn(x), shape y.shape + x.shape. With
    ``has_aux`` (JAX), ``fn`` returns ``(out, aux)`` and the result is ``(jacobian, aux)``
    (so for jacfwd, jacrev and hessian)."""
    return _jacobian_transform(fn, argnums, "jacobian", _jac_rev, jacobian, has_aux)


def hessian(fn, argnums=0, has_aux=False):
    """The Hessian of scalar-valued ``fn``: ``jacfwd(grad(fn))`` as JAX's, shape x.shape * 2
    (forward over reverse, batched: the graph does not grow with x's size). Where a second
    derivative is infinite (sqrt at 0) the NaNs of 0 * inf fall where JAX's do: row i of
    H[i, j] = d(grad_i)/dx_j, not column i as reverse over reverse puts them."""
    return jacfwd(grad(fn, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


def jacfwd(fn, argnums=0, has_aux=False):
    """The Jacobian of ``fn`` by forward mode (one batched JVP over the input basis):
    shape ``y.shape + x.shape``; best when inputs are fewer than outputs. An integer or
    bool output gets zeros of its own dtype (JAX's float0 tangent; ``jacrev`` raises)."""
    return _jacobian_transform(fn, argnums, "jacfwd", _jac_fwd, jacfwd, has_aux)


def jacrev(fn, argnums=0, has_aux=False):
    """The Jacobian of ``fn`` by reverse mode (one batched VJP over the output basis):
    shape ``y.shape + x.shape``; best when outputs are fewer than inputs."""
    return _jacobian_transform(fn, argnums, "jacrev", _jac_rev, jacrev, has_aux)
