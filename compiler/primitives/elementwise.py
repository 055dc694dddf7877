"""Elementwise primitives: equal shapes and dtypes in, one value per element out.

``lowering`` is a Python expression template over already-evaluated scalar locals
(``{0}``, ``{1}``, ...) that code generation places inside a fused loop; templates may
repeat an argument. Gradient rules follow IEEE semantics and TensorFlow's conventions at
non-smooth points: ties of maximum/minimum go to the first argument, ``abs`` and ``sign``
have gradient 0 at 0, ``floor``/``ceil``/``round``/``sign``/``floordiv`` give zeros.
"""
import math

import numpy as np
from scipy import special as _sp

from compiler import primitives as P
from compiler.primitives import batch_rules
from compiler.primitives.core import (ANY, BOOL, FLOAT, INT, NUMERIC, Case, Scalar,
                                      check_dtype, declare, full_like, same_shape_dtype)

_SQRT_PI = math.sqrt(math.pi)


def _erf(x):
    # NumPy has no erf ufunc; vectorise math.erf (the reference tier favours exactness).
    x = np.asarray(x)
    out = np.vectorize(math.erf, otypes=[x.dtype if x.dtype.kind == "f" else "f8"])(x)
    return out if out.ndim else out[()]


def _sigmoid(x):
    # with e = exp(-|x|) in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) below; no overflow
    # and full relative precision in both tails (NaN stays NaN, +-inf give 1 and 0)
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out if out.ndim else out[()]


def _softplus(x):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow, full precision in both
    # tails (NaN stays NaN, +inf gives inf, -inf gives 0)
    out = np.logaddexp(np.zeros((), np.result_type(x)), x)
    return out if np.ndim(out) else out[()]


def _default_cases(n, dtypes, sample, smooth, make, int_make):
    """A (3, 4) and a scalar case in float64 (bool for logical ops), plus an int32 case."""
    dt = None if np.dtype("float64") in dtypes else (np.dtype("bool"),) * n
    cases = [Case(shapes=((3, 4),) * n, low=sample[0], high=sample[1], smooth=smooth,
                  dtypes=dt, make=make),
             Case(shapes=((),) * n, low=sample[0], high=sample[1], smooth=smooth,
                  dtypes=dt, make=make)]
    if INT <= dtypes:
        cases.append(Case(shapes=((5,),) * n, low=-3, high=4, dtypes=(np.dtype("int32"),) * n,
                          make=int_make))
    return cases


def _f32(fast, f64):
    # the vectorisable polynomial kernels of runtime.vecmath: float32 ``fast``, else ``f64``
    return lambda args, dtype: f"{fast if dtype == np.float32 else f64}({args[0]})"


def _scalar(lowering):
    # unary/binary take the expression itself (template or function) or a Scalar
    return lowering if lowering is None or isinstance(lowering, Scalar) else Scalar(lowering)


def unary(name, impl, vjp=None, lowering=None, dtypes=FLOAT, out_dtype=None,
          sample=(-2.0, 2.0), smooth=True, differentiable=True, promote=None, cases=(),
          **rules):
    """Declare an elementwise primitive of one operand (``rules``: batch=, ...;
    batching defaults to the shared elementwise rule)."""
    def infer(x):
        check_dtype(name, x, dtypes)
        return x.shape, (out_dtype or x.dtype)
    cases = _default_cases(1, dtypes, sample, smooth, None, None) + list(cases)
    rules.setdefault("batch", batch_rules.elementwise)
    return declare(name, infer=infer, impl=impl, vjp=vjp, kind="elementwise",
                   lowering=_scalar(lowering), cases=cases, differentiable=differentiable,
                   dtypes=dtypes, promote=promote, **rules)


