"""Smooth public ops have their exact derivatives at every point, to second order, in both
tiers: at 0, at ties and at large values (issue: compositions through relu/abs had slope
0 at 0, out / x gave 0 and NaN for products, log-softmax lost digits for large logits)."""
import numpy as np
import pytest

import tracer as tt


def _derivatives(f, x, dtype="float64"):
    """(f'(x), f''(x)) elementwise, from nested tapes."""
    x = tt.constant(np.asarray(x, dtype))
    with tt.GradientTape() as outer:
        outer.watch(x)
        with tt.GradientTape() as inner:
            inner.watch(x)
            y = tt.reduce_sum(f(x))
        g = inner.gradient(y, x)
        gs = tt.reduce_sum(g)
    return g.numpy(), outer.gradient(gs, x).numpy()


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


X = np.array([0.0, -0.0, 1e-3, -2.0, 30.0, -40.0])
S, SM = _sigmoid(X), _sigmoid(-X)       # sigmoid(-x) = 1 - sigmoid(x), precisely


@pytest.mark.parametrize("name, f, d1, d2", [
    ("softplus", tt.softplus, S, S * SM),
    ("nn_softplus", tt.nn.softplus, S, S * SM),
    ("log_sigmoid", tt.nn.log_sigmoid, SM, -S * SM),
    ("math_log_sigmoid", tt.math.log_sigmoid, SM, -S * SM),
    ("sigmoid_cross_entropy", lambda x: tt.nn.sigmoid_cross_entropy_with_logits(
        tt.constant(np.full(6, 0.25)), x), S - 0.25, S * SM),
])
def test_smooth_activation_exact_derivatives_at_zero(tt_backend, name, f, d1, d2):
    g, h = _derivatives(f, X)
    np.testing.assert_allclose(g, d1, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(h, d2, rtol=1e-9, atol=1e-300)


def test_softplus_gradient_at_zero_is_one_half_float32(tt_backend):
    g, h = _derivatives(tt.nn.softplus, [0.0], "float32")
    assert g.tolist() == [0.5] and h.tolist() == [0.25]


def test_sigmoid_cross_entropy_keeps_tiny_losses_and_labels_gradient(tt_backend):
    x = tt.constant([20.0, -20.0, 0.0], dtype="float64")
    z = tt.constant([1.0, 0.0, 0.25], dtype="float64")
    loss = tt.nn.sigmoid_cross_entropy_with_logits(z, x).numpy()
    np.testing.assert_allclose(loss, [np.log1p(np.exp(-20.0))] * 2 + [np.log(2.0)], rtol=1e-14)
    with tt.GradientTape() as tape:
        tape.watch([x, z])
        y = tt.reduce_sum(tt.nn.sigmoid_cross_entropy_with_logits(z, x))
    gx, gz = tape.gradient(y, [x, z])
    e = _sigmoid(-20.0)
    np.testing.assert_allclose(gx.numpy(), [-e, e, 0.25], rtol=1e-12)
    np.testing.assert_allclose(gz.numpy(), -x.numpy(), rtol=1e-15)


def test_log_softmax_large_logits_full_precision(tt_backend):
    np.testing.assert_array_equal(
        tt.nn.log_softmax(tt.constant([1e12, 1e12], dtype="float64")).numpy(),
        [-np.log(2.0)] * 2)
    got = tt.nn.softmax_cross_entropy_with_logits(tt.constant([0.5, 0.5]),
                                                  tt.constant([1e4, 1e4])).numpy()
    assert got == np.float32(np.log(2.0))
    x = tt.constant([[1e4, 1e4 + 1.0, 1e4 - 2.0]], dtype="float32")
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.reduce_sum(tt.nn.log_softmax(x) * [[1.0, 0.0, 0.0]])
    p = np.exp([0.0, 1.0, -2.0]) / np.exp([0.0, 1.0, -2.0]).sum()
    np.testing.assert_allclose(tape.gradient(y, x).numpy()[0], [1 - p[0], -p[1], -p[2]],
                               rtol=1e-5)


@pytest.mark.parametrize("x, want", [
    ([1e-200, 1e-200, 1e10], [1e-190, 1e-190, 1e-400]),     # the product underflows
    ([-np.inf, 0.0, 2.0], [0.0, -np.inf, np.nan]),           # zero and inf in the row
    ([3.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]),            # two zeros
    ([3.0, 0.0, 5.0, 2.0], [0.0, 30.0, 0.0, 0.0]),           # one zero
    ([np.nan, 0.0, 2.0], [0.0, np.nan, np.nan]),
])
def test_reduce_prod_gradient_is_product_of_the_others(tt_backend, x, want):
    g, _ = _derivatives(tt.reduce_prod, x)
    np.testing.assert_allclose(g, want, rtol=1e-12)


def test_reduce_prod_second_derivative_exact_with_zeros_and_axes(tt_backend):
    # two reduced axes that are not the last ones; zeros in some slices
    x = np.random.default_rng(3).uniform(0.5, 1.5, (2, 3, 4))
    x[0, 1, 2] = 0.0
    x[1, 0, 0] = x[1, 2, 3] = 0.0
    tt.testing.check_gradients(lambda v: tt.reduce_prod(v, axis=[0, 1]), [x], order=2)


def test_relu_gradient_is_zero_at_zero_and_nan_as_tensorflow_and_jax(tt_backend):
    x = np.array([-2.0, -0.0, 0.0, 1.5, np.nan, np.inf, -np.inf])
    t = tt.constant(x)
    with tt.GradientTape() as tape:
        tape.watch(t)
        y = tt.reduce_sum(tt.nn.relu(t) * 3.0)
    np.testing.assert_array_equal(tape.gradient(y, t).numpy(), [0, 0, 0, 3, 0, 3, 0])
    got = tt.grad(lambda v: tt.reduce_sum(tt.nn.relu(v)))(tt.constant(x))
    np.testing.assert_array_equal(got.numpy(), [0, 0, 0, 1, 0, 1, 0])
    y = tt.nn.relu(tt.constant(x)).numpy()
    np.testing.assert_array_equal(y, np.maximum(x, 0))          # NaN stays NaN
    assert tt.nn.relu(tt.constant([-3, 4])).numpy().tolist() == [0, 4]


def test_elu_and_selu_at_nan_take_the_identity_side_as_tensorflow_and_pytorch(tt_backend):
    x = np.array([-2.0, 0.0, 1.5, np.nan])
    for f, scale, neg0 in ((tt.nn.elu, 1.0, 1.0), (tt.nn.selu, 1.0507009873554805, None)):
        t = tt.constant(x)
        with tt.GradientTape() as tape:
            tape.watch(t)
            y = f(t)
            s = tt.reduce_sum(y)
        g = tape.gradient(s, t).numpy()
        assert np.isnan(y.numpy()[3]) and g[3] == scale and g[2] == scale
        assert g[0] > 0 and (neg0 is None or g[1] == neg0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_pow_zero_exponent_second_derivative_is_zero_at_zero(tt_backend):
    # d/dx x**y is select(y == 0, 0, y x^(y-1)); the unselected branch must stay finite
    # at x = 0, or the second derivative is 0 * inf = NaN (JAX: 0)
    x = np.array([0.0, -0.0, 1e-30, 2.0, -3.0])
    for f in (lambda v: v ** 0, lambda v: tt.pow(v, tt.zeros_like(v))):
        g1 = tt.grad(lambda v: tt.reduce_sum(f(v)))
        np.testing.assert_array_equal(tt.grad(lambda v: tt.reduce_sum(g1(v)))(x).numpy(), 0.0)
    g1 = tt.grad(lambda v: tt.reduce_sum(v ** 2))
    np.testing.assert_array_equal(tt.grad(lambda v: tt.reduce_sum(g1(v)))(x).numpy(), 2.0)
