"""float64 digamma, polygamma, Hurwitz zeta, erfinv, ndtri and the exponentially scaled
Bessel functions i0e/i1e for generated kernels
(``runtime.vecmath`` re-exports them; float32 kernels call them on the float64 value and
round once). Scalar code with branches: these functions are rare in hot loops, so they
favour accuracy over vectorisation. No fast-math, as everywhere in the kernels.

digamma: the positive root x0 = 1.4616... is where the recurrence psi(x) = psi(x + 1) -
1/x cancels, so [1, 2) is a Taylor series around x0 (h = x - x0 from x0 in two parts, so
the result keeps its relative precision at the root); above 2 the recurrence steps down
into [1, 2) (every term then has one sign), below 1 it steps up once, beyond 10 the
asymptotic series; x <= 0 reflects, psi(x) = psi(1 - x) - pi cot(pi x), with the
argument of cot reduced exactly first.
Hurwitz zeta (s > 1): the sum of (q + k)**-s until q + k is large, then Euler-Maclaurin
with Bernoulli numbers (computed exactly here, as fractions) until the terms vanish.
i0e/i1e: the power series of I0/I1 (positive terms) below 30, the asymptotic series
beyond, times exp(-|x|).
erfinv/erfcinv/ndtri: a first guess, then Halley steps on erf(x) = y (small |y|) or on
erfc(x) = q (the tails, where 1 - |y| is exact): the residual of erfc keeps its relative
precision, so the tails are as accurate as near 0.

Accuracy (tests/runtime/test_specfun.py, against mpmath): digamma within 4 ulp for x > 0
(measured: 2; on the negative axis 4e-15 relative to max(1, |psi|)), erfinv and ndtri
within 4 ulp (measured: 1 and 2, also deep in the tails), polygamma within 1e-14
relative, i0e/i1e within 8 ulp (measured 6 and 4; SciPy's 6 and 5).
"""
import math
from fractions import Fraction

from numba import njit

_INF, _NAN = math.inf, math.nan

# the positive root of digamma in two parts (x0 = _X0_HI + _X0_LO to 1e-32)
_X0_HI, _X0_LO = 1.4616321449683622, 9.549995429965697e-17
# psi^(k)(x0) / k!, k = 40 down to 1 (60-digit values rounded once): psi(x0 + h) is this
# polynomial times h; on [1, 2) |h| <= 0.54 and the 41st term is below 1e-17 relative
_PSI_TAYLOR = (
    -1.7443695117727745e-07, 2.549626552021554e-07, -3.7266161283438227e-07,
    5.446941930669446e-07, -7.96142543124197e-07, 1.1636675363548843e-06,
    -1.7008538854332607e-06, 2.486022733129538e-06, -3.6336507898010456e-06,
    5.3110609208898636e-06, -7.762817668462094e-06, 1.134638458466385e-05,
    -1.6584242271854135e-05, 2.424006611860132e-05, -3.5430070947659604e-05,
    5.178575795222081e-05, -7.569179582195066e-05, 0.0001106337276874741,
    -0.00016170622091974803, 0.00023635601564027053, -0.0003454680251063077,
    0.000504953265834602, -0.0007380709389960052, 0.0010788252019162967,
    -0.0015769367714301972, 0.002305126326734928, -0.003369801655439328,
    0.004926781395729853, -0.007204534386356869, 0.010538791616612175,
    -0.01542476590494896, 0.022597648232218104, -0.03316112647484736,
    0.04880428816414311, -0.07219956125645471, 0.10782405069126237,
    -0.16394270544240652, 0.258499760955651, -0.4427631689835921, 0.9676722454476212)


def _bernoulli_over_factorial(count):
    """B_2j / (2j)! for j = 1..count, exactly (Akiyama-Tanigawa), then rounded once."""
    n = 2 * count
    a, b = [Fraction(0)] * (n + 1), []
    for m in range(n + 1):
        a[m] = Fraction(1, m + 1)
        for j in range(m, 0, -1):
            a[j - 1] = j * (a[j - 1] - a[j])
        b.append(a[0])                          # B_m (B_1 = +1/2, unused)
    return tuple(float(b[2 * j] / math.factorial(2 * j)) for j in range(1, count + 1))