def binary(name, impl, vjp=None, lowering=None, dtypes=FLOAT, out_dtype=None,
           sample=(-2.0, 2.0), smooth=True, differentiable=True, make=None, int_make=None,
           cases=(), promote=None, **rules):
    """Declare an elementwise primitive of two operands of equal shape and dtype."""
    def infer(x, y):
        shape, dtype, yd = x.shape, x.dtype, y.dtype
        if y.shape != shape or (yd is not dtype and yd != dtype):
            same_shape_dtype(name, (x, y))      # raises, naming both shapes/dtypes
        check_dtype(name, x, dtypes)
        return shape, (out_dtype or dtype)
    cases = _default_cases(2, dtypes, sample, smooth, make, int_make) + list(cases)
    rules.setdefault("batch", batch_rules.elementwise)
    return declare(name, infer=infer, impl=impl, vjp=vjp, kind="elementwise",
                   lowering=_scalar(lowering), cases=cases, differentiable=differentiable,
                   dtypes=dtypes, promote=promote, **rules)


def _true_divide_dtype(d):
    # int / int is float64, as NumPy's true_divide (bool is not accepted)
    return np.dtype("float64") if d.kind in "iu" else d


def _zero_grad(g, out, *xs):
    return tuple(full_like(x, 0.0) for x in xs)


def _away_from_zero(rng, shape, low=0.5, high=2.0):
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def _nonzero_divisor(rng, shapes):
    # floor division and modulo of both signs, by a divisor of either sign (never 0)
    return [rng.uniform(-5, 5, shapes[0]), _away_from_zero(rng, shapes[1], 0.7, 2.0)]


def _int_nonzero_divisor(rng, shapes):
    return [rng.integers(-7, 8, shapes[0]),
            rng.integers(1, 4, shapes[1]) * rng.choice([-1, 1], shapes[1])]


# -- unary ---------------------------------------------------------------------------------

neg = unary("neg", np.negative, lambda g, out, x: (-g,), "(-{0})", dtypes=NUMERIC, exact=True)
exp = unary("exp", np.exp, lambda g, out, x: (g * out,), _f32("expf", "expd"))
expm1 = unary("expm1", np.expm1, lambda g, out, x: (g * (out + 1),),
              "math.expm1({0})")
log = unary("log", np.log, lambda g, out, x: (g / x,), _f32("logf", "logd"),
            sample=(0.2, 3.0))
log1p = unary("log1p", np.log1p, lambda g, out, x: (g / (x + 1),),
              _f32("log1pf", "log1pd"), sample=(-0.5, 3.0))
# sin/cos of arguments below a bound reduce by a short step (runtime.vecmath*: ``*_near``,
# bit for bit the full kernels' results there; the bounds are its SINCOSF_NEAR and
# SINCOSD_NEAR): generated loops run those and repeat with the full kernels only when some
# argument reached the bound (compiler.codegen). primitive -> {dtype: (function, bound)}
NEAR = {"sin": {np.dtype(np.float32): ("sinf_near", 2.0 ** 47),
                np.dtype(np.float64): ("sind_near", 2.0 ** 29)},
        "cos": {np.dtype(np.float32): ("cosf_near", 2.0 ** 47),
                np.dtype(np.float64): ("cosd_near", 2.0 ** 29)}}
sin = unary("sin", np.sin, lambda g, out, x: (g * P.cos(x),), _f32("sinf", "sind"))
cos = unary("cos", np.cos, lambda g, out, x: (-(g * P.sin(x)),), _f32("cosf", "cosd"))
# d tan = 1 + tan^2
tan = unary("tan", np.tan,
            lambda g, out, x: (g * (1 + out * out),),
            "math.tan({0})", sample=(-1.2, 1.2))


def _one_minus_sq(x):
    return 1 - x * x


asin = unary("asin", np.arcsin, lambda g, out, x: (g / P.sqrt(_one_minus_sq(x)),),
             "math.asin({0})", sample=(-0.9, 0.9))
acos = unary("acos", np.arccos,
             lambda g, out, x: (-(g / P.sqrt(_one_minus_sq(x))),),
             "math.acos({0})", sample=(-0.9, 0.9))
atan = unary("atan", np.arctan,
             lambda g, out, x: (g / (1 + x * x),),
             "math.atan({0})")
sinh = unary("sinh", np.sinh, lambda g, out, x: (g * P.cosh(x),), "math.sinh({0})")
cosh = unary("cosh", np.cosh, lambda g, out, x: (g * P.sinh(x),), "math.cosh({0})")
tanh = unary("tanh", np.tanh, lambda g, out, x: (g * _one_minus_sq(out),),
             _f32("tanhf", "tanhd"))
