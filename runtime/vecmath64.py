"""float64 exp/tanh/sigmoid/sin/cos for generated kernels: branch-free, so LLVM vectorises the loops
that call them (libm's scalar calls do not vectorise). ``runtime.vecmath`` re-exports
them (and ``fma``); kernels import that module.

Each function is written once against ``runtime.irmath`` (Python that emits LLVM IR) and
reaches kernels as a Numba intrinsic: one call to type, its instructions inline in the
loop. Invariants as in ``runtime.vecmath``: no fast-math; every step that must round once
is an explicit ``fma`` (so the bits do not depend on LLVM's contraction choices and the
block VM reproduces the kernels bit for bit); no float->int conversion (integers come
from bit casts only).

Polynomials are evaluated by Estrin's scheme (``Emitter.poly``): the loops are
latency-bound, and Horner's long chain of fused multiply-adds made tanh ~1.5x slower.

Accuracy (tests/runtime/test_vecmath64.py, against extended-precision references):
under 0.75 ulp over the whole domain (0.77 for subnormal exp results, which round
twice); +-0, +-inf, NaN and the overflow/underflow thresholds as NumPy. sin/cos reduce
|x| < 2**29 by pi/2 in three parts (Cody-Waite with fused multiply-adds) and larger |x|
by a table of the bits of 2/pi (Payne-Hanek), so huge arguments are exact too; both
reductions run and a select picks one, as a branch would stop vectorisation. Generated
loops therefore run ``sind_near``/``cosd_near`` (the first reduction alone) and repeat
with ``sind``/``cosd`` only when some argument reached 2**29 (compiler.codegen).

The table is read through a pointer that alias analysis sees apart from the arrays
(``Emitter.table``): read as a plain global at a data-dependent index it may alias any
store, and LLVM kept loops that write an array scalar (sin + cos of 1e6 elements: 28 ms,
as libm; vectorised ~15 ms, of which ~4 ms without the huge-argument path: its four
gathers are most of the cost). Selecting the row among ranges of exponents instead, as
the float32 kernels do, took 108 selects here and was slower (21 ms).
"""
import functools
import math

import numpy as np
from numba import types
from numba.extending import intrinsic