_BERN = _bernoulli_over_factorial(24)
# psi(x) ~ log x - 1/(2x) - sum_j B_2j / (2j x**2j) for x >= 10: nine terms reach 1e-19
_PSI_ASYMPTOTIC = tuple(b * math.factorial(2 * j) / (2 * j)
                        for j, b in enumerate(_BERN[:9], 1))[::-1]
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI = math.sqrt(math.pi)
_SQRT2 = math.sqrt(2.0)


@njit(error_model="numpy")
def _psi_taylor(x):
    h = (x - _X0_HI) - _X0_LO                   # x - _X0_HI is exact on [1, 2)
    p = 0.0
    for c in _PSI_TAYLOR:
        p = p * h + c
    return p * h


@njit(error_model="numpy")
def _psi_positive(x):
    """digamma for finite x > 0."""
    if x < 1.0:                                 # x + 1 <= 2: the series still holds
        return _psi_taylor(x + 1.0) - 1.0 / x
    if x < 2.0:
        return _psi_taylor(x)
    if x < 10.0:
        s = 0.0
        while x >= 2.0:                         # x - 1 is exact here
            x -= 1.0
            s += 1.0 / x
        return _psi_taylor(x) + s
    z = 1.0 / (x * x)
    p = 0.0
    for c in _PSI_ASYMPTOTIC:
        p = p * z + c
    return (math.log(x) - 0.5 / x) - p * z


@njit(error_model="numpy")
def digammad(x):
    """digamma (psi) of a float64: NaN at 0, the negative integers, -inf and NaN (as
    TensorFlow's), +inf at +inf."""
    if not x > -_INF:                           # NaN, -inf
        return _NAN
    if x == _INF:
        return _INF
    if x > 0.0:
        return _psi_positive(x)
    if x == math.floor(x):                      # the poles, 0 and -0 included
        return _NAN
    r = x - math.floor(x + 0.5)                 # exact, in [-1/2, 1/2)
    cot = 0.0 if r == -0.5 else 1.0 / math.tan(math.pi * r)
    return _psi_positive(1.0 - x) - math.pi * cot


@njit(error_model="numpy")
def zetad(s, q):
    """Hurwitz zeta sum_k (q + k)**-s for s > 1 (1: +inf; below: NaN); q at a pole (0 or
    a negative integer) gives +inf, a negative q with a non-integer s NaN."""
    if s != s or q != q or s < 1.0 or q == -_INF:
        return _NAN
    if s == 1.0:
        return _INF
    if q <= 0.0:
        if q == math.floor(q):
            return _INF
        if s != math.floor(s):
            return _NAN
    if q == _INF or s == _INF:
        return 0.0 if q > 1.0 or q == _INF else (1.0 if q == 1.0 else _INF)
    # shift q + n past max(10, s) so the Euler-Maclaurin terms fall off at least as
    # (s / (2 pi a))**2 per step
    bound = max(10.0, s)
    total = 0.0
    a = q
    while a < bound:
        total += a ** -s
        a += 1.0
    head = a ** -s
    total += a * head / (s - 1.0) + 0.5 * head
    fac = s                                     # s (s + 1) ... (s + 2j - 2)
    t = head / a
    for j in range(len(_BERN)):
        term = _BERN[j] * fac * t
        total += term
        if abs(term) <= 1e-17 * abs(total):
            break
        fac *= (s + 2 * j + 1) * (s + 2 * j + 2)
        t /= a * a
    return total


@njit(error_model="numpy")
def polygammad(n, x):
    """The n-th derivative of digamma: NaN unless n is a non-negative integer; n = 0 is
    digamma, otherwise (-1)**(n + 1) n! zeta(n + 1, x)."""
    if n != n or x != x or n < 0.0 or n != math.floor(n) or n == _INF or x == -_INF:
        return _NAN
    if n == 0.0:
        return digammad(x)
    sign = 1.0 if n - 2.0 * math.floor(0.5 * n) == 1.0 else -1.0
    return sign * math.exp(math.lgamma(n + 1.0)) * zetad(n + 1.0, x)


