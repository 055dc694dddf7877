"""Public elementwise operations and reductions (``tt.add``, ``tt.reduce_sum``, ...).

Arguments may be tensors, Variables, NumPy arrays or Python numbers; broadcasting and
promotion follow NumPy 2 (NEP 50, Python scalars weak).
"""
import builtins

import numpy as np

from compiler import primitives as P
from compiler.primitives.core import normalize_axes
from tracer import dtypes
from tracer.engine import as_tensor, bind, elementwise, make, promote_operands, public_op
from tracer.shape_ops import broadcast_to, reshape
from tracer.tensor import Tensor, check_traceable


def _unary(prim, op, doc=None):
    """The public op of a one-operand elementwise primitive; dtypes come from its
    declaration (``prim.accepts``, cast by ``prim.promote``)."""
    accept, promote = prim.accepts, prim.promote

    def fn(x, name=None):
        return elementwise(prim, op, (x,), accept, promote)
    fn.__name__ = fn.__qualname__ = op
    fn.primitive = prim
    fn.__doc__ = doc or f"Elementwise {op}."
    return fn


def _binary(prim, op, doc=None):
    """The public op of a two-operand elementwise primitive, with NumPy broadcasting."""
    accept, promote = prim.accepts, prim.promote

    def fn(x, y, name=None):
        return elementwise(prim, op, (x, y), accept, promote)
    fn.__name__ = fn.__qualname__ = op
    fn.primitive = prim
    fn.__doc__ = doc or f"Elementwise {op} with NumPy broadcasting."
    return fn


add = _binary(P.add, "add")
subtract = _binary(P.sub, "subtract")
multiply = _binary(P.mul, "multiply")
divide = _binary(P.div, "divide",
                 doc="True division; int / int gives float64 as in NumPy.")
truediv = divide
floordiv = _binary(P.floordiv, "floordiv")
floor_div = floordiv
mod = _binary(P.mod, "mod", doc="Remainder with the sign of the divisor (Python/NumPy).")
floormod = mod
_pow = _binary(P.pow, "pow")


def pow(x, y, name=None):
    """x ** y with NumPy broadcasting; integer bases need non-negative integer exponents."""
    try:
        return _pow(x, y)
    except ValueError:
        _check_int_pow(x, y)
        raise


pow.primitive = P.pow


def _check_int_pow(x, y):
    # NumPy refuses int ** negative int (the result is not an integer); say so by name
    x, y = as_tensor(x, "pow"), as_tensor(y, "pow")
    if x.dtype.kind in "iu" and y.dtype.kind in "iu" and y._value is not None \
            and np.any(np.asarray(y._value) < 0):
        raise ValueError(f"pow: integer base ({x.dtype}) with a negative integer exponent "
                         f"({y.dtype}); integer powers must be >= 0, or cast the base to "
                         f"float (tt.cast(x, tt.float32))") from None
maximum = _binary(P.maximum, "maximum", doc="Elementwise max; ties send the gradient to x.")
minimum = _binary(P.minimum, "minimum", doc="Elementwise min; ties send the gradient to x.")

negative = _unary(P.neg, "negative")
neg = negative
abs = _unary(P.abs, "abs", "Absolute value; its gradient at 0 is 0.")
sign = _unary(P.sign, "sign")
sqrt = _unary(P.sqrt, "sqrt")
exp = _unary(P.exp, "exp")
expm1 = _unary(P.expm1, "expm1")
log = _unary(P.log, "log", doc="Natural logarithm; log(-1) is NaN and log(0) is -inf.")
log1p = _unary(P.log1p, "log1p")
sin = _unary(P.sin, "sin")
cos = _unary(P.cos, "cos")
tan = _unary(P.tan, "tan")
asin = _unary(P.asin, "asin")
acos = _unary(P.acos, "acos")
atan = _unary(P.atan, "atan")
sinh = _unary(P.sinh, "sinh")
cosh = _unary(P.cosh, "cosh")
tanh = _unary(P.tanh, "tanh")
erf = _unary(P.erf, "erf")
erfc = _unary(P.erfc, "erfc", doc="Complementary error function 1 - erf(x), accurate in the "
              "right tail.")
erfinv = _unary(P.erfinv, "erfinv", doc="Inverse of erf on (-1, 1): +-inf at +-1, NaN beyond.")
ndtri = _unary(P.ndtri, "ndtri", doc="Inverse of the standard normal CDF on (0, 1): -inf at "
               "0, inf at 1, NaN beyond.")
lgamma = _unary(P.lgamma, "lgamma", doc="log |Gamma(x)|; +inf at the poles 0, -1, -2, ... "
                "(where its gradient, digamma, is NaN).")
digamma = _unary(P.digamma, "digamma", doc="d/dx lgamma(x) (psi); NaN at the poles 0, -1, "
                 "-2, ...")
polygamma = _binary(P.polygamma, "polygamma", doc="The a-th derivative of digamma at x (a a "
                    "non-negative integer, else NaN); no gradient with respect to a.")
