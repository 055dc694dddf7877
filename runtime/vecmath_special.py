"""float64 log, log1p, erf and softplus for generated kernels: branch-free, so the loops
that call them vectorise (libm's scalar calls do not). ``runtime.vecmath`` re-exports them
(its float32 versions are float32 code, 8 lanes wide).

Written against ``runtime.irmath`` as ``runtime.vecmath64`` is, with its invariants (no
fast-math, explicit fused multiply-adds, no float->int conversion).

log: x = m 2**k with m in [sqrt(2)/2, sqrt(2)) taken from the bits, f = m - 1 (exact),
s = f / (2 + f) and log(1 + f) = 2 atanh(s) = f - f**2/2 + s (f**2/2 + R(s**2)), k ln 2 in
two parts (the classic fdlibm arrangement; R is our own near-minimax fit). log1p runs the
same core on u = 1 + x and adds the exact rounding error of that sum as c / u.
erf: x + x w(x**2) below 1, 1 - exp(-x**2) erfcx(x) from one polynomial up to 6.
Accuracy (tests/runtime/test_vecmath_special.py): below 1 ulp over the whole domain;
log(+-0) = -inf, log(x < 0) = NaN, log(inf) = inf, log1p(-0.0) = -0.0, erf(-0.0) = -0.0.
"""
import math

from runtime import irmath
from runtime.vecmath64 import _expd, _two_sum

# R(z) / z, z = s**2 <= 0.02944 (|s| <= 3 - 2 sqrt 2): Chebyshev fit of degree 6 to
# (2 atanh(s) - 2 s) / s**3 at 200-bit precision (error below 4e-16, so below 2**-57
# relative in the result); highest degree first
_LOG_R = (0.14616585424888623, 0.15331710618210773, 0.18182889455674947,
          0.22222211130259878, 0.2857142862600327, 0.39999999999899444,
          0.666666666666667)
_LN2_HI = 0.6931471803691238            # ln 2 to 32 bits: k _LN2_HI is exact (|k| < 2**11)
_LN2_LO = 1.9082149292705877e-10        # ln 2 - _LN2_HI
_MIN_NORMAL, _TWO54 = 2.2250738585072014e-308, 2.0 ** 54


def _log_core(m, u, c):
    """log(u) + c for a positive finite u (subnormals scaled first) and a small c."""
    tiny = u < _MIN_NORMAL
    mant, k = m.split_sqrt2(m.sel(tiny, u * _TWO54, u))
    k = m.sel(tiny, k - 54.0, k)
    f = mant - 1.0
    s = f / (2.0 + f)
    z = s * s
    r = z * m.poly(z, _LOG_R)
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + r) + (k * _LN2_LO + c))) - f)


def _logd(m, x):
    """log for float64 x (NaN, +-0, negative and infinite arguments as NumPy)."""
    out = m.sel(x < math.inf, _log_core(m, x, 0.0), x)      # inf and NaN pass through
    out = m.sel(x < 0.0, math.nan, out)
    return m.sel(x == 0.0, -math.inf, out)


def _log1pd(m, x):
    """log(1 + x) for float64 x, accurate near 0 (log1p(-0.0) = -0.0, log1p(-1) = -inf)."""
    u = 1.0 + x
    bb = u - 1.0
    c = (1.0 - (u - bb)) + (x - bb)             # 1 + x = u + c exactly (two-sum)
    out = m.sel(x < math.inf, _log_core(m, u, c / u), x)
    out = m.sel(abs(x) < 2.0 ** -54, x, out)    # log1p x rounds to x (and keeps -0.0)
    out = m.sel(x < -1.0, math.nan, out)
    return m.sel(x == -1.0, -math.inf, out)


