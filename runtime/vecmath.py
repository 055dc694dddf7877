"""Scalar helpers that generated kernels import (``from runtime.vecmath import *``).

float32 sin/cos/exp/tanh/sigmoid (Cephes-style coefficients) and log/log1p/erf/softplus
(own fits) are branch-free polynomial kernels written so LLVM inlines and vectorises them
8 lanes wide (sin/cos, whose reduction is long, and tanh as ``runtime.irmath``
intrinsics: Numba functions that size are called, not inlined, and an intrinsic's
instructions merge with the loop's); libm's float32 calls do not vectorise and
cost 3-8x NumPy. float64
exp/tanh/sigmoid/sin/cos are the vectorisable kernels of ``runtime.vecmath64``, float64
log/log1p/erf/softplus those of ``runtime.vecmath_special``; digamma, polygamma, zeta,
erfinv, ndtri, i0e and i1e are the scalar functions of ``runtime.specfun``; the other float64 functions
call libm (``math.*``).

Invariants:
- Compiled without fast-math flags: every operation is IEEE (NaN, Inf and signed zero
  behave as in NumPy). The polynomials use explicit fused multiply-adds (``fma``, an IEEE
  754 operation with one rounding, so the result does not depend on what LLVM chooses to
  contract). No float->int conversion anywhere (NaN would become poison).
- Accumulations in generated loops go through ``acc_add``/``acc_mul``: an ``fadd``/``fmul``
  carrying only the ``reassoc`` flag, on that one instruction. It lets LLVM split the
  running sum into vector lanes (a different summation order, as NumPy's pairwise sum is
  one too) and can change nothing else: NaN and Inf operands give NaN/Inf in every order.
- Constants are module-level ``np.float32``: a Python float literal would promote the whole
  expression to float64 and stop the float32 vector code.
- Accuracy (tests/runtime/test_vecmath.py): a few ulp against NumPy; sin/cos reduce the
  argument in float64, exactly enough for every float32 up to FLT_MAX.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

# float64 kernels (and the fma intrinsic); kernels reach them through this module
from runtime.vecmath64 import cosd, expd, fma, sigmoidd, sind, tanhd  # noqa: F401
from runtime.vecmath64 import cosd_near, sind_near  # noqa: F401
from runtime.vecmath_special import erfd, log1pd, logd, softplusd  # noqa: F401
from runtime.specfun import digammad, erfinvd, ndtrid, polygammad, zetad  # noqa: F401
from runtime.specfun import bessel_i0ed, bessel_i1ed  # noqa: F401
from runtime import irmath
from runtime.vecmath64 import two_over_pi_bits

_F = np.float32


def _reassoc_op(opname):
    def op(typingctx, a, b):
        if not (isinstance(a, types.Float) and isinstance(b, (types.Float, types.Integer))):
            return None

        def codegen(context, builder, sig, args):
            # the value takes the accumulator's type, as ``a += b`` into a typed slot does
            b_ = context.cast(builder, args[1], sig.args[1], sig.args[0])
            return getattr(builder, opname)(args[0], b_, flags=("reassoc",))
        return a(a, b), codegen
    return intrinsic(op)


# accumulation steps of float reductions: reassociable (vectorisable) and nothing else
acc_add = _reassoc_op("fadd")
acc_mul = _reassoc_op("fmul")


# -- sin / cos -------------------------------------------------------------------------------

_S1, _S2, _S3 = _F(-1.6666654611e-1), _F(8.3321608736e-3), _F(-1.9515295891e-4)
_C1, _C2, _C3 = _F(4.166664568298827e-2), _F(-1.388731625493765e-3), _F(2.443315711809948e-5)
_ONE, _ZERO = _F(1.0), _F(0.0)
_MHALF = _F(-0.5)


def _two_over_pi_pieces():
    """Payne-Hanek reduction with the bits of 2/pi at a fixed position in each of four
    exponent ranges: for float32 x = m 2^s (m < 2^24 an integer, s >= S) in range
    [S, S + 27), (the least |x| of the range, 2^(S + 23); four float64 pieces of 29 bits
    of (2^S 2/pi) mod 4, each times 2^-S). x times a piece is exact in float64 (24 + 29
    bits) and the products sum to x 2/pi modulo 4 to 2^-63: the bits of 2/pi worth 2^(2 - S)
    and more only add multiples of 4. The first range (S = -3) drops no bits, so it serves
    every |x| below 2^47. Picking among four constants is a select; a table of one row
    per exponent was an indexed load, which stopped LLVM vectorising loops that write an
    array."""
    bits = 320
    two_over_pi = two_over_pi_bits(bits)                    # 2/pi 2^320
    ranges = []
    for lo in (-3, 24, 51, 78):                             # FLT_MAX has s = 104
        w = two_over_pi % (1 << (bits + 2 - lo))            # (2^lo 2/pi) mod 4, scaled
        ranges.append((2.0 ** (lo + 23),) + tuple(
            math.ldexp((w >> (bits - lo - 27 - 29 * i)) % (1 << 29), -27 - 29 * i - lo)
            for i in range(4)))
    return tuple(ranges)


_RANGES = _two_over_pi_pieces()
_PIO2 = 1.5707963267948966
_TINY_SIN = 2.0 ** -12          # float32 sin x rounds to x below (and keeps -0.0)


def _reduce(m, xd):
    """(k, r) with x = (4j + k) pi/2 + r, |r| <= pi/4 (NaN for NaN and Inf), for a float32
    x as the float64 xd. x g0 < 2^53 reduces exactly modulo 1 and x g1 < 2^24 is
    exactly a multiple of 2^-56 (for |x| >= 2^20; below, |x g1| < 1/8): the fraction is
    summed so that a cancelling sum is exact, to 2^-58."""
    a = abs(xd)
    g = _RANGES[0][1:]
    for row in _RANGES[1:]:                     # the range of x's exponent, by selects
        big = a >= row[0]
        g = [m.sel(big, new, old) for new, old in zip(row[1:], g)]
    return _reduce_with(m, xd, g)


def _reduce_near(m, xd):
    """``_reduce`` for |x| < 2**47 (``SINCOSF_NEAR``), where the first range serves: no
    selects."""
    return _reduce_with(m, xd, _RANGES[0][1:])


def _reduce_with(m, xd, g):
    """(k, r) as ``_reduce`` from the four pieces ``g`` of 2/pi for x's range."""
    t0, t1, t2, t3 = (xd * gi for gi in g)      # all exact
    n0 = m.rint(t0)
    f0 = t0 - n0                                # exact
    n = m.rint((f0 + t1) + t2)
    f = ((f0 - n) + t1) + (t2 + t3)             # f0 - n is exact
    k = (n0 - 4.0 * m.floor(n0 * 0.25)) + n
    return k - 4.0 * m.floor(k * 0.25), f * _PIO2


