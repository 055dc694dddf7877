"""float64 log, log1p, erf and softplus for generated kernels: branch-free, so the loops
that call them vectorise (libm's scalar calls do not). ``runtime.vecmath`` re-exports them
(its float32 versions are float32 code, 8 lanes wide).

Written against ``runtime.irmath`` as ``runtime.vecmath64`` is, with its invariants (no
fast-math, explicit fused multiply-adds, no float->int conversion).

log: x = m 2**k with m in [sqrt(2)/2, sqrt(2)) taken from the bits, f = m - 1 (exact),
s = f / (2 + f) and log(1 + f) = 2 atanh(s) = f - f**2/2 + s (f**2/2 + R(s**2)), k ln 2 in
two parts (the classic fdlibm arrangement; R is our own near-minimax fit). log1p runs the
same core on u = 1 + x and adds the exact rounding error of that sum as c / u.
erf: x + x w(x**2) below 1, 1 - exp(-x**2) erfcx(x) from three polynomial pieces up to 6.
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
# erfc(x) exp(x**2) on [1, 2], [2, 3.5] and [3.5, 6]: degree-17 Chebyshev fits in
# t = (x - center) / half-width (relative error 1.2e-19, 1.3e-18, 2.5e-17)
_ERFC_PIECES = ((1.5, 0.5), (2.75, 0.75), (4.75, 1.25))
_ERFC_X = (
    (-2.653391343981901e-14, 2.0291817549924027e-13, -1.3992758101971656e-12,
     1.0198183507810793e-11, -7.276757137420257e-11, 5.04660275957676e-10,
     -3.405755489104501e-09, 2.232841289840529e-08, -1.4191195815474282e-07,
     8.723044760263366e-07, -5.171328643696019e-06, 2.9470857452441112e-05,
     -0.0001608111733745461, 0.0008360838095667819, -0.004116363162445329,
     0.019037759963869347, -0.08181145886628004, 0.3215854164543175),
    (-1.4307261790948654e-13, 8.908801922505171e-13, -4.813392632169323e-12,
     2.885538557548928e-11, -1.7108134429655407e-10, 9.88787353635382e-10,
     -5.601435958505965e-09, 3.108358578398941e-08, -1.68743335231591e-07,
     8.950251220332474e-07, -4.631705268994185e-06, 2.3347542127786593e-05,
     -0.00011442715395558115, 0.0005440864558930353, -0.002503548800296017,
     0.011114208555369083, -0.04742822817047613, 0.1936620962790687),
    (-1.2076133879485765e-12, 6.0017285207420495e-12, -2.4082305647505305e-11,
     1.1659734513230457e-10, -5.683273767282097e-10, 2.69124740381947e-09,
     -1.2581478025813186e-08, 5.8136004948863275e-08, -2.6520906571518573e-07,
     1.1938335877076895e-06, -5.300367911976062e-06, 2.31976109662253e-05,
     -0.00010002374613996337, 0.00042462964854467103, -0.0017736306582610557,
     0.007283322451518984, -0.02937931074770394, 0.11630270721024731))


def _erfcx_pieces(m, a):
    """erfc(a) exp(a**2) for 1 <= a <= 6: the piece's coefficients picked by selects (no
    branch, no table), then one polynomial evaluation."""
    mid, far = a >= 2.0, a >= 3.5

    def pick(v1, v2, v3):
        return m.sel(far, v3, m.sel(mid, v2, v1))
    (c1, h1), (c2, h2), (c3, h3) = _ERFC_PIECES
    t = (a - pick(c1, c2, c3)) * pick(1.0 / h1, 1.0 / h2, 1.0 / h3)   # exact scalings
    return m.poly(t, [pick(*q) for q in zip(*_ERFC_X)], horner=2)


def _erfd(m, x):
    """erf for float64 x within an ulp: x + x w(x**2) below 1, else
    1 - exp(-x**2) erfcx(x) with x**2 and the product carried in double-double; 1 from 6
    on (erf rounds to 1 from 5.93); the sign by copysign (-0.0 stays -0.0)."""
    a = abs(x)
    z = a * a
    zl = m.fma(a, a, -z)                        # a**2 = z + zl
    p = m.poly(z, _ERF_W[:-2])
    zp = z * p
    u, ul = _two_sum(_ERF_W[-2], zp)            # the last two steps in double-double:
    ul = (ul + m.fma(z, p, -zp)) + _ERF_W1_LO   # w cancels to -0.16 near 1
    w = m.fma(z, u, _ERF_W[-1])
    small = m.sel(a < 2.0 ** -20, m.fma(a, w, a),        # one rounding (subnormal
                  a + m.fma(a, w, a * ((z * ul + zl * u) + _ERF_W0_LO)))  # would round twice)
    e = _expd(m, -z)                            # exp(-a**2) = e (1 - zl) to ~2**-105
    q = _erfcx_pieces(m, a)
    p = e * q
    pl = m.fma(e, q, -p) - p * zl               # erfc(a) = p + pl
    r = 1.0 - p
    big = r + (((1.0 - r) - p) - pl)            # 1 - p exactly split: 1 >= p
    out = m.sel(a < 1.0, small, big)
    return m.copysign(m.sel(a >= 6.0, 1.0, out), x)     # NaN: both tests are false


erfd = irmath.intrinsic(_erfd)
