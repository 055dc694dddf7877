"""How an operation runs: eager value, symbolic node, recording on tapes.

Every public op ends in ``bind`` (operands already shaped and typed for the primitive) or
``elementwise`` (NumPy broadcasting and NEP 50 promotion, then ``broadcast_to``/``cast``
nodes so the primitive sees equal shapes and dtypes).

Three cases:
- eager, no tape records: the NumPy ``impl`` runs and that is all (the hot path);
- eager, a recording tape watches an operand: the value is computed the same way and a
  node is built and added to each such tape;
- traced (inside ``tt.function``): operands carry nodes only; eager operands become
  captured graph inputs.
"""
import threading

import numpy as np

from compiler import primitives as P
from compiler.ir import Node
from runtime.config import config as _config
from tracer import dtypes
from tracer.errors import TracingError
from tracer.tensor import Tensor, Variable


class _State(threading.local):
    def __init__(self):
        self.tapes = []        # recording tapes of this thread, innermost last
        self.trace = None      # the active TraceContext, if tracing


STATE = _State()
# the settings dict itself: one lookup per op when tt.config.debug_nans is off
_SETTINGS = _config._values


def _has_nan(v):
    return getattr(v, "dtype", None) is not None and v.dtype.kind == "f" and \
        bool(np.isnan(v).any())


def check_nan(op, vals, value):
    """tt.config.debug_nans: an op making NaN from non-NaN operands raises, naming it."""
    if _has_nan(value) and not any(_has_nan(v) for v in vals):
        shapes = ", ".join(str(np.shape(v)) for v in vals)
        raise FloatingPointError(f"{op}: produced NaN from non-NaN inputs (shapes {shapes}); "
                                 f"set tt.config.debug_nans = False to allow it")


def make(value, node=None):
    t = Tensor.__new__(Tensor)
    t._value = value
    t._node = node
    return t


# -- operands -------------------------------------------------------------------------------

_SCALARS = (float, int, bool)


def operand(a, op):
    """A Tensor, or a bare Python scalar kept weak for NEP 50 promotion."""
    t = type(a)
    if t is Tensor:
        return a
    if t in _SCALARS:
        return a
    if hasattr(a, "_read"):
        return a._read()
    from tracer.creation import convert_to_tensor
    return convert_to_tensor(a, op=op)


def as_value(v, dtype):
    """A runtime output as a tensor value: an owned array of ``dtype`` (so no tensor aliases
    another's buffer), or a NumPy scalar for shape ()."""
    if isinstance(v, np.generic) and v.dtype == dtype:
        return v
    a = np.asarray(v)
    if a.dtype != dtype:
        a = a.astype(dtype)
    if a.ndim == 0:
        return a[()]
    if not a.flags.owndata or not a.flags.writeable:
        a = np.array(a)
    return a


def as_tensor(a, op):
    """A Tensor for any operand (Python scalars become tensors of their default dtype)."""
    a = operand(a, op)
    if type(a) is not Tensor:
        from tracer.creation import convert_to_tensor
        a = convert_to_tensor(a, op=op)
    return a


def node_of(t):
    """The node standing for tensor ``t`` (a fresh input leaf for an untracked value)."""
    trace = STATE.trace
    if trace is not None and t._value is not None:
        return trace.capture(t)
    n = t._node
    if n is None:
        v = t._value
        n = t._node = Node(P.input, (), (), np.shape(v), v.dtype)
    return n


def describe(a):
    if type(a) is Tensor:
        return f"{a.shape} {a.dtype}"
    return f"Python {type(a).__name__} {a!r}"


# -- bind: operands already fit the primitive ------------------------------------------------

def bind(prim, *args, **attrs):
    """Apply a primitive to Tensors whose shapes/dtypes its rule accepts."""
    vals = [a._value for a in args]
    if STATE.trace is not None and any(v is None for v in vals):
        node = prim(*[node_of(a) for a in args], **attrs)
        return _traced_result(node, args, [node])
    out = make(prim.impl(*vals, **attrs))
    if _SETTINGS["debug_nans"]:
        check_nan(prim.name, vals, out._value)
    if STATE.tapes:
        hit = _watching(args)
        if hit:
            node = prim(*[node_of(a) for a in args], **attrs)
            _commit(hit, node, out, args, [node])
    return out


def _watching(args):
    hit = None
    for tape in STATE.tapes:
        active = tape._active
        for a in args:
            if type(a) is Tensor and a._node is not None and a._node in active:
                hit = [tape] if hit is None else hit + [tape]
                break
    return hit


def _commit(tapes, node, out, args, new_nodes):
    out._node = node
    for tape in tapes:
        tape._record(node, out._value, args, new_nodes)


# -- elementwise: broadcasting and promotion -------------------------------------------------

def result_dtype(args):
    """NEP 50 promotion; bare Python scalars are weak."""
    ds = [a.dtype if type(a) is Tensor else a for a in args]
    if all(type(d) in _SCALARS for d in ds):
        return dtypes.python_default(_strongest(ds))
    return np.result_type(*ds)


def _strongest(scalars):
    for t in (float, int, bool):
        for s in scalars:
            if type(s) is t:
                return s
    return scalars[0]