from runtime import irmath


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c with one rounding (llvm.fma; one instruction on FMA hardware)."""
    if not (a == b == c and isinstance(a, types.Float)):
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)
    return a(a, a, a), codegen


# -- exp -------------------------------------------------------------------------------------

_LOG2E = 1.4426950408889634
_LN2, _LN2_LO = 0.6931471805599453, 2.3190468138462996e-17     # ln 2 = _LN2 + _LN2_LO
_XHI, _XLO = 710.0, -746.0          # beyond: exp overflows to inf / rounds to 0
_XOVF = 709.782712893384            # largest x with a finite exp
# 1/k! for k = 13 .. 2: the Taylor series of exp(r) - 1 - r on |r| <= ln2/2 (the first
# dropped term is below 2**-60 relative)
_EXP_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(13, 1, -1))


def _horner(m, z, coefficients):
    """c0 z**(n-1) + ... + c(n-1) by fused multiply-adds (highest degree first)."""
    p = coefficients[0]
    for c in coefficients[1:]:
        p = m.fma(z, p, c)
    return p


def _exp_parts(m, x):
    """exp(x) = (hi + lo) * 2**n for |x| <= 746: n integer-valued, hi in [0.7, 1.42]."""
    n = m.rint(x * _LOG2E)
    rh = m.fma(-n, _LN2, x)                     # exact: both are multiples of 2**-53 near x
    t = n * _LN2_LO
    r = rh - t
    dr = (rh - r) - t                           # r + dr = x - n ln2 to ~2**-106
    h = m.poly(r, _EXP_TAYLOR, horner=2)
    s = 1.0 + r
    rr = r * r
    rrl = m.fma(r, r, -rr)                      # r**2 = rr + rrl
    # exp(r + dr) = 1 + r + r**2 h + dr (1 + r); 1 + r = s + ((1 - s) + r) exactly
    tail = ((1.0 - s) + r) + m.fma(rr, h, m.fma(rrl, h, m.fma(dr, r, dr)))
    hi = s + tail
    return hi, (s - hi) + tail, n


def _expd(m, x):
    """exp for float64 x: 2**n exp(r), r = x - n ln2; one rounding of the scaled result,
    so subnormal results are right too."""
    xc = m.sel(x > _XHI, _XHI, x)              # comparisons are false for NaN: it passes
    xc = m.sel(xc < _XLO, _XLO, xc)
    p, _, n = _exp_parts(m, xc)
    n1 = m.floor(n * 0.5)                       # 2**n as two normal factors
    out = p * m.pow2(n1) * m.pow2(n - n1)
    # explicit inf: an overflowing multiply contracted into an fma with a following add
    # would not overflow (-inf + exp(800) must be NaN, as in NumPy)
    return m.sel(x > _XOVF, math.inf, out)


# -- tanh ------------------------------------------------------------------------------------

def _tanhd(m, x):
    """tanh for float64 x: (1 - e) / (1 + e) with e = exp(-2|x|) and both sums carried in
    double-double (e's own error is ~2**-60 relative, so the quotient keeps full precision
    even where 1 - e cancels, down to |x| = 2**-27, below which tanh x rounds to x); one
    reciprocal and a correction step; the sign by copysign (-0 stays -0)."""
    a = abs(x)
    hi, lo, n = _exp_parts(m, -2.0 * m.sel(a > 20.0, 20.0, a))   # tanh is 1 past 19.1
    scale = m.pow2(n)
    eh, el = hi * scale, lo * scale
    nh = 1.0 - eh
    nl = ((1.0 - nh) - eh) - el                 # 1 - e = nh + nl (1 >= eh: fast two-sum)
    dh = 1.0 + eh
    dl = ((1.0 - dh) + eh) + el                 # 1 + e = dh + dl
    q1 = 1.0 / dh
    q = nh * q1
    t = q + (m.fma(-q, dh, nh) + (nl - q * dl)) * q1
    return m.copysign(m.sel(a < 2.0 ** -27, a, t), x)    # NaN: the tests are false


def _sigmoidd(m, x):
    """1 / (1 + exp(-x)) from e = exp(-|x|) in (0, 1], carried in double-double:
    1 / (1 + e) for x >= 0, e / (1 + e) below, each a product with one reciprocal of
    1 + e and one correction step (no overflow; NaN fails the tests and carries through e).
    sigmoid(x) and sigmoid(-x) in one kernel share e and the reciprocal."""
    a = -abs(x)
    hi, lo, n = _exp_parts(m, m.sel(a < _XLO, _XLO, a))
    n1 = m.floor(n * 0.5)                       # 2**n as two normal factors
    s1, s2 = m.pow2(n1), m.pow2(n - n1)
    eh, el = hi * s1 * s2, lo * s1 * s2
    u = 1.0 + eh
    ul = ((1.0 - u) + eh) + el                  # 1 + e = u + ul (1 >= eh: fast two-sum)
    pos = x >= 0.0
    nh, nl = m.sel(pos, 1.0, eh), m.sel(pos, 0.0, el)
    q1 = 1.0 / u
    q = nh * q1
    return q + (m.fma(-q, u, nh) + (nl - q * ul)) * q1


# -- sin / cos -------------------------------------------------------------------------------

_TWO_OVER_PI = 0.6366197723675814
# pi/2 = _P1 + _P2 + _P3 to ~2**-160
_P1, _P2, _P3 = 1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33
# Taylor coefficients: sin r = r + r**3 S(r**2) to r**17, cos r = 1 - r**2/2 + r**4 C(r**2)
# to r**16 (first dropped terms below 2**-60 relative on |r| <= pi/4); highest first
_SIN_S = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(8, 0, -1))
_COS_C = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(8, 1, -1))
_TINY = 2.0 ** -27                  # sin x rounds to x below (and keeps -0.0)
_HUGE = 2.0 ** 29                   # from here the table reduction takes over
_E0 = 29                            # exponent of the table's first row
_UP, _DOWN = 2.0 ** 512, 2.0 ** -600    # rows from exponent 512 on are stored scaled by 2**600


_PI_BITS = 1620


def two_over_pi_bits(n=_PI_BITS):
    """The leading ``n`` (up to 1,620) bits of 2/pi, as the integer 2/pi * 2**n rounded
    down; from Machin's formula in integer arithmetic (computed once)."""
    return _two_over_pi() >> (_PI_BITS - n)


