"""GradientTape.batch_jacobian: TensorFlow's shapes, per-example Jacobians, nesting."""
import numpy as np
import pytest

import tracer as tt


def test_batch_jacobian_is_the_per_example_block_of_the_jacobian(tt_backend):
    rng = np.random.default_rng(2)
    x = tt.constant(rng.standard_normal((4, 3)))
    w = tt.constant(rng.standard_normal((3, 2, 5)))
    with tt.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tt.tanh(tt.einsum("bi,ijk->bjk", x, w))
    bj = tape.batch_jacobian(y, x)
    full = tape.jacobian(y, x).numpy()
    assert bj.shape == (4, 2, 5, 3)
    np.testing.assert_allclose(bj.numpy(), np.stack([full[i, :, :, i] for i in range(4)]),
                               atol=1e-12)


def test_batch_jacobian_under_an_outer_tape():
    x = tt.constant(np.array([[0.5, -1.0], [2.0, 0.3]]))
    with tt.GradientTape() as outer:
        outer.watch(x)
        with tt.GradientTape() as inner:
            inner.watch(x)
            y = x ** 3                                   # elementwise: diagonal blocks
        bj = inner.batch_jacobian(y, x)                  # (2, 2, 2): diag(3 x^2)
        s = tt.reduce_sum(bj)
    np.testing.assert_allclose(bj.numpy()[:, [0, 1], [0, 1]], 3 * x.numpy() ** 2)
    np.testing.assert_allclose(outer.gradient(s, x).numpy(), 6 * x.numpy())


def test_batch_jacobian_errors_and_unconnected():
    x, z = tt.constant(np.ones((3, 2))), tt.constant(np.ones((4, 2)))
    with tt.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = x * 2.0
    with pytest.raises(ValueError, match="leading"):
        tape.batch_jacobian(y, z)
    other = tt.constant(np.ones((3, 5)))
    assert tape.batch_jacobian(y, other) is None
    zeros = tape.batch_jacobian(y, other, unconnected_gradients="zero")
    assert zeros.shape == (3, 2, 5) and not zeros.numpy().any()


def test_batch_jacobian_is_one_batched_sweep_whose_graph_does_not_grow(tt_backend):
    """All m rows come from one VJP batched over the m cotangents (TensorFlow's pfor): the
    traced graph has the same size for m = 3 and m = 24, values match the analytic
    per-example Jacobian, and an outer tape differentiates the result."""
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((4, 3))

    def bj_and_grad(x, w):
        with tt.GradientTape() as outer:
            outer.watch(x)
            with tt.GradientTape() as tape:
                tape.watch(x)
                y = tt.tanh(tt.matmul(x * x, w))
            bj = tape.batch_jacobian(y, x)
            s = tt.reduce_sum(bj)
        return bj, outer.gradient(s, x)

    fn, sizes = tt.function(bj_and_grad), []
    for m in (3, 24):
        w0 = rng.standard_normal((3, m))
        bj, g = fn(tt.constant(x0), tt.constant(w0))
        t = np.tanh((x0 * x0) @ w0)                                   # (b, m)
        want = (1 - t ** 2)[:, :, None] * w0.T[None] * 2 * x0[:, None, :]
        np.testing.assert_allclose(bj.numpy(), want, rtol=1e-10, atol=1e-12)
        eps, num = 1e-6, np.zeros_like(x0)
        for i in np.ndindex(x0.shape):
            xp, xm = x0.copy(), x0.copy()
            xp[i] += eps
            xm[i] -= eps
            f = [np.sum((1 - np.tanh((z * z) @ w0) ** 2)[:, :, None] * w0.T[None] * 2 *
                        z[:, None, :]) for z in (xp, xm)]
            num[i] = (f[0] - f[1]) / (2 * eps)
        np.testing.assert_allclose(g.numpy(), num, rtol=1e-6, atol=1e-6)
        sizes.append(len(list(fn._entries.values())[-1].graph.nodes))
    assert sizes[0] == sizes[1]
