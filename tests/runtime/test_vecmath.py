"""The float32 polynomial kernels of runtime.vecmath: accuracy in ulp against NumPy's
float64 result rounded to float32, and NaN/Inf behaviour."""
import numpy as np
import pytest
from numba import njit

from runtime import vecmath

F32 = np.float32


@njit(error_model="numpy")
def _apply(which, x):
    out = np.empty_like(x)
    for i in range(x.size):
        v = x[i]
        if which == 0:
            out[i] = vecmath.sinf(v)
        elif which == 1:
            out[i] = vecmath.cosf(v)
        elif which == 2:
            out[i] = vecmath.expf(v)
        elif which == 3:
            out[i] = vecmath.tanhf(v)
        else:
            out[i] = vecmath.sigmoidf(v)
    return out


def _sigmoid64(x):
    return 1.0 / (1.0 + np.exp(-x))


# (kernel index, float64 reference, sampling range, max ulp)
KERNELS = {"sin": (0, np.sin, 1e4, 2), "cos": (1, np.cos, 1e4, 2),
           "exp": (2, np.exp, 88.0, 2), "tanh": (3, np.tanh, 10.0, 2),
           "sigmoid": (4, _sigmoid64, 30.0, 4)}


def _ulp_error(got, want64):
    want = want64.astype(F32)
    spacing = np.spacing(np.abs(want)).astype(np.float64)
    spacing = np.maximum(spacing, np.finfo(F32).smallest_subnormal)
    return np.abs(got.astype(np.float64) - want64) / spacing


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_vecmath_accuracy_within_a_few_ulp(name):
    which, ref, span, max_ulp = KERNELS[name]
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-span, span, 20000),
                        rng.uniform(-1, 1, 5000)]).astype(F32)
    got = _apply(which, x)
    err = _ulp_error(got, ref(x.astype(np.float64)))
    assert err.max() <= max_ulp, f"{name}: {err.max():.2f} ulp at x={x[err.argmax()]!r}"


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_vecmath_nan_and_inf_follow_numpy(name):
    which, ref, _, _ = KERNELS[name]
    x = np.array([np.nan, np.inf, -np.inf, 0.0, 1e30, -1e30, 100.0, -100.0], F32)
    got = _apply(which, x)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64)).astype(F32)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-30, equal_nan=True)


def test_vecmath_sin_reduces_large_arguments_in_float64():
    x = np.array([1e6, 12345.678, 3e8], F32)
    got = _apply(0, x)
    want = np.sin(x.astype(np.float64)).astype(F32)
    assert _ulp_error(got, np.sin(x.astype(np.float64))).max() <= 2, (got, want)


@pytest.mark.parametrize("which", [0, 1])
def test_vecmath_sin_cos_accurate_for_every_float32_binade(which):
    # |x| up to FLT_MAX reduce exactly (table of 2/pi bits), -0.0 keeps its sign, and the
    # hardest float32 case (16367173 * 2^72, cos ~ -1.6e-9) keeps full relative precision
    rng = np.random.default_rng(3)
    n = 20000
    x = (rng.uniform(1, 2, n) * 2.0 ** rng.integers(-149, 128, n) * rng.choice([-1, 1], n))
    x = x.astype(F32)
    x = np.concatenate([x[np.isfinite(x)], np.array([16367173 * 2.0 ** 72, 2.0 ** 20,
                                                     np.nextafter(F32(2 ** 20), F32(0)),
                                                     np.finfo(F32).max, -0.0], F32)])
    got = _apply(which, x)
    ref = (np.sin, np.cos)[which](x.astype(np.float64))
    err = _ulp_error(got, ref)
    assert err.max() <= 2, f"{err.max():.2f} ulp at x={x[err.argmax()]!r}"
    if which == 0:
        assert np.signbit(got[-1])


def test_exp_overflow_stays_inf_next_to_an_add():
    # an overflowing multiply contracted into an fma would give -inf + exp(100) = -inf
    import tracer as tt
    f = tt.function(lambda x, y: y + tt.exp(x))
    x = np.array([100.0, 88.73, 88.72, -200.0, np.nan], np.float32)
    y = np.array([-np.inf, 0.0, 0.0, 0.0, 1.0], np.float32)
    got = f(tt.constant(x), tt.constant(y)).numpy()
    with np.errstate(all="ignore"):
        want = y + np.exp(x)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.isnan(got[0]) and np.isinf(got[1])


def test_odd_functions_keep_the_sign_of_zero():
    # tanh(-0.0) = -0.0 as NumPy (the polynomial's fma rounded -0 + +0 to +0); sin likewise
    x = np.array([-0.0, 0.0, -1e-30, 1e-30], F32)
    for which, ref in ((0, np.sin), (3, np.tanh)):
        got = _apply(which, x)
        assert list(np.signbit(got)) == list(np.signbit(ref(x))), (which, got)