def elementwise(prim, op, args, accept, promote=None):
    """Apply elementwise ``prim`` (public name ``op``) with broadcasting and promotion.

    ``accept``: operand dtypes the op takes. ``promote(dtype) -> dtype``: the dtype the
    operand nodes are cast to before the primitive (default: the promoted dtype itself);
    the eager value comes from NumPy, whose ufunc already applies the same rule.
    """
    # Fast path (the hot path of every eager program): eager Tensors and weak scalars
    # whose dtypes the op accepts. Anything else takes the general path below.
    vals = []
    tensors = False
    for a in args:
        t = type(a)
        if t is Tensor:
            v = a._value
            if v is None or v.dtype not in accept:
                return _elementwise_general(prim, op, args, accept, promote)
            vals.append(v)
            tensors = True
        elif t is float or (t is int and _INT32 in accept):
            vals.append(a)
        elif t is Variable:
            # reading a Variable watches it on auto-watching tapes; then the fast path
            return elementwise(prim, op, [x._read() if type(x) is Variable else x
                                          for x in args], accept, promote)
        else:
            return _elementwise_general(prim, op, args, accept, promote)
    if not tensors:
        return _elementwise_general(prim, op, args, accept, promote)
    return _eager_elementwise(prim, op, args, vals, promote)


def _eager_elementwise(prim, op, args, vals, promote):
    """Compute the value with NumPy; record it on the tapes that watch an operand."""
    try:
        value = prim.impl(*vals)
    except ValueError as e:
        _bad_shapes(op, args, e)
    if _SETTINGS["debug_nans"]:
        check_nan(op, vals, value)
    out = make(value)
    if STATE.tapes:
        _record_elementwise(prim, args, out, promote)
    return out


_INT32 = dtypes.int32


def _record_elementwise(prim, args, out, promote):
    hit = _watching(args)
    if not hit:
        return
    value = out._value
    shape, d = value.shape, value.dtype
    ins = []
    for a in args:
        if type(a) is Tensor:
            if a._value.dtype != d or a._value.shape != shape:
                break
            ins.append(a._node or node_of(a))
        elif shape == () and d.kind == "f":
            ins.append(_literal(a, d))   # weak float/int scalar in a float op: a literal
        else:
            break
    else:
        # operands already fit: one node, no casts or broadcasts, no inference needed
        node = Node(prim, tuple(ins), (), shape, d)
        _commit(hit, node, out, args, (node,))
        return
    new = []
    node = _elementwise_node(prim, args, shape, promote, new)
    _commit(hit, node, out, args, new)


_LITERALS = {}


def _literal(value, d):
    """A shared literal node (nodes are immutable symbols, so sharing is safe)."""
    key = (type(value), value, d)
    n = _LITERALS.get(key)
    if n is None:
        if len(_LITERALS) > 4096:
            _LITERALS.clear()
        n = _LITERALS[key] = P.literal(value, d)
    return n


def _elementwise_general(prim, op, args, accept, promote):
    args = [operand(a, op) for a in args]
    tensors = [a for a in args if type(a) is Tensor]
    if not tensors:
        # all bare Python scalars: they become tensors of their default dtype
        d = result_dtype(args)
        args = [make(np.array(a, dtype=d)[()]) for a in args]
        tensors = args
    for a in args:
        d = a.dtype if type(a) is Tensor else dtypes.python_default(a)
        if d not in accept:
            _bad_dtype(op, args, accept)
    if STATE.trace is not None and any(t._value is None for t in tensors):
        return _traced_elementwise(prim, op, args, promote)
    vals = [a._value if type(a) is Tensor else a for a in args]
    return _eager_elementwise(prim, op, args, vals, promote)


def _traced_elementwise(prim, op, args, promote):
    shapes = [a.shape for a in args if type(a) is Tensor]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError as e:
        _bad_shapes(op, args, e)
    new = []
    node = _elementwise_node(prim, args, shape, promote, new)
    return _traced_result(node, args, new)


def _traced_result(node, args, new_nodes):
    # a tape used inside tt.function records traced nodes too (values are None)
    out = make(None, node)
    if STATE.tapes:
        hit = _watching(args)
        if hit:
            _commit(hit, node, out, args, new_nodes)
    return out


def _elementwise_node(prim, args, shape, promote, new):
    d = result_dtype(args)
    if promote is not None:
        d = promote(d)
    ins = []
    for a in args:
        if type(a) is Tensor:
            n = node_of(a)
        else:
            n = P.literal(a, d)
            new.append(n)
        if n.dtype != d:
            n = Node(P.cast, (n,), (("dtype", d.str),), n.shape, d)
            new.append(n)
        if n.shape != shape:
            n = P.broadcast_to(n, shape=tuple(shape))
            new.append(n)
        ins.append(n)
    node = prim(*ins)
    new.append(node)
    return node


def _bad_shapes(op, args, err=None):
    shapes = [a.shape for a in args if type(a) is Tensor]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        pass
    else:
        # the shapes fit: NumPy refused for another reason (e.g. int ** negative int)
        raise ValueError(f"{op}: {err} (operands {', '.join(describe(a) for a in args)})") \
            from None
    raise ValueError(f"{op}: operands with shapes {', '.join(map(str, shapes))} cannot be "
                     f"broadcast together; each dimension, aligned from the right, must be "
                     f"equal or 1") from None


def _bad_dtype(op, args, accept):
    names = ", ".join(sorted(str(d) for d in accept))
    raise TypeError(f"{op}: got {', '.join(describe(a) for a in args)}; valid dtypes are "
                    f"{names}")


def check_traceable(t, what):
    """Raise TracingError when a traced tensor's value is needed in Python."""
    if t._value is None:
        trace = STATE.trace
        where = trace.describe(t._node) if trace is not None else "a traced tensor"
        raise TracingError(
            f"{what} needs the value of {where} (shape {t.shape}, dtype {t.dtype}), but "
            f"inside tt.function values are symbolic. Use tt.where/tt.maximum instead of "
            f"Python control flow, or pass the argument as static with static_argnums.")