@njit(error_model="numpy")
def _erfc_solve(q, x):
    """The x with erfc(x) = q (0 < q <= 1/2, x > 0), Halley steps from the guess x."""
    for _ in range(12):
        r = (math.erfc(x) - q) / (_TWO_OVER_SQRT_PI * math.exp(-x * x))
        step = r / (1.0 - x * r)
        x += step
        if abs(step) <= 1e-17 * x:
            break
    return x


@njit(error_model="numpy")
def _erf_solve(y):
    """The x with erf(x) = y for |y| <= 1/2, Halley steps on erf."""
    x = 0.5 * _SQRT_PI * y * (1.0 + (math.pi / 12.0) * y * y)
    for _ in range(8):
        r = (math.erf(x) - y) / (_TWO_OVER_SQRT_PI * math.exp(-x * x))
        step = r / (1.0 + x * r)
        x -= step
        if abs(step) <= 1e-17 * abs(x):
            break
    return x


@njit(error_model="numpy")
def _erfc_tail(q):
    """erfcinv(q) for 0 < q <= 1/2."""
    w = -math.log(q)
    x = math.sqrt(max(w - math.log(math.sqrt(w) * _SQRT_PI), 0.25))
    return _erfc_solve(q, x)


@njit(error_model="numpy")
def erfinvd(y):
    """Inverse error function: +-inf at +-1, NaN beyond and at NaN; erfinv(-0) = +0 (as
    TensorFlow's and SciPy's)."""
    a = abs(y)
    if not a <= 1.0:
        return _NAN
    if a == 1.0:
        return math.copysign(_INF, y)
    if a <= 0.5:
        return _erf_solve(y) + 0.0
    return math.copysign(_erfc_tail(1.0 - a), y)     # 1 - a is exact for a >= 1/2


@njit(error_model="numpy")
def erfcinvd(q):
    """Inverse of erfc on [0, 2]: erfcinv(0) = inf, erfcinv(2) = -inf, NaN outside."""
    if not (q >= 0.0 and q <= 2.0):
        return _NAN
    if q == 0.0:
        return _INF
    if q == 2.0:
        return -_INF
    sign = 1.0
    if q > 1.0:                                 # erfcinv(q) = -erfcinv(2 - q), exact
        q = 2.0 - q
        sign = -1.0
    if q >= 0.5:                                # 1 - q is exact; erfcinv(1) is +0
        return sign * _erf_solve(1.0 - q) + 0.0
    return sign * _erfc_tail(q)


@njit(error_model="numpy")
def ndtrid(p):
    """Inverse of the standard normal CDF: -inf at 0, inf at 1, NaN outside [0, 1];
    ndtri(1/2) = +0."""
    return -_SQRT2 * erfcinvd(2.0 * p) + 0.0


@njit(error_model="numpy")
def _bessel_i_scaled(a, order):
    """I_order(a) exp(-a) for finite a >= 0, order 0 or 1: the power series (all terms
    positive, so no cancellation) below 30, the asymptotic series beyond (its smallest
    term there is below 1e-25)."""
    if a < 30.0:
        q = 0.25 * a * a
        term = 1.0 if order == 0 else 0.5 * a
        total = term
        k = 1.0
        while term > 1e-17 * total:
            term *= q / (k * (k + order))
            total += term
            k += 1.0
        return total * math.exp(-a)
    mu = 4.0 * order * order
    term = 1.0
    total = 1.0
    for k in range(1, 40):
        term *= -(mu - (2.0 * k - 1.0) ** 2) / (k * 8.0 * a)
        total += term
        if abs(term) <= 1e-17 * abs(total):
            break
    return total / math.sqrt(2.0 * math.pi * a)


@njit(error_model="numpy")
def bessel_i0ed(x):
    """exp(-|x|) I0(x): 1 at 0, 0 at +-inf."""
    if x != x:
        return x
    a = abs(x)
    return 0.0 if a == _INF else _bessel_i_scaled(a, 0)


@njit(error_model="numpy")
def bessel_i1ed(x):
    """exp(-|x|) I1(x), odd (the sign of x, -0 at -inf; +0 at both zeros, as SciPy)."""
    if x != x or x == 0.0:
        return x + 0.0
    a = abs(x)
    return math.copysign(0.0 if a == _INF else _bessel_i_scaled(a, 1), x)