# d erf = 2/sqrt(pi) exp(-x^2)
erf = unary("erf", _erf,
            lambda g, out, x: (g * (2 / _SQRT_PI * P.exp(-(x * x))),),
            _f32("erff", "erfd"))
# d sqrt = 1 / (2 sqrt(x)); infinite at 0 as in TensorFlow
sqrt = unary("sqrt", np.sqrt,
             lambda g, out, x: (g / (2 * out),),
             "math.sqrt({0})", sample=(0.2, 3.0), exact=True)
# d sigmoid = s(x) (1 - s(x)) = s(x) s(-x): the second form keeps full precision in both
# tails (1 - s(x) rounds to 0 for x > 37 in float64, where s(-x) is still ~1e-17)
sigmoid = unary("sigmoid", _sigmoid,
                lambda g, out, x: (g * (out * P.sigmoid(-x)),),
                _f32("sigmoidf", "sigmoidd"), sample=(-4.0, 4.0))
# d softplus = sigmoid: exact at every point (a composition through max and |x| would
# have the wrong slope at 0)
softplus = unary("softplus", _softplus, lambda g, out, x: (g * P.sigmoid(x),),
                 _f32("softplusf", "softplusd"), sample=(-4.0, 4.0))

# -- special functions (TensorFlow's tf.math names; values and poles as TensorFlow's) -----

def _wrap(fn):
    # SciPy's function under ignored floating-point warnings, in the operands' float dtype
    # (NumPy scalars for 0-d operands)
    def impl(*xs):
        with np.errstate(all="ignore"):
            out = np.asarray(fn(*(np.asarray(x) for x in xs)))
        out = out.astype(np.result_type(*xs), copy=False)
        return out if out.ndim else out[()]
    return impl


def _float64_call(fn):
    # a ``runtime.specfun`` function (float64 in and out): float32 operands are widened
    # and the result rounded once
    def lower(args, dtype):
        if dtype == np.float32:
            inner = ", ".join(f"np.float64({a})" for a in args)
            return f"np.float32({fn}({inner}))"
        return f"{fn}({', '.join(args)})"
    return lower


def _lgamma(x):
    # C's lgamma: +inf at the poles and at both infinities (SciPy's gammaln(-inf) is -inf)
    return np.where(np.isneginf(x), np.inf, _sp.gammaln(x))


def _digamma(x):
    # NaN at the poles 0, -1, -2, ... (TensorFlow/Eigen; SciPy gives -inf at +0)
    return np.where((x <= 0) & (np.floor(x) == x), np.nan, _sp.psi(x))


def _polygamma(n, x):
    # n must be a non-negative integer (else NaN); n = 0 is digamma
    valid = (n >= 0) & (np.floor(n) == n) & np.isfinite(n) & ~np.isneginf(x)
    safe_n = np.where(valid, n, 1)
    out = np.where(safe_n == 0, _digamma(x), _sp.polygamma(safe_n, x))
    return np.where(valid, out, np.nan)


def _polygamma_cases(rng, shapes):
    # orders 0..3 at points of both signs away from the poles
    x = rng.uniform(0.3, 3.0, shapes[1]) * rng.choice([1.0, 1.0, -1.0], shapes[1])
    x = np.where(x < 0, np.floor(x) + rng.uniform(0.2, 0.8, shapes[1]), x)
    return [rng.integers(0, 4, shapes[0]).astype(np.float64), x]


# d atan2(y, x) / dy = x / (x^2 + y^2), d / dx = -y / (x^2 + y^2); NaN at (0, 0) (the
# function has no limit there), as TensorFlow's and JAX's
def _atan2_vjp(g, out, y, x):
    scaled = g / (x * x + y * y)
    return scaled * x, -(scaled * y)


atan2 = binary("atan2", np.arctan2, _atan2_vjp, "math.atan2({0}, {1})",
               make=lambda rng, shapes: [_away_from_zero(rng, shapes[0], 0.3, 2.0),
                                         _away_from_zero(rng, shapes[1], 0.3, 2.0)])