def _sincosf(m, x, reduce=_reduce):
    """(sin x, cos x) for float32 x: x = k pi/2 + r reduced in float64 (exact enough for
    every float32 up to FLT_MAX), float32 polynomials in r, the quadrant k mod 4 by
    selects (a branch would stop the loop vectorising)."""
    k, r = reduce(m, m.f64(x))
    r, k = m.f32(r), m.f32(k)
    z = r * r
    s = m.fma(r * z, m.fma(z, m.fma(z, _S3, _S2), _S1), r)
    c = m.fma(z * z, m.fma(z, m.fma(z, _C3, _C2), _C1), m.fma(z, _MHALF, 1.0))
    swap = (k == 1.0) | (k == 3.0)
    ss, cc = m.sel(swap, c, s), m.sel(swap, s, c)
    ss = m.sel(k >= 2.0, -ss, ss)               # sin < 0 in quadrants 2, 3
    cc = m.sel((k == 1.0) | (k == 2.0), -cc, cc)
    return m.sel(abs(x) < _TINY_SIN, x, ss), cc


# sinf(x) and cosf(x) of one x in a loop share their instructions (LLVM merges the
# identical code); intrinsics, so the loop receives the instructions inline whatever
# their size (an @njit function this long was called, not inlined, and the loop stayed
# scalar)
sinf = irmath.intrinsic(_sincosf, 0, types.float32)
cosf = irmath.intrinsic(_sincosf, 1, types.float32)


