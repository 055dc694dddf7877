"""Edge cases found by differential checks against JAX and the other tier: size-0
extents, special points and second derivatives that used to raise or differ."""
import numpy as np

import tracer as tt


def test_scatter_nd_second_derivative_with_an_empty_trailing_extent():
    # the gradient of a gather is a scatter_add; updates of shape (3, 0) flattened their
    # index axes with reshape(-1), which NumPy cannot infer when another extent is 0
    idx = [[1], [0], [1]]
    u = np.zeros((3, 0))
    first = tt.grad(lambda u: tt.reduce_sum(tt.sin(tt.scatter_nd(idx, u, [3, 0]))))
    second = tt.grad(lambda u: tt.reduce_sum(tt.square(first(u))))
    assert first(u).shape == (3, 0)
    assert second(u).shape == (3, 0)


def _scan_of_nothing(x):
    c, ys = tt.scan(lambda c, xi: (c * xi, tt.stack([c + xi, c])), x[0], x[1:1])
    return c, ys


def test_eager_scan_of_length_zero_stacks_empty_ys_like_the_traced_scan():
    x = tt.constant(np.array([[0.3, -0.2], [1.5, 0.7]]))
    c, ys = _scan_of_nothing(x)                     # eager: used to give ys = None
    tc, tys = tt.function(_scan_of_nothing)(x)
    assert ys.shape == tys.shape == (0, 2, 2) and ys.dtype == tys.dtype == np.float64
    np.testing.assert_array_equal(c.numpy(), tc.numpy())
    with tt.GradientTape() as tape:
        tape.watch(x)
        c, ys = _scan_of_nothing(x)
        y = tt.reduce_sum(c) + tt.reduce_sum(ys)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[1.0, 1.0], [0.0, 0.0]])


def test_eager_scan_of_length_zero_with_python_control_flow_in_f():
    def f(c, xi):
        if float(tt.reduce_sum(xi)) > 0:          # eager only: cannot be traced
            return c + xi, c
        return c - xi, c
    c, ys = tt.scan(f, tt.ones([2]), tt.zeros([0, 2]))
    np.testing.assert_array_equal(c.numpy(), [1.0, 1.0])
    assert ys is None