# d lgamma = digamma: NaN at the poles (TensorFlow's lgamma gradient there)
lgamma = unary("lgamma", _wrap(_lgamma), lambda g, out, x: (g * P.digamma(x),),
               "math.lgamma({0})", sample=(0.2, 4.0),
               cases=[Case(shapes=((6,),), low=-2.9, high=-2.1)])
# d digamma = polygamma(1, .)
digamma = unary("digamma", _wrap(_digamma),
                lambda g, out, x: (g * P.polygamma(full_like(x, 1), x),),
                _float64_call("digammad"), sample=(0.2, 4.0),
                cases=[Case(shapes=((6,),), low=-2.9, high=-2.1)])
# d polygamma(n, x) / dx = polygamma(n + 1, x); the order has no gradient (TensorFlow)
polygamma = binary("polygamma", _wrap(_polygamma),
                   lambda g, out, n, x: (None, g * P.polygamma(n + 1, x)),
                   _float64_call("polygammad"), make=_polygamma_cases)


def _zeta(x, q):
    # Hurwitz zeta; NaN for a NaN operand and at q = -inf; x = inf: 0 beyond q = 1, 1 at
    # q = 1, inf below (SciPy's NaN there)
    out = np.where(np.isposinf(x), np.where(q > 1, 0.0, np.where(q == 1, 1.0, np.inf)),
                   _sp.zeta(x, q))
    return np.where(np.isnan(x) | np.isnan(q) | np.isneginf(q), np.nan, out)


# d zeta(x, q) / dq = -x zeta(x + 1, q); none with respect to x (TensorFlow's). The
# registry's second-order check differentiates the whole rule in x too (through zeta's
# missing x derivative), so it is off here; tests/tracer/test_tf_math_more.py checks the
# second derivative in q
zeta = binary("zeta", _wrap(_zeta), lambda g, out, x, q: (None, -(g * x * P.zeta(x + 1, q))),
              _float64_call("zetad"), smooth=False,
              make=lambda rng, shapes: [rng.integers(2, 5, shapes[0]).astype(np.float64),
                                        rng.uniform(0.5, 3.0, shapes[1])])


def _bessel_i1e_vjp(g, out, x):
    # d i1e = i0e - i1e (sign(x) + 1/x); below |x| = 1e-3 its Taylor series in |x|,
    # 1/2 - |x| + 15/16 x^2 - 7/12 |x|^3 + 35/128 x^4 (within 3e-16): i1e / x cancels
    # there, and its derivative (the second derivative of i1e) with it
    a = P.abs(x)
    small = P.less(a, full_like(x, 1e-3))
    safe = P.select(small, full_like(x, 1), x)
    slope = P.bessel_i0e(safe) - P.bessel_i1e(safe) * (P.sign(safe) + 1 / safe)
    series = 0.5 + a * (-1.0 + a * (15 / 16 + a * (-7 / 12 + a * (35 / 128))))
    return (g * P.select(small, series, slope),)


# exp(-|x|) I0(x) and exp(-|x|) I1(x); d i0e = i1e - sign(x) i0e
bessel_i0e = unary("bessel_i0e", _wrap(_sp.i0e),
                   lambda g, out, x: (g * (P.bessel_i1e(x) - P.sign(x) * out),),
                   _float64_call("bessel_i0ed"), sample=(0.2, 4.0),
                   cases=[Case(shapes=((6,),), low=-4.0, high=-0.2)])
bessel_i1e = unary("bessel_i1e", _wrap(_sp.i1e), _bessel_i1e_vjp,
                   _float64_call("bessel_i1ed"), sample=(0.2, 4.0),
                   cases=[Case(shapes=((6,),), low=-4.0, high=-0.2)])
# d erfc = -2/sqrt(pi) exp(-x^2)
erfc = unary("erfc", _wrap(_sp.erfc),
             lambda g, out, x: (-(g * (2 / _SQRT_PI * P.exp(-(x * x)))),),
             "math.erfc({0})")
# d erfinv(x) = sqrt(pi)/2 exp(erfinv(x)^2)
erfinv = unary("erfinv", _wrap(_sp.erfinv),
               lambda g, out, x: (g * (_SQRT_PI / 2 * P.exp(out * out)),),
               _float64_call("erfinvd"), sample=(-0.9, 0.9))
