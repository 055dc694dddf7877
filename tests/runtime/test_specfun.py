"""The float64 special functions of generated kernels (runtime.specfun) against mpmath:
digamma, erfinv and ndtri within a few ulp (digamma also at its positive root, erfinv
and ndtri deep in their tails), polygamma to 1e-14 relative, and their special values."""
import math

import numpy as np
import pytest

from runtime import specfun

mp = pytest.importorskip("mpmath")
mp.mp.dps = 40


def _ulps(got, want):
    got, want = np.asarray(got, float), np.asarray(want, float)
    return np.abs(got - want) / np.spacing(np.abs(want))


def _at(f, xs):
    return np.array([f(float(x)) for x in xs])


def test_digamma_within_a_few_ulp():
    rng = np.random.default_rng(0)
    root = 1.4616321449683622
    xs = np.concatenate([rng.uniform(0, 3, 60), rng.uniform(0.9, 2.1, 60),
                         np.exp(rng.uniform(-30, 40, 40)),
                         [root, np.nextafter(root, 2), np.nextafter(root, 0), 1.0, 2.0, 10.0,
                          np.nextafter(10.0, 0), 1e-300]])
    want = np.array([float(mp.digamma(mp.mpf(x))) for x in xs])
    u = _ulps(_at(specfun.digammad, xs), want)
    assert u.max() <= 4, f"digamma {u.max():.1f} ulp at x={xs[u.argmax()]!r}"
    neg = -rng.uniform(0, 20, 40)
    want = np.array([float(mp.digamma(mp.mpf(x))) for x in neg])
    err = np.abs(_at(specfun.digammad, neg) - want) / np.maximum(1.0, np.abs(want))
    assert err.max() <= 4e-15


def test_erfinv_and_ndtri_within_a_few_ulp_also_in_the_tails():
    rng = np.random.default_rng(1)
    ys = np.concatenate([rng.uniform(-1, 1, 80), 1 - np.exp(rng.uniform(-36, -1, 40)),
                         -np.exp(rng.uniform(-300, -1, 30)), [0.5, -0.5, 1 - 2 ** -53]])
    want = np.array([float(mp.erfinv(mp.mpf(y))) for y in ys])
    u = _ulps(_at(specfun.erfinvd, ys), want)
    assert u.max() <= 4, f"erfinv {u.max():.1f} ulp at y={ys[u.argmax()]!r}"
    ps = np.concatenate([rng.uniform(0, 1, 60), np.exp(rng.uniform(-700, -1, 40)),
                         1 - np.exp(rng.uniform(-36, -1, 30)), [1e-310]])
    got = _at(specfun.ndtrid, ps)
    # the reference: one Newton step on ncdf(x) = p from the result, in 40 digits
    want = np.array([float(mp.mpf(g) - (mp.ncdf(g) - mp.mpf(p)) / mp.npdf(g))
                     for g, p in zip(got, ps)])
    u = _ulps(got, want)
    assert u.max() <= 4, f"ndtri {u.max():.1f} ulp at p={ps[u.argmax()]!r}"


@pytest.mark.parametrize("n", [1, 2, 5])
def test_polygamma_matches_mpmath(n):
    rng = np.random.default_rng(n)
    xs = np.concatenate([rng.uniform(0.01, 5, 30), np.exp(rng.uniform(-5, 20, 15)),
                         -rng.uniform(0.01, 5, 15)])
    want = np.array([float(mp.polygamma(n, mp.mpf(x))) for x in xs])
    got = _at(lambda x: specfun.polygammad(float(n), x), xs)
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_special_values():
    inf, nan = math.inf, math.nan
    same = lambda a, b: np.testing.assert_array_equal(np.array(a), np.array(b))  # noqa: E731
    same([specfun.digammad(v) for v in (nan, inf, -inf, 0.0, -0.0, -3.0, 1.0)],
         [nan, inf, nan, nan, nan, nan, -0.5772156649015329])
    same([specfun.erfinvd(v) for v in (1.0, -1.0, 1.5, nan)], [inf, -inf, nan, nan])
    assert math.copysign(1, specfun.erfinvd(-0.0)) == 1.0          # +0, as SciPy/TF
    same([specfun.ndtrid(v) for v in (0.0, 1.0, -0.1, 1.1)], [-inf, inf, nan, nan])
    assert math.copysign(1, specfun.ndtrid(0.5)) == 1.0
    same([specfun.polygammad(n, 2.0) for n in (0.5, -1.0, nan, inf)], [nan] * 4)
    same([specfun.polygammad(1.0, v) for v in (0.0, -2.0, inf, -inf)], [inf, inf, 0.0, nan])


def test_scaled_bessel_i0e_i1e_within_a_few_ulp():
    xs = np.concatenate([np.linspace(-50, 50, 81), np.exp(np.linspace(-20, 6, 30)),
                         [29.999, 30.0, 30.001, 700.0, 1e5]])
    for f, order in ((specfun.bessel_i0ed, 0), (specfun.bessel_i1ed, 1)):
        want = np.array([float(mp.besseli(order, mp.mpf(x)) * mp.exp(-abs(mp.mpf(x))))
                         for x in xs])
        u = _ulps(_at(f, xs), want)
        assert u.max() <= 8, f"i{order}e {u.max():.1f} ulp at x={xs[u.argmax()]!r}"
    assert specfun.bessel_i0ed(math.inf) == 0.0 and specfun.bessel_i0ed(0.0) == 1.0
    assert math.copysign(1, specfun.bessel_i1ed(-0.0)) == 1.0
    assert math.copysign(1, specfun.bessel_i1ed(-math.inf)) == -1.0