def _sincosf_near(m, x):
    """``_sincosf`` for |x| < 2**47 (bit for bit the same there) without the selects of
    the exponent range (1e6 elements: ~1.9 ms instead of ~2.8). Generated loops run it and
    repeat with ``sinf``/``cosf`` when some argument reaches ``SINCOSF_NEAR``."""
    return _sincosf(m, x, _reduce_near)


SINCOSF_NEAR = _RANGES[1][0]        # sinf_near/cosf_near serve |x| below (2**47)
sinf_near = irmath.intrinsic(_sincosf_near, 0, types.float32)
cosf_near = irmath.intrinsic(_sincosf_near, 1, types.float32)


# -- exp / tanh / sigmoid ----------------------------------------------------------------------

_LOG2E = _F(1.44269504088896341)
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)
_E0, _E1, _E2 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_E3, _E4, _E5 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_XHI, _XLO = _F(89.0), _F(-104.5)               # beyond: exp overflows to inf / flushes to 0
# above log(FLT_MAX) the result is +inf, returned explicitly: an overflowing multiply could
# be contracted with a following add into an fma, which does not overflow (-inf + exp(100)
# must be NaN, as in NumPy)
_XOVF, _INFF = _F(88.72283935546875), _F(np.inf)


def _expf(m, x):
    """exp for float32 x: 2**n * p(r), r = x - n ln2 in [-ln2/2, ln2/2]. An intrinsic, so
    two exps of one argument in a kernel (gelu's gradient: erf's own and the
    derivative's) merge into one."""
    xc = m.sel(x > float(_XHI), float(_XHI), x)    # comparisons are false for NaN: it passes
    xc = m.sel(xc < float(_XLO), float(_XLO), xc)
    n = m.rint(xc * float(_LOG2E))
    r = (xc - n * float(_LN2_HI)) - n * float(_LN2_LO)
    h = _horner(m, r, (_E0, _E1, _E2, _E3, _E4, _E5))
    p = m.fma(r * r, h, r + 1.0)
    n1 = m.floor(n * 0.5)                       # 2**n as two normal factors (n up to 128)
    out = p * m.pow2(n1) * m.pow2(n - n1)
    return m.sel(x > float(_XOVF), math.inf, out)


def _horner(m, z, coefficients):
    """c0 z**(n-1) + ... + c(n-1) by fused multiply-adds (highest degree first)."""
    p = float(coefficients[0])
    for c in coefficients[1:]:
        p = m.fma(z, p, float(c))
    return p


expf = irmath.intrinsic(_expf, None, types.float32)


def _tanhf(m, x):
    """tanh for float32 x: (1 - e) / (1 + e) with e = exp(-2|x|) = 2**n (1 + p), p =
    expm1(r) from expf's reduction and polynomial; 1 - e = (1 - 2**n) - 2**n p and
    1 + e = (1 + 2**n) + 2**n p each by one fused multiply-add, then one division. Below
    |x| = 0.17, n = 0 and the numerator is -p itself: no cancellation, so no separate
    odd polynomial is needed (computing both and selecting cost twice as much). At most
    1.97 ulp (every positive float32 checked against float64)."""
    a = abs(x)
    a = m.sel(a > 9.5, 9.5, a)                  # tanh is 1 in float32 from 9.01; NaN passes
    y = -2.0 * a
    n = m.rint(y * float(_LOG2E))
    r = m.fma(n, -float(_LN2_LO), m.fma(n, -float(_LN2_HI), y))
    p = m.fma(r * r, m.poly(r, [float(c) for c in (_E0, _E1, _E2, _E3, _E4, _E5)]), r)
    s = m.pow2(n)
    q = m.fma(-s, p, 1.0 - s) / m.fma(s, p, 1.0 + s)
    return m.copysign(q, x)                     # tanh(-0.0) = -0.0


@njit(error_model="numpy")
def sigmoidf(x):
    """1 / (1 + exp(-x)) for float32 x from e = exp(-|x|) in (0, 1]: 1 / (1 + e) for
    x >= 0, e / (1 + e) below (no overflow; sigmoid(x) and sigmoid(-x) share e)."""
    e = expf(-abs(x))
    return (_ONE if x >= _ZERO else e) / (_ONE + e)     # NaN: e is NaN