# d ndtri(p) = sqrt(2 pi) exp(ndtri(p)^2 / 2)
ndtri = unary("ndtri", _wrap(_sp.ndtri),
              lambda g, out, x: (g * (math.sqrt(2 * math.pi) * P.exp(out * out * 0.5)),),
              _float64_call("ndtrid"), sample=(0.05, 0.95))


def _relu(x):
    out = np.maximum(x, np.zeros((), np.result_type(x)))      # NaN stays NaN
    return out if np.ndim(out) else out[()]


def _relu_lowering(args, dtype):
    x = args[0]
    if dtype.kind != "f":
        return f"max({x}, 0)"
    return f"max_nan({x}, np.float32(0.0))" if dtype == np.float32 else f"max_nan({x}, 0.0)"


# max(x, 0) with TensorFlow's and JAX's gradient: g where x > 0, else 0 (also at 0 and at
# NaN, where maximum's tie rule would pass g through)
relu = unary("relu", _relu, lambda g, out, x: (P.select(P.greater(x, full_like(x, 0)), g,
                                                        full_like(g, 0)),),
             _relu_lowering, dtypes=NUMERIC, smooth=False, exact=True)
abs_ = unary("abs", np.abs, lambda g, out, x: (g * P.sign(x),), "abs({0})",
             dtypes=NUMERIC, smooth=False, exact=True)
sign = unary("sign", np.sign, _zero_grad,
             # x - x: sign(-0.0) is +0.0 in NumPy, and NaN stays NaN
             "(1 if {0} > 0 else (-1 if {0} < 0 else {0} - {0}))", dtypes=NUMERIC,
             smooth=False, exact=True)
floor = unary("floor", np.floor, _zero_grad, "np.floor({0})", smooth=False, exact=True)
ceil = unary("ceil", np.ceil, _zero_grad, "np.ceil({0})", smooth=False, exact=True)
# banker's rounding, as tf.round and np.round
round_ = unary("round", np.rint, _zero_grad, "np.rint({0})", smooth=False, exact=True)
logical_not = unary("logical_not", np.logical_not, None, "(not {0})", dtypes=BOOL,
                    differentiable=False, exact=True)

# -- binary --------------------------------------------------------------------------------

add = binary("add", np.add, lambda g, out, x, y: (g, g), "({0} + {1})", dtypes=NUMERIC, exact=True)
# these rules build only the cotangents the walk uses (``needed``): x * 0.5 on a tape
# needs none for its literal operand
sub = binary("sub", np.subtract,
             lambda g, out, x, y, needed: (g, -g if needed[1] else None), "({0} - {1})",
             dtypes=NUMERIC, exact=True, vjp_needs=True)
mul = binary("mul", np.multiply,
             lambda g, out, x, y, needed: (g * y if needed[0] else None,
                                           g * x if needed[1] else None),
             "({0} * {1})", dtypes=NUMERIC, exact=True, vjp_needs=True)
# d(x/y)/dy = -x/y^2 = -out/y
div = binary("div", np.true_divide,
             lambda g, out, x, y, needed: (g / y if needed[0] else None,
                                           -(g * out / y) if needed[1] else None),
             "({0} / {1})", promote=_true_divide_dtype, vjp_needs=True,
             make=lambda rng, shapes: [rng.uniform(-2, 2, shapes[0]),
                                       _away_from_zero(rng, shapes[1])], exact=True)


def _pow_vjp(g, out, x, y):
    # dx: y x^(y-1), taken as 0 where y == 0 (so 0**0 has gradient 0, not NaN); the
    # unselected branch reads x = 1 there, so its own derivative (y-1) x^(y-2), which a
    # second derivative multiplies by the zero cotangent, is finite (d2/dx2 x**0 at 0 is
    # 0, not 0 * inf)
    zero = full_like(x, 0)
    y_zero = P.equal(y, zero)
    safe_x = P.select(y_zero, full_like(x, 1), x)
    dx = P.select(y_zero, zero, y * P.pow(safe_x, y - 1))
    # dy: x^y log x where x > 0, else 0 (as TensorFlow: no false singularity at x = 0 and
    # no NaN for a negative base)
    positive = P.greater(x, zero)
    log_x = P.select(positive, P.log(P.select(positive, x, full_like(x, 1))), zero)
    return g * dx, g * (out * log_x)


