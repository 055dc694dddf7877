"""tt.custom_gradient: eager tapes (first and second order), inside transforms, nested."""
import numpy as np
import pytest

import tracer as tt


@tt.custom_gradient
def log1pexp(x):
    e = tt.exp(x)

    def grad(dy):
        return dy * (1 - 1 / (1 + e))
    return tt.log(1 + e), grad


@tt.custom_gradient
def clip_grad(x):
    # identity forward, gradient clipped to [-1, 1]
    return tt.identity(x), lambda dy: tt.clip_by_value(dy, -1.0, 1.0)


@tt.custom_gradient
def scaled_product(x, y):
    def grad(dy):
        return [dy * y * 10.0, None]
    return x * y, grad


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.filterwarnings("ignore:overflow")
def test_custom_gradient_replaces_gradient_under_tape(tt_backend):
    x = tt.constant(100.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    assert np.isinf(y.numpy())              # the forward overflows, as in TensorFlow
    assert tape.gradient(y, x).numpy() == 1.0   # the custom gradient stays finite


def test_custom_gradient_without_tape_is_plain_forward():
    np.testing.assert_allclose(log1pexp(tt.constant(0.0)).numpy(), np.log(2.0), rtol=1e-6)


def test_custom_gradient_second_order_under_tapes(tt_backend):
    x = tt.constant(0.3, dtype=tt.float64)
    with tt.GradientTape() as outer:
        outer.watch(x)
        with tt.GradientTape() as inner:
            inner.watch(x)
            y = log1pexp(x)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x)
    np.testing.assert_allclose(g.numpy(), _sigmoid(0.3), atol=1e-12)
    np.testing.assert_allclose(h.numpy(), _sigmoid(0.3) * (1 - _sigmoid(0.3)), atol=1e-12)


def test_custom_gradient_is_used_not_the_forward_graph(tt_backend):
    x = tt.constant([-5.0, 0.5, 5.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.reduce_sum(clip_grad(x) * 3.0)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 1.0, 1.0])
    g = tt.grad(lambda x: tt.reduce_sum(clip_grad(x) * 3.0))(x)
    np.testing.assert_allclose(g.numpy(), [1.0, 1.0, 1.0])


def test_custom_gradient_two_inputs_with_none(tt_backend):
    x, y = tt.constant(2.0), tt.constant(3.0)
    with tt.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        z = scaled_product(x, y)
    assert z.numpy() == 6.0
    assert tape.gradient(z, x).numpy() == 30.0
    assert tape.gradient(z, y) is None
    gx, gy = tt.grad(lambda a, b: scaled_product(a, b), argnums=(0, 1))(x, y)
    assert gx.numpy() == 30.0 and gy.numpy() == 0.0


@pytest.mark.filterwarnings("ignore:overflow")
def test_custom_gradient_inside_function_and_grad(tt_backend):
    f = tt.function(tt.grad(log1pexp))
    np.testing.assert_allclose(f(tt.constant(100.0)).numpy(), 1.0)
    for x in (-2.0, 0.0, 1.5):
        d2 = tt.grad(tt.grad(log1pexp))(tt.constant(x, dtype=tt.float64)).numpy()
        np.testing.assert_allclose(d2, _sigmoid(x) * (1 - _sigmoid(x)), atol=1e-12)


def test_custom_gradient_nested_custom_gradients(tt_backend):
    @tt.custom_gradient
    def outer(x):
        y = log1pexp(x) * 2.0

        def grad(dy):
            with tt.GradientTape() as t:      # the inner custom gradient, differentiated
                t.watch(x)
                z = log1pexp(x)
            return dy * 2.0 * t.gradient(z, x)
        return y, grad

    for x in (-1.0, 0.7):
        g = tt.grad(outer)(tt.constant(x, dtype=tt.float64))
        np.testing.assert_allclose(g.numpy(), 2 * _sigmoid(x), atol=1e-12)
        xt = tt.constant(x, dtype=tt.float64)
        with tt.GradientTape() as tape:
            tape.watch(xt)
            y = outer(xt)
        np.testing.assert_allclose(tape.gradient(y, xt).numpy(), 2 * _sigmoid(x), atol=1e-12)