def _softplusd(m, x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) (no overflow; NaN fails the test
    and passes through log1p)."""
    return m.sel(x > 0.0, x, 0.0) + _log1pd(m, _expd(m, -abs(x)))


logd = irmath.intrinsic(_logd)
log1pd = irmath.intrinsic(_log1pd)
softplusd = irmath.intrinsic(_softplusd)


# erf(x) / x - 1 as a polynomial in z = x**2 on [0, 1] (Chebyshev fit, error 1.3e-19)
_ERF_W = (5.957176147748911e-11, -1.1372848856791674e-09, 1.4659775274047436e-08,
          -1.6350312701054695e-07, 1.6461000484121368e-06, -1.4925595266831182e-05,
          0.0001205533111164271, -0.000854832698083379, 0.0052239776248180145,
          -0.026866170645076792, 0.11283791670954879, -0.3761263890318375,
          0.1283791670955126)
# the low parts of the last two (rounding them would cost up to 0.15 ulp near 1)
_ERF_W1_LO, _ERF_W0_LO = 1.9560217949632477e-18, -1.2550489881249748e-17
# erfc(x) exp(x**2) on [1, 6] as one degree-22 polynomial in t = (x - 1) / 5, fitted (least
# squares at 40 digits on Chebyshev nodes) with weight exp(-x**2), so that its error counts
# as the error it makes in erf = 1 - exp(-x**2) erfcx(x): below 2e-18 (0.02 ulp) from the
# coefficients' rounding; highest degree first. erf needs erfcx only to ~1e-17 / exp(-x**2)
# (7e-17 relative at 1, 3e-10 at 4): one polynomial, no pieces picked by selects. Its
# evaluation is exact at t = 0 (x = 1, where the weight is largest) and its rounding errors
# grow with t as the weight falls.
_ERFCX = (
    86.64949725583438, -669.9422794478268, 2445.8154961737896, -5638.205687492905,
    9280.409630663582, -11728.842804210148, 11997.367889938274, -10379.537779621924,
    7900.383222500762, -5476.709488534874, 3553.190596800784, -2196.049450187632,
    1304.1931386249923, -745.8879641429778, 410.25198717014075, -216.332605206607,
    108.9084487006152, -52.06834009684556, 23.482685117782417, -9.903371117455698,
    3.859289034296334, -1.3660600739194892, 0.427583576155807)


def _erfcx(m, a):
    """erfc(a) exp(a**2) for 1 <= a <= 6, to the accuracy erf needs (see _ERFCX)."""
    return m.poly((a - 1.0) * 0.2, _ERFCX, horner=2)


def _erfd(m, x):
    """erf for float64 x within an ulp: x + x w(x**2) below 1, else
    1 - exp(-x**2) erfcx(x) with x**2 and the product carried in double-double; 1 from 6
    on (erf rounds to 1 from 5.93); the sign by copysign (-0.0 stays -0.0)."""
    a = abs(x)
    z = x * x                                   # as the derivative's exp(-(x * x)): one
    zl = m.fma(x, x, -z)                        # kernel with both shares exp; x**2 = z + zl
    p = m.poly(z, _ERF_W[:-2])
    zp = z * p
    u, ul = _two_sum(_ERF_W[-2], zp)            # the last two steps in double-double:
    ul = (ul + m.fma(z, p, -zp)) + _ERF_W1_LO   # w cancels to -0.16 near 1
    w = m.fma(z, u, _ERF_W[-1])
    small = m.sel(a < 2.0 ** -20, m.fma(a, w, a),        # one rounding (subnormal
                  a + m.fma(a, w, a * ((z * ul + zl * u) + _ERF_W0_LO)))  # would round twice)
    e = _expd(m, -z)                            # exp(-a**2) = e (1 - zl) to ~2**-105
    q = _erfcx(m, a)
    p = e * q
    pl = m.fma(e, q, -p) - p * zl               # erfc(a) = p + pl
    r = 1.0 - p
    big = r + (((1.0 - r) - p) - pl)            # 1 - p exactly split: 1 >= p
    out = m.sel(a < 1.0, small, big)
    return m.copysign(m.sel(a >= 6.0, 1.0, out), x)     # NaN: both tests are false


erfd = irmath.intrinsic(_erfd)