def _pow_lowering(args, dtype):
    # integer powers by squaring (Numba's own int ** int crashes under fastmath)
    return (f"ipow({args[0]}, {args[1]})" if dtype.kind in "iu" else
            f"({args[0]} ** {args[1]})")


def _pow_at_zero(rng, shapes):
    # x = 0 with integer exponents >= 1 (finite, central differences defined there; dy is
    # taken as 0), and y = 0 away from x = 0
    return [np.array([0.0, 0.0, 0.0, 1.5, 0.7, 2.0]), np.array([2.0, 3.0, 1.0, 2.0, 0.0, 3.0])]


def _pow(x, y):
    out = np.power(x, y)
    # NumPy computes x ** 0.5 as sqrt(x) when the exponent is a scalar or a broadcast
    # (stride-0) array: IEEE pow (and the compiled code) gives +0.0 at -0.0 and +inf at
    # -inf, where sqrt gives -0.0 and NaN
    if np.result_type(out).kind == "f":
        fix = np.equal(y, 0.5) & ((x == 0) | np.isneginf(x))
        if fix.any():
            good = np.where(np.isneginf(x), np.inf, 0.0)
            out = np.where(fix, good, out).astype(np.result_type(out))
            out = out if out.ndim else out[()]
    return out


pow_ = binary("pow", _pow, _pow_vjp, _pow_lowering, dtypes=NUMERIC,
              make=lambda rng, shapes: [rng.uniform(0.5, 2.0, shapes[0]),
                                        rng.uniform(-2.0, 2.0, shapes[1])],
              int_make=lambda rng, shapes: [rng.integers(-3, 4, shapes[0]),
                                            rng.integers(0, 4, shapes[1])],
              cases=[Case(shapes=((6,), (6,)), smooth=False, make=_pow_at_zero)])


def _extremum_vjp(first_wins):
    def vjp(g, out, x, y):
        zero = full_like(g, 0)
        pick_x = first_wins(x, y)
        return P.select(pick_x, g, zero), P.select(pick_x, zero, g)
    return vjp


# ties send the gradient to the first argument
maximum = binary("maximum", np.maximum, _extremum_vjp(lambda x, y: P.greater_equal(x, y)),
                 "max_nan({0}, {1})", dtypes=NUMERIC, smooth=False, exact=True)
minimum = binary("minimum", np.minimum, _extremum_vjp(lambda x, y: P.less_equal(x, y)),
                 "min_nan({0}, {1})", dtypes=NUMERIC, smooth=False, exact=True)
floordiv = binary("floordiv", np.floor_divide, _zero_grad, "floordiv({0}, {1})",
                  dtypes=NUMERIC, smooth=False,
                  make=_nonzero_divisor, int_make=_int_nonzero_divisor)
# x mod y = x - floor(x / y) y
mod = binary("mod", np.mod,
             lambda g, out, x, y: (g, -(g * P.floordiv(x, y))),
             "floormod({0}, {1})", dtypes=NUMERIC, smooth=False,
             make=_nonzero_divisor, int_make=_int_nonzero_divisor)

# comparisons and logic: boolean results, no gradient
equal = binary("equal", np.equal, None, "({0} == {1})", dtypes=ANY, out_dtype="bool",
               differentiable=False, exact=True)
not_equal = binary("not_equal", np.not_equal, None, "({0} != {1})", dtypes=ANY,
                   out_dtype="bool", differentiable=False, exact=True)
less = binary("less", np.less, None, "({0} < {1})", dtypes=NUMERIC, out_dtype="bool",
              differentiable=False, exact=True)
less_equal = binary("less_equal", np.less_equal, None, "({0} <= {1})", dtypes=NUMERIC,
                    out_dtype="bool", differentiable=False, exact=True)
greater = binary("greater", np.greater, None, "({0} > {1})", dtypes=NUMERIC,
                 out_dtype="bool", differentiable=False, exact=True)