@functools.lru_cache(maxsize=1)
def _two_over_pi():
    bits = _PI_BITS

    def atan_inv(n):                            # atan(1/n) * 2**bits
        s = t = (1 << bits) // n
        k, sign = 1, -1
        while t:
            t //= n * n
            s += sign * (t // (2 * k + 1))
            sign, k = -sign, k + 1
        return s
    pi = 16 * atan_inv(5) - 4 * atan_inv(239)
    return (2 << (2 * bits)) // pi


def _two_over_pi_table():
    """For each exponent e in [29, 1023], four doubles g0..g3 with x * (g0 + g1 + g2 + g3)
    = x * 2/pi mod 4 for every float64 x of exponent e (x = M 2**s, M < 2**53 integer,
    s = e - 52): the bits of 2/pi worth 2**(2-s) and more give multiples of 4 and are
    dropped; g0, g1, g2 hold the next 3 x 53 bits at fixed positions (so x * g0 is a
    multiple of 2**-51 below 2**55), g3 the rest rounded."""
    bits, two_over_pi = _PI_BITS, two_over_pi_bits()
    rows = []
    for e in range(_E0, 1024):
        s, up = e - 52, (600 if e >= 512 else 0)
        g = two_over_pi % (1 << (bits + 2 - s))
        shift = bits - (s + 51)
        row = []
        for i in range(3):
            k = g >> (shift - 53 * i)
            g -= k << (shift - 53 * i)
            row.append(math.ldexp(k, up - (s + 51 + 53 * i)))
        row.append(g / (1 << (bits - up)))      # correctly rounded
        rows.append(row)
    return np.ascontiguousarray(np.array(rows).reshape(-1))


_TABLE = _two_over_pi_table()


def _reduce_medium(m, x):
    """x = k pi/2 + (rh + rl) for |x| < 2**29: (k mod 4, rh, rl). r1 is exact (x and
    q _P1 lie on the 2**-52 grid and |r1| < 2); the rest is summed in double-double."""
    q = m.rint(x * _TWO_OVER_PI)
    r1 = m.fma(-q, _P1, x)
    th = q * _P2
    s, e = _two_sum(r1, -th)
    lo = (e - m.fma(q, _P2, -th)) - q * _P3
    rh = s + lo
    return q - 4.0 * m.floor(q * 0.25), rh, (s - rh) + lo


def _two_sum(a, b):
    """(a + b rounded, its exact rounding error)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _reduce_huge(m, x):
    """The same for |x| >= 2**29 (Payne-Hanek): x 2/pi = n + f (mod 4) exactly to
    ~2**-150 from the table row of x's exponent, r = f pi/2."""
    g0, g1, g2, g3 = m.table("tapejit_two_over_pi", _TABLE,
                             m.exponent_row(x, 1023 + _E0, 1023 + 1023), 4)
    xs = m.sel(abs(x) >= _UP, x * _DOWN, x)
    h0, h1, h2 = xs * g0, xs * g1, xs * g2
    l0 = m.fma(xs, g0, -h0)                     # x g0 = h0 + l0, both on the 2**-51 grid
    n0, n1 = m.rint(h0), m.rint(l0)
    b, be = _two_sum((h0 - n0) + (l0 - n1), h1)     # the first sum is exact, |.| <= 1
    nb = m.rint(b)
    t, te = _two_sum(be, m.fma(xs, g1, -h1))
    t, te2 = _two_sum(t, h2)
    f, fe = _two_sum(b - nb, t)
    fl = fe + (te + te2 + m.fma(xs, g2, -h2) + xs * g3)
    k = (n0 - 4.0 * m.floor(n0 * 0.25)) + (n1 - 4.0 * m.floor(n1 * 0.25)) + nb
    rh = f * _P1
    rl = m.fma(f, _P1, -rh) + (fl * _P1 + f * _P2)
    r = rh + rl
    return k - 4.0 * m.floor(k * 0.25), r, (rh - r) + rl


def _sincosd(m, x):
    """(sin x, cos x) for float64 x: x = k pi/2 + r, |r| <= pi/4 in double-double, then
    polynomials in r and the quadrant k mod 4 by selects; NaN and +-inf give NaN."""
    k, rh, rl = _reduce_medium(m, x)
    kb, rhb, rlb = _reduce_huge(m, x)
    big = abs(x) >= _HUGE
    k, rh, rl = m.sel(big, kb, k), m.sel(big, rhb, rh), m.sel(big, rlb, rl)
    return _sincos_reduced(m, x, k, rh, rl)


def _sincosd_near(m, x):
    """``_sincosd`` for |x| < 2**29 (``SINCOSD_NEAR``; bit for bit the same there): the
    Cody-Waite reduction alone, without the table's four gathers (sin + cos of 1e6 elements: ~4 ms
    instead of ~16). Generated loops run it and repeat with ``sind``/``cosd`` when some
    argument reaches ``SINCOSD_NEAR``."""
    k, rh, rl = _reduce_medium(m, x)
    return _sincos_reduced(m, x, k, rh, rl)


def _sincos_reduced(m, x, k, rh, rl):
    """(sin x, cos x) from x = k pi/2 + (rh + rl), k = x's quadrant mod 4."""
    z = rh * rh
    sn = rh + m.fma(rh * z, _horner(m, z, _SIN_S), rl * m.fma(-0.5, z, 1.0))  # sin(rh + rl)
    zl = m.fma(rh, rh, -z)                      # rh**2 = z + zl
    hz = 0.5 * z
    w = 1.0 - hz
    cs = w + (((1.0 - w) - hz) + m.fma(z * z, _horner(m, z, _COS_C),
                                       -m.fma(0.5, zl, rl * rh)))      # cos(rh + rl)
    swap = (k == 1.0) | (k == 3.0)
    ss, cc = m.sel(swap, cs, sn), m.sel(swap, sn, cs)
    ss = m.sel(k >= 2.0, -ss, ss)
    cc = m.sel((k == 1.0) | (k == 2.0), -cc, cc)
    return m.sel(abs(x) < _TINY, x, ss), cc


SINCOSD_NEAR = _HUGE                # sind_near/cosd_near serve |x| below


# the kernels' functions: sind(x) and cosd(x) of one x in a loop share their instructions
# (LLVM merges the identical code)
expd = irmath.intrinsic(_expd)
tanhd = irmath.intrinsic(_tanhd)
sigmoidd = irmath.intrinsic(_sigmoidd)
sind = irmath.intrinsic(_sincosd, 0)
cosd = irmath.intrinsic(_sincosd, 1)
sind_near = irmath.intrinsic(_sincosd_near, 0)
cosd_near = irmath.intrinsic(_sincosd_near, 1)
