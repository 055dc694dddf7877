"""How an operation runs: operands, broadcasting and promotion, then ``bind``.

Every public op ends in ``bind`` (operands already shaped and typed for the primitive;
defined in ``tracer.recording``) or ``elementwise`` (NumPy broadcasting and NEP 50
promotion, then ``broadcast_to``/``cast`` nodes so the primitive sees equal shapes and
dtypes). The dtypes an elementwise op accepts are its primitive's ``dtypes``.
"""
import numpy as np

from compiler import primitives as P
from compiler.ir import Node
from runtime.interpreter import owned as as_value  # noqa: F401  (outputs as tensor values)
from tracer import dtypes
from tracer.convert import convert_to_tensor
from tracer.literals import filled
from tracer.recording import (SETTINGS, STATE, bind, check_nan, commit, make,  # noqa: F401
                              node_of, op_name, public_op, traced_result, watching)
from tracer.tensor import Tensor, check_traceable  # noqa: F401  (engine.check_traceable)


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
    return convert_to_tensor(a, op=op)


def as_tensor(a, op):
    """A Tensor for any operand (Python scalars become tensors of their default dtype)."""
    a = operand(a, op)
    if type(a) is not Tensor:
        a = convert_to_tensor(a, op=op)
    return a


def is_python_data(a):
    """A Python number, or a (nested) list/tuple of them: data with no dtype of its own."""
    if type(a) in _SCALARS:
        return True
    if isinstance(a, (list, tuple)):
        stack = list(a)
        while stack:
            x = stack.pop()
            if isinstance(x, (list, tuple)):
                stack.extend(x)
            elif type(x) not in _SCALARS:
                return False
        return True
    return False


def as_tensor_in(a, dtype, op):
    """``a`` as a tensor of ``dtype``: Python numbers (and lists of them) are converted
    straight to ``dtype``, as TensorFlow converts an op's Python operands in the dtype of
    its tensors (``0.1`` for a float64 tensor is the float64 0.1, not the float32 one
    widened); anything else is converted, then cast."""
    d = np.dtype(dtype)
    if is_python_data(a):
        return convert_to_tensor(np.asarray(a).astype(d), op=op)
    a = as_tensor(a, op)
    return a if a.dtype == d else bind(P.cast, a, dtype=d.str)


def describe(a):
    if type(a) is Tensor:
        return f"{a.shape} {a.dtype}"
    return f"Python {type(a).__name__} {a!r}"


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
        elif t is not bool and hasattr(a, "_read"):
            # a Variable: reading it watches it on auto-watching tapes; then the fast path
            return elementwise(prim, op, [operand(x, op) for x in args], accept, promote)
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
    except OverflowError:
        _bad_scalar(op, args)
    if SETTINGS["debug_nans"]:
        check_nan(op_name(op), vals, value)
    out = make(value)
    if STATE.tapes:
        _record_elementwise(prim, args, out, promote)
    return out


_INT32 = dtypes.int32


def _record_elementwise(prim, args, out, promote):
    hit = watching(args)
    if not hit:
        return
    value = out._value
    shape, d = value.shape, value.dtype
    ins = []
    for a in args:
        if type(a) is Tensor:
            v = a._value
            ad = v.dtype
            if (ad is not d and ad != d) or v.shape != shape:
                break
            ins.append(a._node or node_of(a))
        elif d.kind == "f" and STATE.trace is None:
            # weak float/int scalar in a float op: a shared literal (broadcast to shape)
            ins.append(filled(a, d, shape))
        else:
            break
    else:
        # operands already fit: one node, no casts or broadcasts, no inference needed
        node = Node(prim, tuple(ins), (), shape, d)
        commit(hit, node, out, args, (node,))
        return
    new = []
    node = _elementwise_node(prim, args, shape, promote, new)
    commit(hit, node, out, args, new)


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
        shape = P.broadcast_shapes(*shapes)
    except ValueError as e:
        _bad_shapes(op, args, e)
    new = []
    node = _elementwise_node(prim, args, shape, promote, new)
    return traced_result(node, args, new)


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


def _bad_scalar(op, args):
    # NEP 50: a Python int operand takes the tensor's dtype, and NumPy refuses one that
    # does not fit it
    d = next(a.dtype for a in args if type(a) is Tensor)
    big = next((a for a in args if type(a) is int and
                not np.iinfo(d).min <= a <= np.iinfo(d).max), None) if d.kind in "iu" else None
    raise ValueError(f"{op}: the Python int {big} does not fit the {d} operand "
                     f"({', '.join(describe(a) for a in args)}); Python numbers take the "
                     f"tensor's dtype, so cast the tensor to a wider dtype first (e.g. "
                     f"tt.cast(x, tt.int64))") from None


def _bad_dtype(op, args, accept):
    names = ", ".join(sorted(str(d) for d in accept))
    raise TypeError(f"{op}: got {', '.join(describe(a) for a in args)}; valid dtypes are "
                    f"{names}")


def promote_operands(values, op):
    """The operands as tensors of their NEP 50 common dtype (bare Python scalars weak)."""
    xs = [operand(a, op) for a in values]
    d = result_dtype(xs)
    return [(a if a.dtype == d else bind(P.cast, a, dtype=d.str)) if type(a) is Tensor
            else make(np.array(a, dtype=d)[()]) for a in xs]