greater_equal = binary("greater_equal", np.greater_equal, None, "({0} >= {1})",
                       dtypes=NUMERIC, out_dtype="bool", differentiable=False, exact=True)
logical_and = binary("logical_and", np.logical_and, None, "({0} & {1})", dtypes=BOOL,
                     differentiable=False, exact=True)
logical_or = binary("logical_or", np.logical_or, None, "({0} | {1})", dtypes=BOOL,
                    differentiable=False, exact=True)


# -- select and cast -----------------------------------------------------------------------

def _select_infer(c, x, y):
    check_dtype("select", c, BOOL, "cond")
    same_shape_dtype("select", (c, x, y)[1:])
    if c.shape != x.shape:
        raise ValueError(f"select: cond has shape {c.shape} and x has shape {x.shape}; "
                         f"they must be equal (broadcast first)")
    return x.shape, x.dtype


def _select_vjp(g, out, c, x, y):
    zero = full_like(g, 0)
    return None, P.select(c, g, zero), P.select(c, zero, g)


select = declare("select", infer=_select_infer, impl=np.where, vjp=_select_vjp,
                 kind="elementwise", lowering=Scalar("({1} if {0} else {2})"),
                 cases=[Case(shapes=((3, 4), (3, 4), (3, 4)),
                             make=lambda rng, shapes: [rng.uniform(size=shapes[0]) > 0.5,
                                                       rng.uniform(-2, 2, shapes[1]),
                                                       rng.uniform(-2, 2, shapes[2])])], exact=True,
                 batch=batch_rules.elementwise)


def _cast_infer(x, *, dtype):
    np.dtype(dtype)
    return x.shape, dtype


def _cast_vjp(g, out, x, *, dtype):
    # only float -> float casts carry gradient; to or from int/bool is a cut
    if x.dtype.kind != "f" or np.dtype(dtype).kind != "f":
        return (None,)
    return (P.cast(g, dtype=x.dtype.str),)


cast = declare("cast", infer=_cast_infer,
               impl=lambda x, *, dtype: np.asarray(x).astype(dtype)[()],
               vjp=_cast_vjp, kind="elementwise", lowering=Scalar("{0}"),
               cases=[Case(shapes=((3, 4),), attrs={"dtype": "<f4"}),
                      Case(shapes=((3,),), attrs={"dtype": "<f8"},
                           dtypes=(np.dtype("float32"),)),
                      Case(shapes=((3, 4),), attrs={"dtype": "<i4"}, low=-3, high=3),
                      Case(shapes=((4,),), attrs={"dtype": "<f8"}, dtypes=(np.dtype("int32"),)),
                      Case(shapes=((4,),), attrs={"dtype": "<f4"}, dtypes=(np.dtype("bool"),))],
               exact=True, batch=batch_rules.elementwise)

stop_gradient = declare("stop_gradient", infer=lambda x: (x.shape, x.dtype),
                        impl=lambda x: x, vjp=lambda g, out, x: (None,),
                        kind="elementwise", lowering=Scalar("{0}"),
                        cases=[Case(shapes=((3,),))], exact=True,
                        batch=batch_rules.elementwise)


def _straight_through_infer(source, value):
    if source.shape != value.shape or source.dtype != value.dtype:
        raise TypeError(f"straight_through: source has shape {source.shape} and dtype "
                        f"{source.dtype} but value has shape {value.shape} and dtype "
                        f"{value.dtype}; both must be the same")
    return value.shape, value.dtype


# the value of ``value`` with the gradient of the identity of ``source``: a Variable's read
# inside a control-flow body (``value``: what the body holds for it now) is differentiated
# as a read of the Variable before the region (``source``), never through updates (as
# TensorFlow's reads of a resource: every read is a source, an update carries no gradient)
straight_through = declare(
    "straight_through", infer=_straight_through_infer,
    impl=lambda source, value: value, vjp=lambda g, out, source, value: (g, None),
    kind="elementwise", lowering=Scalar("{1}"), cases=[Case(shapes=((3,), (3,)))],
    exact=True, batch=batch_rules.elementwise)
