"""Derivatives of tt.while_loop beyond the first, in both tiers: second and third order
through tt.grad, tt.hessian, jacfwd(jacrev) and nested tapes inside tt.function, with
respect to initial loop variables and captured tensors, against closed forms, float64
finite differences and the same loop written with tt.fori_loop (a scan)."""
import numpy as np
import pytest

import runtime
import tracer as tt
from tracer.testing import assert_allclose, check_gradients

pytestmark = pytest.mark.slow        # compiled third-order loops: scheduled first


def _blocks(h):
    """The four blocks of a Hessian with respect to two arguments."""
    return [block for row in h for block in row]


def _c(a):
    return tt.constant(np.asarray(a, np.float64))


def _square_until(x, limit):
    """v <- v * v while v < limit: x**4 from x = 2 with limit 8 (TensorFlow's while_v2
    test case)."""
    return tt.while_loop(lambda v: v < limit, lambda v: v * v, x)


def test_third_order_value_dependent_trip_count(tt_backend):
    f = lambda x: _square_until(x, 8.0)
    x = _c(2.0)          # two iterations: x**4
    for fn, want in [(f, 16.0), (tt.grad(f), 32.0), (tt.grad(tt.grad(f)), 48.0),
                     (tt.grad(tt.grad(tt.grad(f))), 48.0)]:
        assert_allclose(fn(x), want, rtol=1e-12)
    x = _c(1.5)          # three iterations: x**8
    assert_allclose(tt.grad(tt.grad(f))(x), 56.0 * 1.5 ** 6, rtol=1e-12)
    assert_allclose(tt.grad(tt.grad(tt.grad(f)))(x), 336.0 * 1.5 ** 5, rtol=1e-12)


def test_maximum_iterations_stops_the_derivatives_too(tt_backend):
    # the condition never fails: maximum_iterations=2 gives x**4
    f = lambda x: tt.while_loop(lambda v: v > 0.0, lambda v: v * v, x, maximum_iterations=2)
    assert_allclose(tt.grad(tt.grad(f))(_c(3.0)), 12.0 * 9.0, rtol=1e-12)
    assert_allclose(tt.grad(tt.grad(tt.grad(f)))(_c(3.0)), 72.0, rtol=1e-12)


def _newton(a, k):
    """sqrt(a * k) by Newton's iteration (an int32 counter and a bool flag ride along)."""
    def body(y, i, done):
        y = (y + a * k / y) * 0.5
        return y, i + 1, tt.reduce_max(tt.abs(y * y - a * k)) <= 1e-13
    return tt.while_loop(lambda y, i, done: tt.logical_and(tt.logical_not(done), i < 60),
                         body, (a * 0.0 + 1.0, tt.constant(0, tt.int32),
                                tt.constant(False)))[0]


@pytest.mark.parametrize("what", ["hessian", "jacfwd_of_jacrev", "captured"])
def test_hessian_and_jacfwd_of_jacrev_with_captured_tensor(tt_backend, what):
    a, k = _c([2.0, 9.0, 0.5]), _c(1.5)
    f = lambda v: tt.reduce_sum(_newton(v, k))           # k captured by the body
    want = np.diag(-0.25 * np.sqrt(1.5) * a.numpy() ** -1.5)
    if what == "hessian":
        assert_allclose(tt.hessian(f)(a), want, rtol=1e-9)
    elif what == "jacfwd_of_jacrev":
        assert_allclose(tt.jacfwd(tt.jacrev(f))(a), want, rtol=1e-9)
    else:
        # with respect to the captured tensor: d^n/dk^n sum sqrt(a k)
        g = lambda kk: tt.reduce_sum(_newton(a, kk))
        root = np.sum(np.sqrt(a.numpy()))
        assert_allclose(tt.grad(tt.grad(g))(k), -0.25 * root * 1.5 ** -1.5, rtol=1e-9)
        assert_allclose(tt.grad(tt.grad(tt.grad(g)))(k), 0.375 * root * 1.5 ** -2.5,
                        rtol=1e-8)


