"""The compiled tier agrees with the interpreter on IEEE values: NaN, Inf and signed zeros
in forward and gradient code, in float32 and float64 (issue: fast-math flags and
rematerialised values made compiled gradients NaN where the interpreter was finite)."""
import numpy as np
import pytest

import runtime
import tracer as tt

INF = np.inf


def _same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.signbit(got) & ~np.isnan(got),
                                  np.signbit(want) & ~np.isnan(want))
    np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(want), rtol=1e-6)


def _tape_grad(f, x, order, threshold):
    saved = runtime.config.jit_threshold
    runtime.config.jit_threshold = threshold
    try:
        xt = tt.constant(x)
        with tt.GradientTape() as outer:
            outer.watch(xt)
            with tt.GradientTape() as inner:
                inner.watch(xt)
                y = tt.reduce_sum(f(xt))
            g = inner.gradient(y, xt)
            gs = tt.reduce_sum(g)
        return (g if order == 1 else outer.gradient(gs, xt)).numpy()
    finally:
        runtime.config.jit_threshold = saved


def _compiled_grad(f, x, order):
    g = tt.grad(lambda v: tt.reduce_sum(f(v)))
    if order == 2:
        g = tt.grad(lambda v: tt.reduce_sum(tt.grad(lambda u: tt.reduce_sum(f(u)))(v)))
    return g(tt.constant(x)).numpy()


CASES = [
    ("rsqrt", tt.rsqrt, [0.0, 4.0, INF], "float32", 1),
    ("sqrt", tt.sqrt, [0.0, INF, 4.0], "float32", 1),
    ("asin", tt.asin, [1.0, -1.0, 0.5], "float32", 1),
    ("acos", tt.acos, [1.0, -1.0, 0.5], "float32", 1),
    ("pow_half", lambda x: x ** 0.5, [0.0, INF, 2.0], "float32", 1),
    ("pow_half", lambda x: x ** 0.5, [0.0, -0.0, INF], "float64", 2),
    ("l2_norm_rows", lambda x: tt.sqrt(tt.reduce_sum(tt.square(x), axis=1)),
     [[-INF, 1.0], [3.0, 4.0]], "float32", 1),
]


@pytest.mark.parametrize("name, f, x, dtype, order", CASES,
                         ids=[f"{c[0]}-{c[3]}-order{c[4]}" for c in CASES])
def test_ieee_gradient_compiled_matches_interpreter(name, f, x, dtype, order):
    x = np.array(x, dtype)
    want = _tape_grad(f, x, order, 1 << 30)            # interpreter
    _same(_compiled_grad(f, x, order), want)           # tt.grad, compiled
    _same(_tape_grad(f, x, order, 0), want)            # tape gradient, compiled


def test_ieee_forward_rsqrt_of_zero_float32_is_inf_compiled():
    x = tt.constant(np.array([0.0, 4.0, INF], "float32"))
    _same(tt.function(tt.rsqrt)(x), tt.rsqrt(x))
    _same(tt.function(tt.rsqrt)(x), np.array([INF, 0.5, 0.0], "float32"))


def test_ieee_tie_mask_sees_the_stored_value_in_compiled_tape_gradients(tt_backend):
    # reduced from a random-graph differential test: the compiled tape gradient recomputed
    # tanh(v2) one ulp away from the value reduce_min had seen, so the tie mask matched
    # nothing and the gradient was NaN
    v1 = tt.constant([[-0.9158, -2.3790, -1.0809, 0.9413]])
    v2 = tt.constant([-0.5992, -0.6904, 0.2260, -0.1898])

    def loss(v1, v2):
        v9 = tt.where(tt.nn.softmax(v2, axis=0) + v2 > 0.0, tt.reduce_min(tt.tanh(v2)),
                      v1 - v2)
        return 2.0 * tt.reduce_max(v2) + tt.reduce_sum(v9 * [[0.5, 1.0, -1.0, 2.0]])
    for _ in range(2):
        with tt.GradientTape() as tape:
            tape.watch([v1, v2])
            y = loss(v1, v2)
        g = tape.gradient(y, v2).numpy()
        np.testing.assert_allclose(g, [-0.5, -0.35789, 2.0, 0.0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(tt.grad(loss, argnums=1)(v1, v2).numpy(),
                               [-0.5, -0.35789, 2.0, 0.0], rtol=1e-4, atol=1e-6)


def test_ieee_kernels_carry_no_fast_math_flags():
    f = tt.function(lambda x: tt.reduce_sum(tt.exp(x) * x))
    text = f.explain(tt.constant(np.ones(8, "float32")))
    assert "fastmath" not in text and "acc_add(" in text


def test_ieee_pow_half_of_negative_zero_and_inf_matches_compiled():
    # NumPy's scalar-exponent shortcut computes x ** 0.5 as sqrt(x) (-0.0 and NaN here);
    # IEEE pow, and the compiled tier, give +0.0 and +inf
    x = tt.constant(np.array([-0.0, -INF, 4.0, np.nan]))
    want = np.array([0.0, INF, 2.0, np.nan])
    _same(x ** 0.5, want)
    _same(tt.pow(x, 0.5), want)
    _same(tt.function(lambda v: v ** 0.5)(x), want)