def test_custom_gradient_closure_over_eager_constant(tt_backend):
    scale = tt.constant([2.0, 4.0])

    @tt.custom_gradient
    def f(x):
        return x * 1.0, lambda dy: dy * scale

    x = tt.constant([1.0, 1.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.reduce_sum(f(x))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 4.0])
    g = tt.function(tt.grad(lambda x: tt.reduce_sum(f(x))))
    np.testing.assert_allclose(g(x).numpy(), [2.0, 4.0])


def test_custom_gradient_errors():
    @tt.custom_gradient
    def bad_return(x):
        return x

    @tt.custom_gradient
    def bad_shape(x):
        return x * 2.0, lambda dy: tt.constant([1.0, 2.0, 3.0])

    with pytest.raises(TypeError, match=r"\(y, grad_fn\)"):
        bad_return(tt.constant(1.0))
    x = tt.constant([1.0, 2.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
            bad_shape(x)
    with pytest.raises(ValueError, match="1 inputs"):
        tt.grad(lambda a: tt.reduce_sum(scaled_product_single(a)))(x)


@tt.custom_gradient
def scaled_product_single(x):
    return x * 2.0, lambda dy: [dy, dy]


# -- several outputs, Variables (TensorFlow's variables= protocol) -------------------------

@tt.custom_gradient
def sum_and_product(x, y):
    def grad(d_sum, d_prod):
        # deliberately 10x the true gradient on the product, to see the rule is used
        return [d_sum + 10.0 * d_prod * y, d_sum + 10.0 * d_prod * x]
    return [x + y, x * y], grad


def test_several_inputs_and_outputs_under_tapes_and_transforms(tt_backend):
    x, y = tt.constant(2.0, tt.float64), tt.constant(3.0, tt.float64)
    with tt.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        s, p = sum_and_product(x, y)
        total = s + 2.0 * p
    assert float(s) == 5.0 and float(p) == 6.0
    gx, gy = tape.gradient(total, [x, y])
    assert float(gx) == 1.0 + 20.0 * 3.0 and float(gy) == 1.0 + 20.0 * 2.0
    assert float(tape.gradient(s, x)) == 1.0
    f = lambda a, b: tt.reduce_sum(tt.stack(sum_and_product(a, b)) * tt.constant([1.0, 2.0],
                                                                                   tt.float64))
    ga, gb = tt.grad(f, argnums=(0, 1))(x, y)
    assert float(ga) == 61.0 and float(gb) == 41.0
    # second order: d/dx of d total/dy = 20 (the rule is written in tt ops)
    assert float(tt.grad(tt.grad(f, argnums=1))(x, y)) == 20.0


def test_variables_read_inside_get_gradients_from_grad_fn(tt_backend):
    v = tt.Variable(2.0, dtype=tt.float64)

    @tt.custom_gradient
    def scale(x):
        def grad(dy, variables=None):
            assert variables is not None and variables[0] is v
            return dy * v * 10.0, [dy * x * 100.0]
        return x * v, grad
    x = tt.constant(3.0, tt.float64)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = scale(x)
    gx, gv = tape.gradient(y, [x, v])
    assert float(y) == 6.0 and float(gx) == 20.0 and float(gv) == 300.0

    # traced: the input gradient comes from grad_fn called with the Variables
    assert float(tt.grad(lambda a: scale(a) * 2.0)(x)) == 40.0
    # second order through the variable gradient: d/dx (dy * x * 100) = 100
    with tt.GradientTape() as outer:
        outer.watch(x)
        with tt.GradientTape() as inner:
            y = scale(x)
        gv = inner.gradient(y, v)
    assert float(gv) == 300.0 and float(outer.gradient(gv, x)) == 100.0


def test_grad_fn_must_take_variables_when_the_function_reads_them():
    v = tt.Variable(1.5)

    @tt.custom_gradient
    def bad(x):
        return x * v, lambda dy: dy
    x = tt.constant(1.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="variables"):
            bad(x)
    assert float(bad(x)) == 1.5             # no tape: the forward alone


def test_grad_fn_returning_too_few_gradients_is_named():
    @tt.custom_gradient
    def f(x, y):
        return x * y, lambda dy: dy                 # one gradient for two inputs

    with pytest.raises(ValueError, match="returned 1 gradients for 2 inputs"):
        tt.grad(lambda a, b: f(a, b))(tt.constant(1.0), tt.constant(2.0))
    assert float(tt.grad(lambda a: a * 3.0)(tt.constant(1.0))) == 3.0   # still works