def _rollout(loop):
    def f(x, c):
        def body(i, v):
            return v + 0.3 * tt.sin(v * c) + 0.1 * c * v
        if loop == "fori":
            v = tt.fori_loop(0, 4, body, x)
        else:
            v = tt.while_loop(lambda i, v: i < 4, lambda i, v: (i + 1, body(i, v)),
                              (tt.constant(0), x))[1]
        return tt.reduce_sum(v * v)
    return f


def _interpreted(fn, *args):
    """``fn(*args)`` on the interpreter tier (the reference: compiling it would only add
    compile time); the other transform tests import it."""
    saved = runtime.config.jit_threshold
    runtime.config.update(jit_threshold=1 << 30)
    try:
        return fn(*args)
    finally:
        runtime.config.update(jit_threshold=saved)


def _third(f):
    """d/d(x, c) of sum(H(x) c * sin(x)): a third derivative through the loop."""
    hv = tt.grad(lambda a, b: tt.reduce_sum(tt.grad(f)(a, b) * b))      # H(x) c
    return tt.grad(lambda a, b: tt.reduce_sum(hv(a, b) * tt.sin(a)), argnums=(0, 1))


@pytest.mark.parametrize("order", [2, 3])
def test_second_and_third_order_equal_the_fori_loop(tt_backend, order):
    x, c = _c([0.4, -0.8, 1.1]), _c([0.7, 1.3, -0.5])
    w, s = _rollout("while"), _rollout("fori")
    if order == 2:
        # every block of the Hessian: d2/dx2, d2/dx dc (captured by the body), d2/dc2
        hessian = lambda f: tt.hessian(f, argnums=(0, 1))
        pairs = zip(_blocks(hessian(w)(x, c)), _blocks(_interpreted(hessian(s), x, c)))
    else:
        pairs = zip(_third(w)(x, c), _interpreted(_third(s), x, c))
    for got, want in pairs:
        assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_second_order_against_finite_differences(tt_backend):
    def f(x, c):
        i, v = tt.while_loop(lambda i, v: tt.reduce_sum(v) < 20.0,
                             lambda i, v: (i + 1, v * 1.5 + c * tt.sin(v)),
                             (tt.constant(0), x))
        return tt.reduce_sum(v * v)
    fn = tt.function(f)
    # trip counts differ between these starting points (3 and 6 iterations)
    check_gradients(fn, [np.array([2.0, 3.0]), np.array([0.5, 0.25])], order=2)
    check_gradients(fn, [np.array([0.4, 0.2]), np.array([0.5, 0.25])], order=2)


def _nested_tapes(inner_value):
    """tt.function of d/d(x, c) of d/dx sum(inner_value(x, c)), both tapes inside it."""
    @tt.function
    def f(x, c):
        with tt.GradientTape() as outer:
            outer.watch([x, c])
            with tt.GradientTape() as inner:
                inner.watch(x)
                y = tt.reduce_sum(inner_value(x, c))
            dx = inner.gradient(y, x)            # recorded on the outer tape
        return outer.gradient(dx, [x, c])
    return f


def test_nested_tapes_inside_function(tt_backend):
    f = _nested_tapes(_newton)
    a, k = np.array([2.0, 9.0]), 1.5
    hx, hc = f(_c(a), _c(k))
    # d/dx sum sqrt(x k) summed over x: -1/4 sqrt(k) x^-3/2; d/dk: 1/4 (x k)^-1/2
    assert_allclose(hx, -0.25 * np.sqrt(k) * a ** -1.5, rtol=1e-9)
    assert_allclose(hc, np.sum(0.25 / np.sqrt(a * k)), rtol=1e-9)


def test_nested_tapes_inside_function_without_control_flow(tt_backend):
    f = _nested_tapes(lambda x, c: x * x * c)           # dx = 2 x c
    hx, hc = f(_c([2.0, 9.0]), _c(1.5))
    assert_allclose(hx, [3.0, 3.0])
    assert_allclose(hc, 22.0)