tanhf = irmath.intrinsic(_tanhf, None, types.float32)


# -- log ---------------------------------------------------------------------------------------

@intrinsic
def _split_sqrt2f(typingctx, x):
    """(m, k) with x = m * 2**k, m in [sqrt(2)/2, sqrt(2)), k integer-valued, for a positive
    normal float32 x, from the bits (no float->int conversion)."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        i32, f32 = ir.IntType(32), ir.FloatType()
        bits = builder.bitcast(args[0], i32)
        k = builder.ashr(builder.sub(bits, ir.Constant(i32, 0x3F3504F3)), ir.Constant(i32, 23))
        m = builder.bitcast(builder.sub(bits, builder.shl(k, ir.Constant(i32, 23))), f32)
        kf = builder.bitcast(builder.add(k, ir.Constant(i32, 0x4B400000)), f32)
        kf = builder.fsub(kf, ir.Constant(f32, 12582912.0))     # k in the low bits of 1.5 * 2**23
        return context.make_tuple(builder, sig.return_type, (m, kf))
    return types.UniTuple(types.float32, 2)(types.float32), codegen


# log(1 + f) = f - f**2/2 + f**3 P(f) on [sqrt(2)/2 - 1, sqrt(2) - 1]: Chebyshev fit of
# degree 8 (relative error 5e-9 in the result), lowest degree first
_L0, _L1, _L2 = _F(0.33333331180030046), _F(-0.24999996957950882), _F(0.200007157488921)
_L3, _L4, _L5 = _F(-0.16667802319501254), _F(0.1424905764569748), _F(-0.12425687331451106)
_L6, _L7, _L8 = _F(0.1168541992348674), _F(-0.11479733846637635), _F(0.06971611471451178)
_LN2F_HI, _LN2F_LO = _F(0.693145751953125), _F(1.4286068203094173e-06)   # 16 + 24 bits
_FMIN, _TWO25, _NANF = _F(1.1754943508222875e-38), _F(33554432.0), _F(np.nan)
_TINYF, _MONE = _F(2.0 ** -25), _F(-1.0)


@njit(error_model="numpy")
def _logf_core(u, c):
    """log(u) + c for a positive finite float32 u and a small c, in float32 arithmetic: u =
    m 2**k from the bits, log(m) by a polynomial in f = m - 1 (Estrin's scheme), k ln 2
    in two parts."""
    tiny = u < _FMIN
    m, k = _split_sqrt2f(u * _TWO25 if tiny else u)
    k = k - _F(25.0) if tiny else k
    f = m - _ONE
    z = f * f
    z2 = z * z
    p = fma(z2 * z2, _L8, fma(z2, fma(z, fma(f, _L7, _L6), fma(f, _L5, _L4)),
                              fma(z, fma(f, _L3, _L2), fma(f, _L1, _L0))))
    r = f + fma(z * f, p, _MHALF * z)
    return fma(k, _LN2F_HI, r + fma(k, _LN2F_LO, c))


@njit(error_model="numpy")
def logf(x):
    """log for float32 x in float32 arithmetic (the loop runs 8 lanes wide); log(+-0) =
    -inf, log(x < 0) = NaN, inf and NaN pass."""
    out = _logf_core(x, _ZERO)
    out = out if x < _INFF else x               # +inf and NaN pass through
    out = _NANF if x < _ZERO else out
    return -_INFF if x == _ZERO else out


@njit(error_model="numpy")
def log1pf(x):
    """log(1 + x) for float32 x: the log core on u = 1 + x plus the exact rounding error
    of that sum over u; log1p(-0.0) = -0.0, log1p(-1) = -inf."""
    u = _ONE + x
    bb = u - _ONE
    c = (_ONE - (u - bb)) + (x - bb)            # 1 + x = u + c exactly (two-sum)
    out = _logf_core(u, c / u)
    out = out if x < _INFF else x
    out = x if abs(x) < _TINYF else out         # log1p x rounds to x (and keeps -0.0)
    out = _NANF if x < _MONE else out
    return -_INFF if x == _MONE else out


@njit(error_model="numpy")
def softplusf(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) for float32 x (no overflow; NaN
    fails the test and passes through log1p)."""
    return (x if x > _ZERO else _ZERO) + log1pf(expf(-abs(x)))


# -- erf ---------------------------------------------------------------------------------------

# erf(x) / x - 1 = P(x**2) on [0, 1] (Chebyshev fit of degree 6, error 1.2e-9) and
# erfc(x) exp(x**2) = Q(t), t = (x - 2.5) / 1.5, on [1, 4] (degree 11, error 3.5e-9 in erf);
# lowest degree first
_P0, _P1, _P2 = _F(0.1283791658483509), _F(-0.37612626666720334), _F(0.11283594715160218)
_P3, _P4, _P5 = _F(-0.026854212010626412), _F(0.005189087423433974), _F(-0.000801686428716587)
_P6 = _F(7.875875062685488e-05)
_Q = tuple(_F(c) for c in (
    0.21080635774313639, -0.11152101793723113, 0.05611094755697202, -0.027005458212834586,
    0.012484123148533609, -0.005568837645570178, 0.0024256389379578133,
    -0.0010136625981274393, 0.000368151097857375, -0.00014741614293549128,
    9.629120195463984e-05, -3.566417876899525e-05))
_Q0, _Q1, _Q2, _Q3, _Q4, _Q5, _Q6, _Q7, _Q8, _Q9, _Q10, _Q11 = _Q
_FOUR, _MID, _INV_HALF_WIDTH = _F(4.0), _F(2.5), _F(1.0 / 1.5)


@njit(error_model="numpy")
def erff(x):
    """erf for float32 x in float32 arithmetic: x + x P(x**2) below 1, 1 - exp(-x**2) Q(x) up
    to 4 (x**2 = z + zl exactly, exp(-x**2) = exp(-z) (1 - zl)), 1 from 4 on (float32 erf
    is 1 from 3.92); polynomials by Estrin's scheme; the sign by copysign."""
    a = abs(x)
    z = a * a
    z2 = z * z
    small = fma(a, fma(z2 * z2, fma(z2, _P6, fma(z, _P5, _P4)),     # a + a P: one rounding
                       fma(z2, fma(z, _P3, _P2), fma(z, _P1, _P0))), a)
    # exp(-z) written as LLVM canonicalises the derivative's exp(-(x x)): the two merge
    e = expf(-x * x)
    e = fma(-e, fma(a, a, -z), e)
    t = (a - _MID) * _INV_HALF_WIDTH
    t2 = t * t
    t4 = t2 * t2
    q = fma(t4 * t4, fma(t2, fma(t, _Q11, _Q10), fma(t, _Q9, _Q8)),
            fma(t4, fma(t2, fma(t, _Q7, _Q6), fma(t, _Q5, _Q4)),
                fma(t2, fma(t, _Q3, _Q2), fma(t, _Q1, _Q0))))
    out = small if a < _ONE else _ONE - e * q
    out = _ONE if a >= _FOUR else out           # NaN: both tests are false
    return math.copysign(out, x)


# -- NumPy semantics for the remaining scalar operations ---------------------------------------

@njit(error_model="numpy")
def max_nan(a, b):
    """np.maximum: NaN in either argument gives NaN (Python's max would not)."""
    return a if (a > b) | (a != a) else b


@njit(error_model="numpy")
def min_nan(a, b):
    """np.minimum: NaN in either argument gives NaN."""
    return a if (a < b) | (a != a) else b


def sc(x):
    """The scalar value of a 0-d array, or of a scalar (inputs may arrive as either)."""
    return x[()] if isinstance(x, np.ndarray) else x


@overload(sc)
def _sc_overload(x):
    if isinstance(x, types.Array):
        return lambda x: x[()]
    return lambda x: x


@njit(error_model="numpy")
def floordiv(a, b):
    """np.floor_divide: integers divided by 0 give 0, floats give +-inf or NaN."""
    return a // b


@njit(error_model="numpy")
def floormod(a, b):
    """np.mod: the result takes the sign of b; integer mod 0 gives 0, float mod 0 NaN."""
    return a % b


@njit(error_model="numpy")
def ipow(a, b):
    """Integer power by squaring (exponents >= 0; NumPy rejects negative ones)."""
    r = a - a + 1
    while b > 0:
        if b & 1:
            r *= a
        a *= a
        b >>= 1
    return r
