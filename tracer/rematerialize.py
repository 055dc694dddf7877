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


def _remat_rule(y, xs, ext):
    """The gradient rule of one output: recompute ``y`` from ``remat(x, g)`` and
    differentiate the copy."""
    def rule(g, out, inputs):
        barriers = [P.remat(x, g) for x in inputs[:len(xs)]]
        mapping = {id(x): b for x, b in zip(xs, barriers)}
        mapping.update({id(e): v for e, v in zip(ext, inputs[len(xs):])})
        (again,), _ = substitute([y], mapping)
        return autodiff.vjp([again], [g], barriers + list(inputs[len(xs):]))
    return rule


def _checkpoint_build(fn):
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
            node = P.custom_vjp(*xs, *ext, yn, rule=_remat_rule(yn, xs, ext))
            result.append(make(None, node))
        return rebuild(result)
    return build


def checkpoint(fn, prevent_cse=True, policy=None, static_argnums=()):
    """``fn`` with the same values and gradients, whose gradient recomputes ``fn``'s
    intermediates in the backward pass instead of keeping them from the forward pass.

    >>> layer = tt.checkpoint(lambda h, w: tt.tanh(h @ w))
    """
    if not callable(fn):
        raise TypeError(f"checkpoint: expected a callable, got {type(fn).__name__}")
    if policy is not None:
        raise NotImplementedError("checkpoint: save policies are not supported; every "
                                  "intermediate of the wrapped function is recomputed")
    name = f"checkpoint({getattr(fn, '__name__', type(fn).__name__)})"
    return Staged(fn, _checkpoint_build(fn), name, static_argnums=static_argnums,
                  recipe=(checkpoint, (fn,), {"static_argnums": static_argnums}))


remat = checkpoint
