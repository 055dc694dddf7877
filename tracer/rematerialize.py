"""``tt.checkpoint`` (alias ``tt.remat``): gradients that recompute instead of store.

The wrapped function is traced once per signature. Each float output ``y`` becomes
``custom_vjp(*inputs, *externals, y)`` whose gradient rule re-runs the traced body on
``remat(input, g)`` (``g``: the incoming cotangent) and differentiates that copy. The
``remat`` barrier makes the copy structurally distinct (CSE cannot merge it back into the
forward pass) and schedules it after ``g`` exists, i.e. in the backward pass; so the
forward pass keeps only the inputs and the outputs of the wrapped function, and the
backward pass recomputes its intermediates where it needs them. Values the body reads but
does not compute from its arguments (closed-over tensors, Variables: *externals*) are
inputs of the node, so their gradients flow as well.
"""
from compiler import autodiff
from compiler import primitives as P
from compiler.ir import toposort
from tracer import nest
from tracer.recording import make, node_of
from tracer.function import Staged
from tracer.tensor import Tensor
from tracer.variable import Variable
from tracer.tracing import substitute
from tracer.checkpoint_policies import ShapeDtype


def _externals(outputs, sources):
    """Inputs of the nodes that depend on ``sources`` which themselves do not: values the
    body reads from outside (they are kept, not recomputed)."""
    src = {id(s) for s in sources}
    dep, seen, ext = set(src), set(), []
    for n in toposort(outputs, stop=lambda m: id(m) in src):
        if id(n) in src or not any(id(x) in dep for x in n.inputs):
            continue
        dep.add(id(n))
        for x in n.inputs:
            if id(x) not in dep and id(x) not in seen and x.prim.name != "literal":
                seen.add(id(x))
                ext.append(x)
    return [x for x in ext if id(x) not in dep]


def _remat_rule(y, xs, ext, saved=()):
    """The gradient rule of one output: recompute ``y`` from ``remat(x, g)`` and
    differentiate the copy; the ``saved`` nodes keep their forward values."""
    def rule(g, out, inputs):
        barriers = [P.remat(x, g) for x in inputs[:len(xs)]]
        mapping = {id(x): b for x, b in zip(xs, barriers)}
        mapping.update({id(e): v for e, v in zip(ext, inputs[len(xs):])})
        if saved:
            actual = {id(x): v for x, v in zip(xs, inputs[:len(xs)])}
            actual.update({id(e): v for e, v in zip(ext, inputs[len(xs):])})
            kept, _ = substitute(saved, actual)     # the forward nodes again (merged by CSE)
            for s, k in zip(saved, kept):
                ins, _ = substitute(list(s.inputs), mapping)
                mapping[id(s)] = P.custom_vjp(*ins, k, rule=_local_rule(s))
        (again,), _ = substitute([y], mapping)
        return autodiff.vjp([again], [g], barriers + list(inputs[len(xs):]))
    return rule


def _local_rule(node):
    """``node``'s own gradient rule, applied to recomputed operands and its saved value."""
    params = node.params

    def rule(g, out, inputs):
        if node.prim.vjp_needs:
            return node.prim.vjp(g, out, *inputs, needed=(True,) * len(inputs), **params)
        return node.prim.vjp(g, out, *inputs, **params)
    return rule


def _saved(y, xs, policy):
    """The operations between ``xs`` and ``y`` (excluded) that ``policy`` saves, in
    dependency order."""
    if policy is None:
        return []
    src = {id(x) for x in xs}
    dep, saved = set(src), []
    for n in toposort([y], stop=lambda m: id(m) in src):
        if id(n) in src or not any(id(x) in dep for x in n.inputs):
            continue
        dep.add(id(n))
        if n is y or n.dtype.kind != "f" or not n.prim.differentiable or \
                n.prim.regions or n.prim in (P.custom_vjp, P.remat, P.tuple_get):
            continue
        avals = [ShapeDtype(x.shape, x.dtype) for x in n.inputs]
        if policy(n.prim, *avals, **n.params):
            saved.append(n)
    return saved


def _checkpoint_build(fn, policy):
    def build(args, kwargs):
        leaves = [x for x in nest.flatten([list(args), kwargs])[0] if type(x) is Tensor]
        xs = [node_of(x) for x in leaves if x.dtype.kind == "f"]
        out = fn(*args, **kwargs)
        outs, rebuild = nest.flatten(out)
        result = []
        for y in outs:
            if isinstance(y, Variable):
                y = y._read()
            if type(y) is not Tensor or y._value is not None or y.dtype.kind != "f":
                result.append(y)
                continue
            yn = y._node
            ext = [e for e in _externals([yn], xs) if e.dtype.kind == "f"]
            rule = _remat_rule(yn, xs, ext, _saved(yn, xs, policy))
            node = P.custom_vjp(*xs, *ext, yn, rule=rule)
            result.append(make(None, node))
        return rebuild(result)
    return build


def checkpoint(fn, prevent_cse=True, policy=None, static_argnums=()):
    """``fn`` with the same values and gradients, whose gradient recomputes ``fn``'s
    intermediates in the backward pass instead of keeping them from the forward pass.

    ``policy`` (JAX's): a callable ``policy(prim, *avals, **params) -> bool`` choosing the
    intermediates to keep, e.g. ``tt.checkpoint_policies.dots_saveable``; None recomputes
    every one (``nothing_saveable``).

    >>> layer = tt.checkpoint(lambda h, w: tt.tanh(h @ w))
    >>> layer = tt.checkpoint(layer, policy=tt.checkpoint_policies.dots_saveable)
    """
    if not callable(fn):
        raise TypeError(f"checkpoint: expected a callable, got {type(fn).__name__}")
    if policy is not None and not callable(policy):
        raise TypeError(f"checkpoint: policy must be None or a callable "
                        f"policy(prim, *avals, **params) -> bool, such as "
                        f"tt.checkpoint_policies.dots_saveable; got {type(policy).__name__}")
    name = f"checkpoint({getattr(fn, '__name__', type(fn).__name__)})"
    return Staged(fn, _checkpoint_build(fn, policy), name, static_argnums=static_argnums,
                  recipe=(checkpoint, (fn,), {"static_argnums": static_argnums,
                                              "policy": policy}))


remat = checkpoint
