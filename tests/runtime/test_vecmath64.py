"""The float64 kernels of runtime.vecmath64: accuracy in ulp against an extended-precision
reference over the whole domain (huge sin/cos arguments, subnormal and overflowing exp,
both tanh formulas), and special values bit for bit (signed zeros, inf, NaN, thresholds)."""
import math

import numpy as np
import pytest
from numba import njit

from runtime import vecmath64 as vm

LONG = np.finfo(np.longdouble).nmant >= 63        # an extended type to measure ulp against


@njit(error_model="numpy")
def _apply(which, x):
    out = np.empty_like(x)
    for i in range(x.size):
        v = x[i]
        if which == 0:
            out[i] = vm.expd(v)
        elif which == 1:
            out[i] = vm.sind(v)
        elif which == 2:
            out[i] = vm.cosd(v)
        else:
            out[i] = vm.tanhd(v)
    return out


KERNELS = {"exp": (0, np.exp), "sin": (1, np.sin), "cos": (2, np.cos), "tanh": (3, np.tanh)}


def _samples(name, rng, n=40000):
    mags = np.exp(rng.uniform(-745, 709, n))               # every binade, subnormal to huge
    signs = rng.choice([-1.0, 1.0], n)
    if name == "exp":
        x = np.concatenate([rng.uniform(-745.2, 709.78, n), rng.uniform(-40, 40, n),
                            rng.uniform(-1, 1, n) * 1e-6, mags * signs])
        return np.clip(x, -745.2, 709.78)
    if name == "tanh":
        return np.concatenate([rng.uniform(-25, 25, n), rng.uniform(-0.7, 0.7, n),
                               rng.uniform(0.6, 0.65, n), mags * signs])
    k = rng.integers(-10 ** 6, 10 ** 6, n)               # next to multiples of pi/2
    near = k * (np.pi / 2) * (1 + rng.uniform(-1e-15, 1e-15, n))
    return np.concatenate([rng.uniform(-1e4, 1e4, n), rng.uniform(-2 ** 30, 2 ** 30, n),
                           near, mags * signs])


def _ulp(got, x, ref):
    want = ref(x.astype(np.longdouble))
    spacing = np.maximum(np.spacing(np.abs(want.astype(np.float64))), 5e-324)
    return (np.abs(got.astype(np.longdouble) - want) / spacing).astype(np.float64)


@pytest.mark.skipif(not LONG, reason="needs an extended-precision np.longdouble")
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_vecmath64_within_one_ulp_over_the_domain(name):
    which, ref = KERNELS[name]
    x = _samples(name, np.random.default_rng(11))
    err = _ulp(_apply(which, x), x, ref)
    # measured: below 0.75 ulp (0.77 for subnormal exp results, rounded twice)
    assert err.max() < 1.0, f"{name}: {err.max():.3f} ulp at x={x[err.argmax()]!r}"


@pytest.mark.skipif(not LONG, reason="needs an extended-precision np.longdouble")
def test_vecmath64_sin_cos_of_the_hardest_huge_argument():
    # 6381956970095103 * 2**797 is the float64 closest to a multiple of pi/2 (the
    # remainder is ~4.7e-19): the table reduction keeps full relative precision
    x = np.array([6381956970095103 * 2.0 ** 797, 1e300, -1.7976931348623157e308, 2.0 ** 29,
                  2.0 ** 29 - 0.5, 1e22, 5e15 + 1])
    for which, ref in (KERNELS["sin"], KERNELS["cos"]):
        err = _ulp(_apply(which, x), x, ref)
        assert err.max() < 0.75, (which, err)


SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
                    -1e-300, 1e-9, -1e-9, 709.782712893384, 709.7827128933841, 710.0, -708.4,
                    -745.1332191019411, -745.1332191019412, -746.0, -1e308, 1e308, 0.625, -0.625,
                    19.1, 25.0, -25.0, math.pi, math.pi / 2])


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_vecmath64_special_values_as_numpy(name):
    which, ref = KERNELS[name]
    x = SPECIAL
    if name in ("sin", "cos"):            # 1e308: NumPy's own reduction is not exact there
        x = x[np.abs(x) < 1e300]
    got = _apply(which, x)
    with np.errstate(all="ignore"):
        want = ref(x)
    close = (got == want) | (np.isnan(got) & np.isnan(want))
    # ties of the last bit aside (tanh(pi): NumPy is 0.67 ulp off, this is 0.33), values
    # agree to 1 ulp and zeros, infinities and NaN exactly, with their signs
    with np.errstate(invalid="ignore"):
        ulps = np.abs(got - want) / np.maximum(np.spacing(np.abs(want)), 5e-324)
    assert np.all(close | (np.isfinite(want) & (want != 0) & (ulps <= 1))), (x, got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want)), (x, got, want)