zeta = _binary(P.zeta, "zeta", doc="Hurwitz zeta sum_k (q + k)**-x (x > 1); no gradient with "
              "respect to x.")
bessel_i0e = _unary(P.bessel_i0e, "bessel_i0e", doc="exp(-|x|) I0(x), the modified Bessel "
                   "function of order 0 scaled so it stays finite.")
bessel_i1e = _unary(P.bessel_i1e, "bessel_i1e", doc="exp(-|x|) I1(x), the modified Bessel "
                   "function of order 1 scaled so it stays finite.")
atan2 = _binary(P.atan2, "atan2", doc="Angle of the point (x, y), in [-pi, pi]: atan2(y, x) "
                "(y first, as TensorFlow); the gradient at (0, 0) is NaN.")
sigmoid = _unary(P.sigmoid, "sigmoid")
floor = _unary(P.floor, "floor")
ceil = _unary(P.ceil, "ceil")
round = _unary(P.round, "round", doc="Round half to even (banker's rounding), as tf.round.")

equal = _binary(P.equal, "equal")
not_equal = _binary(P.not_equal, "not_equal")
less = _binary(P.less, "less")
less_equal = _binary(P.less_equal, "less_equal")
greater = _binary(P.greater, "greater")
greater_equal = _binary(P.greater_equal, "greater_equal")
logical_and = _binary(P.logical_and, "logical_and")
logical_or = _binary(P.logical_or, "logical_or")
logical_not = _unary(P.logical_not, "logical_not")


def square(x, name=None):
    """x * x."""
    x = as_tensor(x, "square")
    return multiply(x, x)


@public_op("rsqrt")
def rsqrt(x, name=None):
    """1 / sqrt(x)."""
    return divide(1.0, sqrt(x))


@public_op("reciprocal")
def reciprocal(x, name=None):
    """1 / x."""
    return divide(1.0, x)


@public_op("squared_difference")
def squared_difference(x, y, name=None):
    """(x - y)^2."""
    return square(subtract(x, y))


relu = _unary(P.relu, "relu",
              doc="max(x, 0); its gradient is 1 where x > 0 and 0 elsewhere (at 0 and NaN too).")


softplus = _unary(P.softplus, "softplus",
                  doc="log(1 + exp(x)), stable for large |x|; its gradient is sigmoid(x).")


@public_op("clip_by_value")
def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """min(max(t, lo), hi)."""
    return minimum(maximum(t, clip_value_min), clip_value_max)


def where(condition, x=None, y=None, name=None):
    """Elements of x where condition holds, else of y (broadcasting all three). Without x
    and y (TensorFlow): the int64 coordinates ``[n, rank]`` of the true (nonzero) elements,
    eagerly only (the shape depends on the values)."""
    if x is None and y is None:
        c = as_tensor(condition, "where")
        check_traceable(c, "where(condition) without x and y (its shape depends on the "
                           "values)")
        return make(np.argwhere(np.asarray(c._value)).astype(np.int64))
    if x is None or y is None:
        raise ValueError("where: x and y must both be given, or both be None (then the "
                         "coordinates of the true elements are returned)")
    c = as_tensor(condition, "where")
    if c.dtype != dtypes.bool_:
        raise TypeError(f"where: condition has dtype {c.dtype}; it must be bool")
    xy = promote_operands((x, y), "where")
    try:
        shape = P.broadcast_shapes(c.shape, xy[0].shape, xy[1].shape)
    except ValueError:
        raise ValueError(f"where: condition {c.shape}, x {xy[0].shape} and y {xy[1].shape} "
                         f"cannot be broadcast together") from None
    c, x, y = (broadcast_to(a, shape) for a in (c, *xy))
    return bind(P.select, c, x, y)


def cast(x, dtype, name=None):
    """Convert to ``dtype`` (float -> int truncates toward zero, as NumPy and TF)."""
    d = dtypes.as_dtype(dtype, "cast")
    x = as_tensor(x, "cast")
    if x.dtype == d:
        return x
    return bind(P.cast, x, dtype=d.str)


def stop_gradient(x, name=None):
    """The same value, seen by tapes and transforms as a constant."""
    return bind(P.stop_gradient, as_tensor(x, "stop_gradient"))


def identity(x, name=None):
    """The same value as a new tensor: a tape watching both ``x`` and ``identity(x)`` tells
    them apart (as TensorFlow), and gradients flow through it."""
    x = as_tensor(x, "identity")
    return bind(P.reshape, x, shape=x.shape)


# -- reductions --------------------------------------------------------------------------

def _axes(op, x, axis):
    if axis is None:
        return tuple(builtins.range(x.ndim))
    if isinstance(axis, Tensor):
        axis = np.asarray(axis).tolist()
    if isinstance(axis, (list, tuple)):
        return normalize_axes(op, tuple(axis), x.ndim)
    return normalize_axes(op, (axis,), x.ndim)


def _keep(out, x, axes, keepdims):
    if not keepdims:
        return out
    return reshape(out, P.keep_dims_shape(x.shape, axes))


