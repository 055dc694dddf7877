"""Work that must not grow with an array's extent: the Python steps of the NumPy
implementations of scans and matrix routines (counted with a tracer of line events), and
their values against the sequential / per-matrix forms and finite differences."""
import sys

import numpy as np
import pytest

import tracer as tt
from compiler.primitives import scans


def python_steps(module, fn, *args, **kwargs):
    """How many lines of ``module`` run while ``fn(*args, **kwargs)`` runs."""
    count = [0]
    name = module.__file__

    def local(frame, event, arg):
        if event == "line":
            count[0] += 1
        return local

    def trace(frame, event, arg):
        return local if frame.f_code.co_filename == name else None

    sys.settrace(trace)
    try:
        fn(*args, **kwargs)
    finally:
        sys.settrace(None)
    return count[0]


def sequential_linrec(a, b, axis, reverse):
    a, s = (np.moveaxis(np.flip(x, axis) if reverse else x, axis, 0) for x in (a, b))
    s = np.array(s)
    for i in range(1, s.shape[0]):
        s[i] += a[i] * s[i - 1]
    s = np.moveaxis(s, 0, axis)
    return np.flip(s, axis) if reverse else s


def test_linrec_runs_in_logarithmically_many_python_steps():
    """s_i = b_i + a_i s_{i-1}: blocks of 16 scanned at once, not one step per element."""
    rng = np.random.default_rng(0)
    steps = {}
    for n in (256, 65536):
        a, b = rng.uniform(-1, 1, n), rng.standard_normal(n)
        steps[n] = python_steps(scans, scans._linrec_impl, a, b, axis=0, reverse=False)
    assert steps[65536] < 3 * steps[256] < 400, steps         # log16(n) levels, not n


@pytest.mark.parametrize("shape,axis", [((300,), 0), ((3, 70), 1), ((41, 2, 3), 0),
                                        ((16, 2), 0), ((17,), 0), ((0, 3), 0)])
def test_linrec_matches_the_sequential_recurrence(shape, axis):
    rng = np.random.default_rng(len(shape) + axis)
    for reverse in (False, True):
        a, b = rng.uniform(-1.2, 1.2, shape), rng.standard_normal(shape)
        a.reshape(-1)[3:6] = 0.0 if a.size > 6 else a.reshape(-1)[3:6]
        got = scans._linrec_impl(a, b, axis=axis, reverse=reverse)
        np.testing.assert_allclose(got, sequential_linrec(a, b, axis, reverse), rtol=1e-12,
                                   atol=1e-12)
        assert got.flags.c_contiguous and got.dtype == b.dtype


def test_linrec_keeps_the_recurrence_order_where_regrouping_overflows():
    """Products regrouped by blocks overflow (inf * 0 = NaN) where the recurrence gives
    finite values, and NaN/inf inputs: the result is the sequential recurrence's."""
    a = np.tile([1e200, 1e200, 1e200, 1.0], 10)
    b = np.tile([0.0, 0.0, 0.0, 1.0], 10)
    c = np.tile([1.0, np.inf, 0.0, 2.0], 9)
    d = np.tile([1.0, np.nan, 3.0, 1.0], 9)
    with np.errstate(all="ignore"):
        for x, y in ((a, b), (c, d)):
            np.testing.assert_array_equal(scans._linrec_impl(x, y, axis=0, reverse=False),
                                          sequential_linrec(x, y, 0, False))


def test_long_cumprod_gradient_matches_the_exact_formula(tt_backend):
    """d sum(cumprod(x)) / dx_i = prod_{k<i} x_k * S_i, S_i = 1 + x_{i+1} S_{i+1}, with
    zeros in x; along a long axis (the gradient is a linrec)."""
    rng = np.random.default_rng(3)
    x0 = rng.uniform(0.6, 1.4, 400) * rng.choice([-1.0, 1.0], 400)
    x0[[7, 150, 151]] = 0.0
    before = np.concatenate([[1.0], np.cumprod(x0)[:-1]])
    tail = np.zeros(400)
    for i in range(399, -1, -1):
        tail[i] = 1.0 + (x0[i + 1] * tail[i + 1] if i < 399 else 0.0)
    grad = tt.grad(lambda x: tt.reduce_sum(tt.cumprod(x)))
    np.testing.assert_allclose(grad(tt.constant(x0)).numpy(), before * tail, rtol=1e-10,
                               atol=1e-12)