def _empty_extreme(name, x, axes):
    """The max/min over axes one of which is empty: TensorFlow's identity, -inf/+inf (the
    lowest/highest integer for ints), added to the (empty) sum so the result stays
    connected to x, with a zero gradient of x's (empty) shape."""
    lo, hi = (-np.inf, np.inf) if x.dtype.kind == "f" else (np.iinfo(x.dtype).min,
                                                             np.iinfo(x.dtype).max)
    ident = make(np.asarray(lo if name == "reduce_max" else hi, x.dtype)[()])
    return add(bind(P.reduce_sum, x, axes=axes), ident)


def _reduction(prim, op):
    accept, promote = prim.accepts, prim.promote

    def fn(input_tensor, axis=None, keepdims=False, name=None):
        x = as_tensor(input_tensor, op)
        if x.dtype not in accept:
            raise TypeError(f"{op}: got dtype {x.dtype}; valid dtypes are "
                            f"{', '.join(sorted(map(str, accept)))}")
        if promote is not None and promote(x.dtype) != x.dtype:
            x = cast(x, promote(x.dtype))
        axes = _axes(op, x, axis)
        if prim.name in ("reduce_max", "reduce_min") and any(x.shape[a] == 0 for a in axes):
            return _keep(_empty_extreme(prim.name, x, axes), x, axes, keepdims)
        return _keep(bind(prim, x, axes=axes), x, axes, keepdims)
    fn.__name__ = fn.__qualname__ = op
    fn.primitive = prim
    fn.__doc__ = f"{op} over ``axis`` (int, tuple, or None for all; negative allowed)."
    return fn


reduce_sum = _reduction(P.reduce_sum, "reduce_sum")
reduce_max = _reduction(P.reduce_max, "reduce_max")
reduce_min = _reduction(P.reduce_min, "reduce_min")
reduce_prod = _reduction(P.reduce_prod, "reduce_prod")


@public_op("reduce_mean")
def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """Mean over ``axis``; integer tensors give an integer mean, as TensorFlow."""
    x = as_tensor(input_tensor, "reduce_mean")
    axes = _axes("reduce_mean", x, axis)
    n = P.shape_size([x.shape[a] for a in axes])
    s = reduce_sum(x, axes, keepdims)
    if x.dtype.kind in "iu":
        # TensorFlow's integer mean truncates toward zero (C division), not floor
        return multiply(sign(s), floordiv(abs(s), n))
    return divide(s, n) if n != 1 else s


@public_op("reduce_logsumexp")
def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """log(sum(exp(x))) computed stably around the (gradient-free) maximum."""
    x = as_tensor(input_tensor, "reduce_logsumexp")
    axes = _axes("reduce_logsumexp", x, axis)
    if any(x.shape[a] == 0 for a in axes):          # log(0): -inf, as TensorFlow and JAX
        return log(reduce_sum(exp(x), axes, keepdims))
    m = stop_gradient(reduce_max(x, axes, keepdims=True))
    # an all -inf slice would give nan from -inf - -inf; shift by 0 there instead (a finite
    # m is |m| < inf; the zeros are a constant, independent of x)
    m = where(less(abs(m), np.inf), m, make(np.zeros(m.shape, m.dtype)[()]))
    s = log(reduce_sum(exp(subtract(x, m)), axes, keepdims=True))
    out = add(s, m)
    if not keepdims:
            out = reshape(out, tuple(d for i, d in enumerate(x.shape) if i not in axes))
    return out


def _arg(prim, op):
    def fn(input, axis=None, output_type=dtypes.int64, name=None):
        x = as_tensor(input, op)
        if axis is None:
            axis = 0
        (a,) = _axes(op, x, axis)
        if x.shape[a] == 0:
            raise ValueError(f"{op}: axis {a} of shape {x.shape} is empty; there is no index "
                             f"to return (TensorFlow raises too)")
        out = bind(prim, x, axis=a)
        d = dtypes.as_dtype(output_type, op)
        return out if d == dtypes.int64 else cast(out, d)
    fn.__name__ = fn.__qualname__ = op
    fn.primitive = prim
    fn.__doc__ = f"Index of the {op[3:]} along ``axis`` (int64; not differentiable)."
    return fn


argmax = _arg(P.argmax, "argmax")
argmin = _arg(P.argmin, "argmin")


def add_n(inputs, name=None):
    """The elementwise sum of a list of tensors of one shape and dtype (TensorFlow)."""
    xs = [as_tensor(x, "add_n") for x in inputs]
    if not xs:
        raise ValueError("add_n: inputs must be a non-empty list of tensors")
    for x in xs[1:]:
        if x.shape != xs[0].shape or x.dtype != xs[0].dtype:
            raise ValueError(f"add_n: inputs must all have one shape and dtype, got "
                             f"{[(t.shape, str(t.dtype)) for t in xs]}")
    out = xs[0]
    for x in xs[1:]:
        out = add(out, x)
    return out
